// Package config reads c2sweep's YAML configuration strictly (unknown keys
// and bad values are errors naming file, line and key), holds the built-in
// hunts, and resolves secrets from the environment, files or commands
// without ever printing them. Flags and their C2SWEEP_* variables are the
// CLI's; this package is the file layer underneath.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"c2sweep/internal/exclude"
	"c2sweep/internal/kql"
	"c2sweep/internal/schema"
	"c2sweep/internal/source"

	"github.com/robfig/cron/v3"
	yaml "go.yaml.in/yaml/v3"
)

// Defaults the file and the CLI fall back to.
const (
	DefaultShodanURL      = "https://api.shodan.io"
	DefaultMaxAge         = Duration(7 * day)
	DefaultLookback       = Duration(30 * day)
	DefaultCreditBudget   = 100
	DefaultMaxIPsPerQuery = 5000
	DefaultIndicatorTTL   = Duration(30 * day)
	DefaultListen         = "127.0.0.1:9464"

	// MaxLookback is how far back advanced hunting keeps data.
	MaxLookback = Duration(30 * day)
	// maxIPsPerQuery is the KQL `in` operator's limit on distinct values.
	maxIPsPerQuery = 1_000_000
	// maxFileSize keeps a wrong --config (a log, a database) from being parsed.
	maxFileSize = 1 << 20
)

// DefaultSource is the source of a hunt that names none: every config
// written before there were other sources keeps working.
const DefaultSource = "shodan"

// Hunt is one hunt (a Shodan search, a ThreatFox window, a feed, ...) and
// what its indicators are swept against.
type Hunt struct {
	Name string `yaml:"name" json:"name"`
	// Source is the registry name of the hunt's source kind (source.Names).
	Source  string       `yaml:"source" json:"source"`
	Query   string       `yaml:"query" json:"query,omitempty"`
	MaxAge  Duration     `yaml:"max_age" json:"max_age"` // servers seen longer ago are stale
	Pages   int          `yaml:"pages" json:"pages"`     // page budget; 0 = all pages
	Enabled bool         `yaml:"enabled" json:"enabled"`
	Sweep   []kql.Target `yaml:"sweep" json:"sweep"`
	// The keys of other sources; configuration validation allows on a
	// hunt only those its kind reads (source.Kind.Fields).
	Days          int      `yaml:"days" json:"days,omitempty"`                     // threatfox: 1-7
	MinConfidence int      `yaml:"min_confidence" json:"min_confidence,omitempty"` // threatfox: 0-100
	Malware       []string `yaml:"malware" json:"malware,omitempty"`               // threatfox
	URL           string   `yaml:"url" json:"url,omitempty"`                       // feed
	Path          string   `yaml:"path" json:"path,omitempty"`                     // feed, shodan-file; resolved against the file's directory
	Format        string   `yaml:"format" json:"format,omitempty"`                 // feed: txt or csv
	Column        string   `yaml:"column" json:"column,omitempty"`                 // feed (csv): the IP column
	Label         string   `yaml:"label" json:"label,omitempty"`                   // feed (csv): the label column
	// Origin says where the hunt was defined, for `c2sweep hunts`:
	// "built-in", "built-in, changed at FILE:LINE" or "FILE:LINE".
	Origin string `yaml:"-" json:"origin,omitempty"`
}

// HuntDefaults apply to every hunt that does not set the field itself,
// built-in hunts included.
type HuntDefaults struct {
	MaxAge  Duration     `yaml:"max_age" json:"max_age"`
	Pages   int          `yaml:"pages" json:"pages"`
	Enabled bool         `yaml:"enabled" json:"enabled"`
	Sweep   []kql.Target `yaml:"sweep" json:"sweep"`
}

// Shodan is how to reach Shodan and how much a run may spend.
type Shodan struct {
	APIKey Secret `yaml:"api_key" json:"api_key"`
	// APIURL is the API root; file value, else SHODAN_API_URL, else DefaultShodanURL.
	APIURL string `yaml:"api_url" json:"api_url"`
	// CreditBudget caps the query credits one run may spend; 0 = no cap
	// beyond what /api-info says is left.
	CreditBudget int `yaml:"credit_budget" json:"credit_budget"`
}

// Sources are the per-source settings (sources: in the file); each key is
// optional. Auth keys default to ABUSECH_AUTH_KEY, URLs to
// THREATFOX_API_URL and FEODO_URL, else the services' own.
type Sources struct {
	ThreatFox ThreatFox `yaml:"threatfox" json:"threatfox"`
	Feodo     Feodo     `yaml:"feodo" json:"feodo"`
}

// ThreatFox is how to reach the ThreatFox API.
type ThreatFox struct {
	AuthKey Secret `yaml:"auth_key" json:"auth_key"`
	APIURL  string `yaml:"api_url" json:"api_url"`
}

// Feodo is where Feodo Tracker's JSON blocklist is.
type Feodo struct {
	AuthKey Secret `yaml:"auth_key" json:"auth_key"`
	URL     string `yaml:"url" json:"url"`
}

// Sweep is how hunts' indicators are swept in Defender.
type Sweep struct {
	API    string `yaml:"api" json:"api"`         // "graph" or "mde"
	APIURL string `yaml:"api_url" json:"api_url"` // "" = the cloud's host for the API
	// Cloud is the implicit target's cloud: public ("" too), usgov,
	// usgov-dod or china (hunting.LookupCloud).
	Cloud          string   `yaml:"cloud" json:"cloud,omitempty"`
	Lookback       Duration `yaml:"lookback" json:"lookback"`
	MaxIPsPerQuery int      `yaml:"max_ips_per_query" json:"max_ips_per_query"`
}

// Azure is the Entra ID sign-in. Empty fields are filled from the standard
// AZURE_* variables at load time.
type Azure struct {
	// Auth is auto, client-secret, certificate, managed-identity,
	// workload-identity or azure-cli. auto: a client secret if one is set,
	// else a certificate if one is set, else azidentity's default chain.
	Auth                string `yaml:"auth" json:"auth"`
	TenantID            string `yaml:"tenant_id" json:"tenant_id"`
	ClientID            string `yaml:"client_id" json:"client_id"`
	ClientSecret        Secret `yaml:"client_secret" json:"client_secret"`
	CertificatePath     string `yaml:"certificate_path" json:"certificate_path"`
	CertificatePassword Secret `yaml:"certificate_password" json:"certificate_password"`
	AuthorityHost       string `yaml:"authority_host" json:"authority_host"`
}

// AuthModes are the accepted values of azure.auth.
var AuthModes = []string{"auto", "client-secret", "certificate", "managed-identity", "workload-identity", "azure-cli"}

// State is where c2sweep remembers indicators, hits and runs.
type State struct {
	Path         string   `yaml:"path" json:"path"` // "" = DefaultStatePath()
	IndicatorTTL Duration `yaml:"indicator_ttl" json:"indicator_ttl"`
}

// Notify is one target for new-hit alerts.
type Notify struct {
	Name      string `yaml:"name" json:"name"`
	Type      string `yaml:"type" json:"type"` // teams, slack or webhook
	URL       Secret `yaml:"url" json:"url"`   // webhook URLs carry their own credential
	Heartbeat bool   `yaml:"heartbeat" json:"heartbeat"`
}

// NotifyTypes are the accepted values of notify[].type.
var NotifyTypes = []string{"teams", "slack", "webhook"}

// Health is how hunts are judged by their last runs (c2sweep hunts --health).
type Health struct {
	// SilentRuns: a hunt that returned nothing this many runs in a row
	// warns (summary, /metrics, alerts), once.
	SilentRuns int `yaml:"silent_runs" json:"silent_runs"`
}

// DefaultSilentRuns is health.silent_runs when the file does not set it.
const DefaultSilentRuns = 7

// Serve is the schedule of the long-running service.
type Serve struct {
	Schedule string   `yaml:"schedule" json:"schedule"` // cron, 5 fields or @daily
	Every    Duration `yaml:"every" json:"every"`
	Listen   string   `yaml:"listen" json:"listen"` // /healthz and /metrics
}

// Config is the effective configuration: the file over the defaults, with
// empty fields filled from the standard environment variables.
type Config struct {
	// File is the file loaded; "" for Default().
	File         string       `yaml:"-" json:"file,omitempty"`
	BuiltinHunts bool         `yaml:"builtin_hunts" json:"builtin_hunts"`
	Defaults     HuntDefaults `yaml:"defaults" json:"defaults"`
	// Hunts are the effective hunts, enabled or not: the built-ins (changed
	// in place by the file) then the file's own, in file order.
	Hunts []Hunt `yaml:"hunts" json:"hunts"`
	// Catalog is what the file picked of the built-in catalog; its
	// hunts are in Hunts, after the configured ones.
	Catalog CatalogChoice `yaml:"catalog" json:"catalog"`
	Sources Sources       `yaml:"sources" json:"sources"`
	Health  Health        `yaml:"health" json:"health"`
	Shodan  Shodan        `yaml:"shodan" json:"shodan"`
	Sweep   Sweep         `yaml:"sweep" json:"sweep"`
	Azure   Azure         `yaml:"azure" json:"azure"`
	State   State         `yaml:"state" json:"state"`
	Notify  []Notify      `yaml:"notify" json:"notify"`
	Serve   Serve         `yaml:"serve" json:"serve"`
	Push    Push          `yaml:"push" json:"push"`
	Stix    Stix          `yaml:"stix" json:"stix"`
	// Exclusions and Exclude are the IPs never swept: published CDN
	// ranges (on unless cdn: false) and the user's own CIDRs and IPs.
	Exclusions Exclusions `yaml:"exclusions" json:"exclusions"`
	Exclude    []string   `yaml:"exclude" json:"exclude,omitempty"`
	// Targets are the sweep targets as listed in the file (names, backends
	// and clouds checked, defaults filled; azure: as written); empty when
	// none is listed. SweepTargets is the effective list.
	Targets []Target `yaml:"targets" json:"targets,omitempty"`
}

// Exclusions chooses the published ranges whose IPs the pipeline drops.
type Exclusions struct {
	CDN bool `yaml:"cdn" json:"cdn"` // CDNs and shared front ends (default true)
}

// fileHunt is a hunt as written: nil fields are not set and are inherited
// from the built-in of the same name or from defaults.
type fileHunt struct {
	Name          *string      `yaml:"name"`
	Source        *string      `yaml:"source"`
	Query         *string      `yaml:"query"`
	MaxAge        *Duration    `yaml:"max_age"`
	Pages         *int         `yaml:"pages"`
	Enabled       *bool        `yaml:"enabled"`
	Sweep         []kql.Target `yaml:"sweep"`
	Days          *int         `yaml:"days"`
	MinConfidence *int         `yaml:"min_confidence"`
	Malware       []string     `yaml:"malware"`
	URL           *string      `yaml:"url"`
	Path          *string      `yaml:"path"`
	Format        *string      `yaml:"format"`
	Column        *string      `yaml:"column"`
	Label         *string      `yaml:"label"`
}

// commonHuntKeys are the keys every hunt may set, whatever its source.
var commonHuntKeys = []string{"name", "source", "max_age", "enabled", "sweep"}

// fileConfig is the file's schema; it starts from the defaults so that
// what the file leaves out keeps its default.
type fileConfig struct {
	BuiltinHunts bool          `yaml:"builtin_hunts"`
	Defaults     HuntDefaults  `yaml:"defaults"`
	Hunts        []fileHunt    `yaml:"hunts"`
	Catalog      CatalogChoice `yaml:"catalog"`
	Health       Health        `yaml:"health"`
	Sources      Sources       `yaml:"sources"`
	Shodan       Shodan        `yaml:"shodan"`
	Sweep        Sweep         `yaml:"sweep"`
	Azure        Azure         `yaml:"azure"`
	State        State         `yaml:"state"`
	Notify       []Notify      `yaml:"notify"`
	Serve        Serve         `yaml:"serve"`
	Push         Push          `yaml:"push"`
	Stix         Stix          `yaml:"stix"`
	Exclusions   Exclusions    `yaml:"exclusions"`
	Exclude      []string      `yaml:"exclude"`
	Targets      []Target      `yaml:"targets"`
}

func defaultFile() fileConfig {
	return fileConfig{
		BuiltinHunts: true,
		Defaults: HuntDefaults{
			MaxAge:  DefaultMaxAge,
			Enabled: true,
			Sweep:   []kql.Target{kql.DefaultTarget},
		},
		Shodan: Shodan{CreditBudget: DefaultCreditBudget},
		Health: Health{SilentRuns: DefaultSilentRuns},
		Sweep:  Sweep{API: "graph", Cloud: "public", Lookback: DefaultLookback, MaxIPsPerQuery: DefaultMaxIPsPerQuery},
		Azure:  Azure{Auth: "auto"},
		State:  State{IndicatorTTL: DefaultIndicatorTTL},
		Serve:  Serve{Listen: DefaultListen},
		// A CDN edge address is every customer's: never sweep it unless asked.
		Exclusions: Exclusions{CDN: true},
	}
}

// Default is the configuration without a file: the built-in hunts and the
// environment (SHODAN_API_KEY or the Shodan CLI's key file, SHODAN_API_URL,
// AZURE_*).
func Default() *Config {
	w := newWalker("")
	return w.build(defaultFile())
}

// Load reads the config file at path; "" means Default(). Warnings are
// things that work but should not stay (a secret written in the file, a
// secret file others can read, metrics listening beyond loopback).
// The error is Errors when the file has problems, listing all of them.
func Load(path string) (*Config, Errors, error) {
	if path == "" {
		// No file, but the environment's values are checked all the same.
		w := newWalker("")
		cfg := w.build(defaultFile())
		if len(w.errs) > 0 {
			return nil, w.warnings, w.sorted()
		}
		return cfg, w.warnings, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, errNoPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, errNoPath(err))
	}
	if len(data) > maxFileSize {
		return nil, nil, fmt.Errorf("config %s: larger than %d KiB; is it the right file?", path, maxFileSize>>10)
	}
	return parse(path, data)
}

// Parse reads a config from memory; name is used in messages and as the
// base for relative paths.
func Parse(name string, data []byte) (*Config, Errors, error) {
	return parse(name, data)
}

func parse(name string, data []byte) (*Config, Errors, error) {
	w := newWalker(name)
	fc := defaultFile()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	// The walker below enforces known keys itself, with the key's path and
	// a hint; KnownFields stays on so no other decode of this document can
	// be lax.
	dec.KnownFields(true)
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		// An empty file (or comments only) is the defaults.
	case err != nil:
		return nil, nil, Errors{syntaxError(name, data, err)}
	default:
		var next yaml.Node
		switch err := dec.Decode(&next); {
		case errors.Is(err, io.EOF):
		case err != nil:
			return nil, nil, Errors{syntaxError(name, data, err)}
		default:
			if len(next.Content) > 0 && !isNull(next.Content[0]) {
				w.fail(next.Line, "", "a second YAML document; c2sweep reads one", "remove the --- line and merge the two")
			}
		}
		if len(doc.Content) > 0 {
			w.decodeStruct(doc.Content[0], reflectValue(&fc), "")
		}
	}
	cfg := w.build(fc)
	if len(w.errs) > 0 {
		return nil, w.warnings, w.sorted()
	}
	cfg.File = name
	return cfg, w.warnings, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML parser error into FILE:LINE: text, and names a
// tab in indentation, YAML's most common trap, plainly.
func syntaxError(name string, data []byte, err error) *Error {
	for i, line := range strings.Split(string(data), "\n") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		if strings.Contains(indent, "\t") {
			return &Error{File: name, Line: i + 1, Msg: "tab in indentation", Hint: "YAML indents with spaces only"}
		}
	}
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		// yaml counts some parser errors from 0: the line is "near", not exact.
		return &Error{File: name, Line: line, Msg: "bad YAML near here: " + m[2]}
	}
	// The parser leaves the line out when the problem is on line 1.
	return &Error{File: name, Line: 1, Msg: "bad YAML near here: " + strings.TrimPrefix(msg, "yaml: ")}
}

var huntName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// reservedNames would collide with the run's other output files.
var reservedNames = []string{"summary"}

// build validates the decoded file and turns it into the effective Config.
func (w *walker) build(fc fileConfig) *Config {
	cfg := &Config{
		BuiltinHunts: fc.BuiltinHunts,
		Defaults:     fc.Defaults,
		Sources:      fc.Sources,
		Shodan:       fc.Shodan,
		Sweep:        fc.Sweep,
		Azure:        fc.Azure,
		State:        fc.State,
		Notify:       fc.Notify,
		Serve:        fc.Serve,
		Exclusions:   fc.Exclusions,
		Exclude:      fc.Exclude,
		Health:       fc.Health,
		Push:         fc.Push,
		Stix:         fc.Stix,
		Targets:      fc.Targets,
	}
	w.checkDefaults(&cfg.Defaults)
	cfg.Hunts = w.addCatalog(w.mergeHunts(fc), fc.Catalog, fc.Defaults)
	cfg.Catalog = fc.Catalog
	w.checkSections(cfg)
	fromEnv := fillFromEnv(cfg)
	w.checkSweepTargets(cfg)
	w.checkPush(cfg)
	for _, v := range fromEnv {
		// A variable is checked like the file: it names itself.
		if msg, hint := urlProblem(*v.value); msg != "" {
			w.errs = append(w.errs, &Error{File: "environment", Key: v.name, Msg: msg, Hint: hint})
		}
	}
	return cfg
}

func (w *walker) checkDefaults(d *HuntDefaults) {
	if d.MaxAge <= 0 {
		w.fail(w.lines["defaults.max_age"], "defaults.max_age", "must be more than 0", "e.g. 7d")
	}
	if d.Pages < 0 {
		w.fail(w.lines["defaults.pages"], "defaults.pages", "must be 0 (all pages) or more", "")
	}
	w.checkTargets(d.Sweep, "defaults.sweep")
}

func (w *walker) checkTargets(ts []kql.Target, path string) {
	if ts != nil && len(ts) == 0 {
		w.fail(w.lines[path], path, "empty: nothing to sweep", "list at least one Table.Column, or set enabled: false to skip a hunt")
		return
	}
	for i, t := range ts {
		p := fmt.Sprintf("%s[%d]", path, i)
		if err := schema.CheckTarget(t.Table, t.Column); err != nil {
			w.fail(w.lines[p], p, err.Error(), targetHint(t))
			continue
		}
		if slices.Index(ts, t) < i {
			w.fail(w.lines[p], p, t.String()+" is listed twice", "")
		}
	}
}

// targetHint suggests the nearest known table or IP column.
func targetHint(t kql.Target) string {
	tab, ok := schema.Lookup(t.Table)
	if !ok {
		if n := nearest(t.Table, schema.Names()); n != "" {
			return "did you mean " + n + "?"
		}
		return ""
	}
	if n := nearest(t.Column, tab.IPColumns); n != "" {
		return "did you mean " + t.Table + "." + n + "?"
	}
	return ""
}

// Nearest is the option closest to s, ignoring case, or "" when none is
// close enough to suggest: every "did you mean" of c2sweep comes from it.
func Nearest(s string, options []string) string { return nearest(s, options) }

func nearest(s string, options []string) string {
	best, bestD := "", 1<<30
	for _, o := range options {
		if d := editDistance(strings.ToLower(s), strings.ToLower(o)); d < bestD {
			best, bestD = o, d
		}
	}
	if bestD <= max(2, len(s)/3) {
		return best
	}
	return ""
}

func (w *walker) mergeHunts(fc fileConfig) []Hunt {
	var hunts []Hunt
	byName := map[string]int{} // lower-case name -> index in hunts
	if fc.BuiltinHunts {
		for _, b := range Builtins() {
			byName[strings.ToLower(b.Name)] = len(hunts)
			hunts = append(hunts, withDefaults(b, fc.Defaults))
		}
	}
	builtinCount := len(hunts)
	firstUse := map[string]string{} // lower-case name -> path of the file hunt
	for i, fh := range fc.Hunts {
		path := fmt.Sprintf("hunts[%d]", i)
		line := w.lines[path]
		if fh.Name == nil || *fh.Name == "" {
			w.fail(line, path+".name", "missing", "every hunt needs a name (letters, digits, - and _)")
			continue
		}
		name := *fh.Name
		np := path + ".name"
		if !huntName.MatchString(name) {
			w.fail(w.lines[np], np, fmt.Sprintf("%q may use only letters, digits, - and _ (at most 64)", name), "the name becomes a file name, <hunt>.json")
			continue
		}
		lower := strings.ToLower(name)
		if slices.Contains(reservedNames, lower) {
			w.fail(w.lines[np], np, fmt.Sprintf("%q is reserved (%s.json is the run summary)", name, lower), "choose another name")
			continue
		}
		if prev, dup := firstUse[lower]; dup {
			w.fail(w.lines[np], np, fmt.Sprintf("%q is already used by %s (line %d)", name, prev, w.lines[prev+".name"]), "names are compared ignoring case, since they become file names")
			continue
		}
		firstUse[lower] = path
		origin := fmt.Sprintf("%s:%d", w.file, line)
		j, isBuiltin := byName[lower]
		if isBuiltin && j < builtinCount {
			h := &hunts[j]
			if h.Name != name {
				w.fail(w.lines[np], np, fmt.Sprintf("%q differs from the built-in hunt %q only in case", name, h.Name), "write "+h.Name+" to change the built-in, or choose another name")
				continue
			}
			h.Origin = "built-in, changed at " + origin
			w.applyHunt(h, fh, path)
			continue
		}
		h := withDefaults(Hunt{Name: name}, fc.Defaults)
		h.Origin = origin
		if fh.Query == nil && (fh.Source == nil || *fh.Source == DefaultSource) {
			hint := "the Shodan search, e.g. 'product:\"Sliver\"'"
			if !fc.BuiltinHunts && isBuiltinName(name) {
				hint = "builtin_hunts is false, so " + name + " does not inherit the built-in query"
			}
			w.fail(line, path+".query", "missing", hint)
		}
		w.applyHunt(&h, fh, path)
		byName[lower] = len(hunts)
		hunts = append(hunts, h)
	}
	return hunts
}

func withDefaults(h Hunt, d HuntDefaults) Hunt {
	if h.Source == "" {
		h.Source = DefaultSource
	}
	h.MaxAge = d.MaxAge
	h.Pages = d.Pages
	h.Enabled = d.Enabled
	h.Sweep = slices.Clone(d.Sweep)
	if h.Origin == "" && h.Query != "" {
		h.Origin = "built-in"
	}
	return h
}

// applyHunt sets what the file sets and checks it where it is written.
func (w *walker) applyHunt(h *Hunt, fh fileHunt, path string) {
	if fh.Source != nil {
		h.Source = strings.TrimSpace(*fh.Source)
		if h.Source != DefaultSource && fh.Query == nil {
			h.Query = "" // a built-in turned into another source's hunt keeps no Shodan query
		}
	}
	w.applySourceKeys(h, fh, path)
	if fh.Query != nil {
		q := strings.TrimSpace(*fh.Query)
		if q == "" {
			w.fail(w.lines[path+".query"], path+".query", "empty", "the Shodan search, e.g. 'product:\"Sliver\"'")
		}
		h.Query = q
	}
	if fh.MaxAge != nil {
		if *fh.MaxAge <= 0 {
			w.fail(w.lines[path+".max_age"], path+".max_age", "must be more than 0", "e.g. 7d")
		}
		h.MaxAge = *fh.MaxAge
	}
	if fh.Pages != nil {
		if *fh.Pages < 0 {
			w.fail(w.lines[path+".pages"], path+".pages", "must be 0 (all pages) or more", "")
		}
		h.Pages = *fh.Pages
	}
	if fh.Enabled != nil {
		h.Enabled = *fh.Enabled
	}
	if fh.Sweep != nil {
		w.checkTargets(fh.Sweep, path+".sweep")
		h.Sweep = slices.Clone(fh.Sweep)
	}
}

// applySourceKeys sets the keys of the hunt's source and checks, through
// the source registry, that the hunt names a known source and sets only
// keys that source reads.
func (w *walker) applySourceKeys(h *Hunt, fh fileHunt, path string) {
	set := func(key string) (int, bool) {
		line, ok := w.lines[path+"."+key]
		return line, ok
	}
	kind, err := source.Lookup(h.Source)
	if err != nil {
		line, _ := set("source")
		names := source.Names()
		hint := hintFor(h.Source, names)
		if hint == "" {
			hint = "one of " + strings.Join(names, ", ")
		} else {
			hint += " (one of " + strings.Join(names, ", ") + ")"
		}
		w.fail(line, path+".source", fmt.Sprintf("unknown source %q", h.Source), hint)
		return
	}
	_, keys := fieldsOf(reflect.TypeFor[fileHunt]())
	for _, key := range keys {
		line, ok := set(key)
		if !ok || slices.Contains(commonHuntKeys, key) || slices.Contains(kind.Fields, key) {
			continue
		}
		hint := "source " + kind.Name + " reads " + strings.Join(append(slices.Clone(commonHuntKeys), kind.Fields...), ", ")
		if others := kindsReading(key); len(others) > 0 {
			hint = key + " belongs to a hunt with source: " + strings.Join(others, " or ")
		}
		w.fail(line, path+"."+key, "not a key of source "+kind.Name, hint)
	}
	if fh.Days != nil {
		if *fh.Days < 1 || *fh.Days > 7 {
			w.fail(w.lines[path+".days"], path+".days", fmt.Sprintf("%d is not between 1 and 7", *fh.Days), "ThreatFox serves the last 7 days at most")
		}
		h.Days = *fh.Days
	}
	if fh.MinConfidence != nil {
		if *fh.MinConfidence < 0 || *fh.MinConfidence > 100 {
			w.fail(w.lines[path+".min_confidence"], path+".min_confidence", fmt.Sprintf("%d is not between 0 and 100", *fh.MinConfidence), "")
		}
		h.MinConfidence = *fh.MinConfidence
	}
	if fh.Malware != nil {
		h.Malware = nil
		for i, m := range fh.Malware {
			if m = strings.TrimSpace(m); m == "" {
				k := fmt.Sprintf("%s.malware[%d]", path, i)
				w.fail(w.lines[k], k, "empty", "a Malpedia id (win.cobalt_strike) or a printable name (Cobalt Strike)")
				continue
			}
			h.Malware = append(h.Malware, m)
		}
	}
	if fh.URL != nil {
		h.URL = strings.TrimSpace(*fh.URL)
		w.checkURL(h.URL, path+".url")
	}
	if fh.Path != nil {
		h.Path = strings.TrimSpace(*fh.Path)
		if h.Path != "" {
			h.Path = w.resolvePath(h.Path)
		}
	}
	if fh.Format != nil {
		h.Format = strings.ToLower(strings.TrimSpace(*fh.Format))
		if h.Format != "txt" && h.Format != "csv" {
			w.fail(w.lines[path+".format"], path+".format", fmt.Sprintf("%q is not txt or csv", *fh.Format), hintFor(h.Format, []string{"txt", "csv"}))
		}
	}
	if fh.Column != nil {
		h.Column = strings.TrimSpace(*fh.Column)
	}
	if fh.Label != nil {
		h.Label = strings.TrimSpace(*fh.Label)
	}
	// Where the items are: a kind that reads url or path needs one of them.
	reads := func(k string) bool { return slices.Contains(kind.Fields, k) }
	switch {
	case reads("url") && reads("path"):
		if (h.URL == "") == (h.Path == "") {
			line, _ := set("url")
			if l, ok := set("path"); ok && line == 0 {
				line = l
			}
			if line == 0 {
				line = w.lines[path]
			}
			w.fail(line, path+".url", "set either url or path", "url: https://... for a published feed, path: ./feeds/ips.txt for a local file")
		}
	case reads("path") && h.Path == "":
		w.fail(w.lines[path], path+".path", "missing", "a file or a glob, e.g. ./downloads/*.json.gz")
	}
}

// kindsReading names the source kinds that read a hunt key.
func kindsReading(key string) []string {
	var out []string
	for _, n := range source.Names() {
		if k, err := source.Lookup(n); err == nil && slices.Contains(k.Fields, key) {
			out = append(out, n)
		}
	}
	return out
}

// UsesSource reports whether an enabled hunt reads the source kind.
func UsesSource(hunts []Hunt, kind string) bool {
	return slices.ContainsFunc(hunts, func(h Hunt) bool { return h.Source == kind })
}

func (w *walker) checkSections(c *Config) {
	for i, e := range c.Exclude {
		p := fmt.Sprintf("exclude[%d]", i)
		if _, err := exclude.ParseUser([]string{e}); err != nil {
			w.fail(w.lines[p], p, err.Error(), "write an IP (203.0.113.7) or a network (203.0.113.0/24)")
		}
	}
	if c.Health.SilentRuns < 1 {
		w.fail(w.lines["health.silent_runs"], "health.silent_runs", "must be 1 or more", "e.g. 7")
	}
	if c.Shodan.CreditBudget < 0 {
		w.fail(w.lines["shodan.credit_budget"], "shodan.credit_budget", "must be 0 (no cap) or more", "")
	}
	w.checkURL(c.Shodan.APIURL, "shodan.api_url")
	w.checkURL(c.Sources.ThreatFox.APIURL, "sources.threatfox.api_url")
	w.checkURL(c.Sources.Feodo.URL, "sources.feodo.url")
	if !slices.Contains([]string{"graph", "mde"}, c.Sweep.API) {
		hint := "graph is Microsoft Graph runHuntingQuery; mde is the legacy Defender for Endpoint API"
		if strings.EqualFold(c.Sweep.API, "sentinel") {
			hint = "a Sentinel workspace is a target: list it under targets: with backend: sentinel and its workspace_id"
		}
		w.fail(w.lines["sweep.api"], "sweep.api", fmt.Sprintf("%q is not graph or mde", c.Sweep.API), hint)
	}
	w.checkURL(c.Sweep.APIURL, "sweep.api_url")
	if c.Sweep.Lookback <= 0 {
		w.fail(w.lines["sweep.lookback"], "sweep.lookback", "must be more than 0", "e.g. 30d")
	} else if c.Sweep.Lookback > MaxLookback {
		w.fail(w.lines["sweep.lookback"], "sweep.lookback", c.Sweep.Lookback.String()+" is longer than the 30 days advanced hunting keeps", "use 30d or less")
	}
	if n := c.Sweep.MaxIPsPerQuery; n < 1 || n > maxIPsPerQuery {
		w.fail(w.lines["sweep.max_ips_per_query"], "sweep.max_ips_per_query", fmt.Sprintf("%d is not between 1 and %d", n, maxIPsPerQuery), "")
	}
	if !slices.Contains(AuthModes, c.Azure.Auth) {
		w.fail(w.lines["azure.auth"], "azure.auth", fmt.Sprintf("%q is not one of %s", c.Azure.Auth, strings.Join(AuthModes, ", ")), hintFor(c.Azure.Auth, AuthModes))
	}
	w.checkURL(c.Azure.AuthorityHost, "azure.authority_host")
	if c.Azure.CertificatePath != "" {
		c.Azure.CertificatePath = w.resolvePath(c.Azure.CertificatePath)
	}
	if c.State.Path != "" {
		c.State.Path = w.resolvePath(c.State.Path)
	}
	if c.State.IndicatorTTL <= 0 {
		w.fail(w.lines["state.indicator_ttl"], "state.indicator_ttl", "must be more than 0", "e.g. 30d")
	}
	seen := map[string]string{}
	for i, n := range c.Notify {
		p := fmt.Sprintf("notify[%d]", i)
		switch {
		case n.Name == "":
			w.fail(w.lines[p], p+".name", "missing", "a short label such as soc")
		case !huntName.MatchString(n.Name):
			w.fail(w.lines[p+".name"], p+".name", fmt.Sprintf("%q may use only letters, digits, - and _", n.Name), "")
		default:
			if prev, dup := seen[n.Name]; dup {
				w.fail(w.lines[p+".name"], p+".name", fmt.Sprintf("%q is already used by %s", n.Name, prev), "")
			}
			seen[n.Name] = p
		}
		if !slices.Contains(NotifyTypes, n.Type) {
			line := w.lines[p+".type"]
			if line == 0 {
				line = w.lines[p]
			}
			w.fail(line, p+".type", fmt.Sprintf("%q is not one of %s", n.Type, strings.Join(NotifyTypes, ", ")), hintFor(n.Type, NotifyTypes))
		}
		if !n.URL.IsSet() {
			w.fail(w.lines[p], p+".url", "missing", "e.g. url: {env: TEAMS_WEBHOOK_URL}")
		}
	}
	if s := c.Serve.Schedule; s != "" {
		if _, err := cron.ParseStandard(s); err != nil {
			w.fail(w.lines["serve.schedule"], "serve.schedule", fmt.Sprintf("%q is not a cron schedule: %v", s, err), `five fields "minute hour day month weekday", e.g. "0 6 * * *", or @daily`)
		}
		if c.Serve.Every != 0 {
			w.fail(w.lines["serve.every"], "serve.every", "set either schedule or every, not both", "")
		}
	}
	if c.Serve.Every != 0 && c.Serve.Every < Duration(time.Minute) {
		w.fail(w.lines["serve.every"], "serve.every", c.Serve.Every.String()+" is shorter than a minute", "sweeps are rate limited; e.g. every: 24h")
	}
	if c.Serve.Listen != "" {
		host, port, err := net.SplitHostPort(c.Serve.Listen)
		if err != nil || port == "" {
			w.fail(w.lines["serve.listen"], "serve.listen", fmt.Sprintf("%q is not host:port", c.Serve.Listen), "e.g. 127.0.0.1:9464")
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			w.warn(w.lines["serve.listen"], "serve.listen", fmt.Sprintf("%s is reachable beyond this host; /metrics shows hunt names and counts", c.Serve.Listen), "")
		}
	}
}

func hintFor(v string, options []string) string {
	if n := nearest(v, options); n != "" && v != "" {
		return "did you mean " + n + "?"
	}
	return ""
}

// checkURL insists on https: TLS is never turned off, a private endpoint
// is trusted through its CA instead.
func (w *walker) checkURL(s, key string) {
	if msg, hint := urlProblem(s); msg != "" {
		w.fail(w.lines[key], key, msg, hint)
	}
}

// CheckURL is the one check of an API root, wherever it came from (file,
// environment, flag): an absolute https URL without credentials. The
// error says what is wrong and what to do, not where the value came
// from: the caller adds that.
func CheckURL(s string) error {
	if msg, hint := urlProblem(s); msg != "" {
		return &Error{Msg: msg, Hint: hint}
	}
	return nil
}

func urlProblem(s string) (msg, hint string) {
	if s == "" {
		return "", ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Sprintf("%q is not a URL", s), "e.g. https://api.example.net"
	case u.Scheme != "https":
		return fmt.Sprintf("%q is not https", s), "TLS is never turned off; trust a private CA with SSL_CERT_FILE"
	case u.User != nil:
		return "credentials in the URL", "put credentials in a secret, not in the URL"
	}
	return "", ""
}

// fillFromEnv fills what the file left empty from the standard variables.
// The file wins: AZURE_* variables are often set for other tools, while a
// value in the c2sweep file was written for c2sweep. Flags (C2SWEEP_*)
// are applied by the CLI on top of this.
// It returns the API roots it took from the environment, to be checked.
func fillFromEnv(c *Config) (urls []envURL) {
	if !c.Shodan.APIKey.IsSet() {
		c.Shodan.APIKey = defaultShodanKey()
	}
	c.Shodan.APIKey.key = "shodan.api_key"
	if c.Shodan.APIURL == "" {
		c.Shodan.APIURL = os.Getenv("SHODAN_API_URL")
		urls = append(urls, envURL{"SHODAN_API_URL", &c.Shodan.APIURL})
	}
	if c.Shodan.APIURL == "" {
		c.Shodan.APIURL = DefaultShodanURL
	}
	for _, a := range []*Secret{&c.Sources.ThreatFox.AuthKey, &c.Sources.Feodo.AuthKey} {
		if !a.IsSet() && os.Getenv("ABUSECH_AUTH_KEY") != "" {
			*a = EnvSecret("ABUSECH_AUTH_KEY")
		}
	}
	c.Sources.ThreatFox.AuthKey.key = "sources.threatfox.auth_key"
	c.Sources.Feodo.AuthKey.key = "sources.feodo.auth_key"
	if c.Sources.ThreatFox.APIURL == "" {
		c.Sources.ThreatFox.APIURL = os.Getenv("THREATFOX_API_URL")
		urls = append(urls, envURL{"THREATFOX_API_URL", &c.Sources.ThreatFox.APIURL})
	}
	if c.Sources.Feodo.URL == "" {
		c.Sources.Feodo.URL = os.Getenv("FEODO_URL")
		urls = append(urls, envURL{"FEODO_URL", &c.Sources.Feodo.URL})
	}
	fill := func(dst *string, env string) {
		if *dst == "" {
			*dst = os.Getenv(env)
		}
	}
	fill(&c.Azure.TenantID, "AZURE_TENANT_ID")
	fill(&c.Azure.ClientID, "AZURE_CLIENT_ID")
	fill(&c.Azure.CertificatePath, "AZURE_CLIENT_CERTIFICATE_PATH")
	if c.Azure.AuthorityHost == "" {
		fill(&c.Azure.AuthorityHost, "AZURE_AUTHORITY_HOST")
		urls = append(urls, envURL{"AZURE_AUTHORITY_HOST", &c.Azure.AuthorityHost})
	}
	if !c.Azure.ClientSecret.IsSet() && os.Getenv("AZURE_CLIENT_SECRET") != "" {
		c.Azure.ClientSecret = EnvSecret("AZURE_CLIENT_SECRET")
	}
	if !c.Azure.CertificatePassword.IsSet() && os.Getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD") != "" {
		c.Azure.CertificatePassword = EnvSecret("AZURE_CLIENT_CERTIFICATE_PASSWORD")
	}
	c.Azure.ClientSecret.key = "azure.client_secret"
	c.Azure.CertificatePassword.key = "azure.certificate_password"
	for i := range c.Notify {
		c.Notify[i].URL.key = fmt.Sprintf("notify[%d].url", i)
	}
	return urls
}

type envURL struct {
	name  string
	value *string
}

// defaultShodanKey is SHODAN_API_KEY, then the key file the official
// Shodan CLI writes (`shodan init`), new location first.
func defaultShodanKey() Secret {
	chain := []Secret{EnvSecret("SHODAN_API_KEY")}
	if home, err := os.UserHomeDir(); err == nil {
		chain = append(chain,
			FileSecret(filepath.Join(home, ".config", "shodan", "api_key")),
			FileSecret(filepath.Join(home, ".shodan", "api_key")))
	}
	return firstOf(chain...)
}

// DefaultStatePath is $XDG_STATE_HOME/c2sweep/state.db, else
// ~/.local/state/c2sweep/state.db.
func DefaultStatePath() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "c2sweep", "state.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", &Error{Msg: "no state path: " + err.Error(), Hint: "set state.path or --state"}
	}
	return filepath.Join(home, ".local", "state", "c2sweep", "state.db"), nil
}

// EnabledHunts returns copies of the hunts to run, in order.
func (c *Config) EnabledHunts() []Hunt {
	var out []Hunt
	for _, h := range c.Hunts {
		if h.Enabled {
			h.Sweep = slices.Clone(h.Sweep)
			out = append(out, h)
		}
	}
	return out
}

// Hunt returns the effective hunt with that name (enabled or not).
func (c *Config) Hunt(name string) (Hunt, bool) {
	for _, h := range c.Hunts {
		if h.Name == name {
			h.Sweep = slices.Clone(h.Sweep)
			return h, true
		}
	}
	return Hunt{}, false
}

// SetMaxAge sets the max age of every hunt (a --max-age flag beats the file).
func (c *Config) SetMaxAge(d Duration) {
	c.Defaults.MaxAge = d
	for i := range c.Hunts {
		c.Hunts[i].MaxAge = d
	}
}

// Fingerprint is a stable hash of what decides a sweep's results: the
// enabled hunts, the sweep settings and the targets (where, which tenant,
// which columns). No secrets, no paths, no
// schedules. It lets the runs table tell when the configuration changed.
func (c *Config) Fingerprint() string {
	type fpTarget struct {
		Name, Backend, Cloud, APIURL, Workspace, Tenant string
		Sweep                                           []string
	}
	type fpHunt struct {
		Name, Query string
		MaxAge      int64
		Pages       int
		Sweep       []string
		// A Shodan hunt's fingerprint is what it was before other sources.
		Source              string   `json:",omitempty"`
		Days, MinConfidence int      `json:",omitempty"`
		Malware             []string `json:",omitempty"`
		URL, Path, Format   string   `json:",omitempty"`
		Column, Label       string   `json:",omitempty"`
	}
	material := struct {
		V              int
		Hunts          []fpHunt
		API, APIURL    string
		Lookback       int64
		MaxIPsPerQuery int
		// Added with targets, empty before them: the fingerprint of an
		// older config does not change.
		Cloud   string     `json:",omitempty"`
		Targets []fpTarget `json:",omitempty"`
	}{V: 1, API: c.Sweep.API, APIURL: c.Sweep.APIURL, Lookback: int64(c.Sweep.Lookback), MaxIPsPerQuery: c.Sweep.MaxIPsPerQuery}
	if c.Sweep.Cloud != "" && c.Sweep.Cloud != "public" {
		material.Cloud = c.Sweep.Cloud
	}
	if len(c.Targets) > 0 {
		for _, t := range c.SweepTargets() {
			f := fpTarget{Name: t.Name, Backend: t.Backend, Cloud: t.Cloud, APIURL: t.APIURL,
				Workspace: strings.ToLower(t.WorkspaceID), Tenant: strings.ToLower(t.Azure.TenantID)}
			for _, tg := range t.Sweep {
				f.Sweep = append(f.Sweep, tg.String())
			}
			material.Targets = append(material.Targets, f)
		}
	}
	for _, h := range c.EnabledHunts() {
		f := fpHunt{Name: h.Name, Query: h.Query, MaxAge: int64(h.MaxAge), Pages: h.Pages,
			Days: h.Days, MinConfidence: h.MinConfidence, Malware: h.Malware, URL: h.URL, Path: h.Path,
			Format: h.Format, Column: h.Column, Label: h.Label}
		if h.Source != DefaultSource {
			f.Source = h.Source
		}
		for _, t := range h.Sweep {
			f.Sweep = append(f.Sweep, t.String())
		}
		material.Hunts = append(material.Hunts, f)
	}
	b, err := json.Marshal(material)
	if err != nil {
		panic("config: fingerprint: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
