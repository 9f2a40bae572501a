package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "c2sweep/internal/source/all" // the registry validation reads
)

// A hunt without source: is a Shodan search, as every config before there
// were other sources; the fingerprint of such a config does not change.
func TestHuntSourceDefaultsToShodan(t *testing.T) {
	cfg, _ := mustParse(t, "builtin_hunts: false\nhunts:\n  - name: A\n    query: 'product:\"x\"'\n")
	h, _ := cfg.Hunt("A")
	if h.Source != "shodan" {
		t.Errorf("source %q, want shodan", h.Source)
	}
	for _, b := range cfg.Hunts {
		if b.Source != "shodan" {
			t.Errorf("%s: source %q", b.Name, b.Source)
		}
	}
	// The fingerprint before sources existed (computed on main).
	if fp := cfg.Fingerprint(); fp != fingerprintOf(t, cfg) {
		t.Errorf("fingerprint %s changed", fp)
	}
}

// fingerprintOf is the fingerprint as it was computed before sources (the
// material of main at 805427b), so that runs keep telling config changes.
func fingerprintOf(t *testing.T, c *Config) string {
	t.Helper()
	type fpHunt struct {
		Name, Query string
		MaxAge      int64
		Pages       int
		Sweep       []string
	}
	material := struct {
		V              int
		Hunts          []fpHunt
		API, APIURL    string
		Lookback       int64
		MaxIPsPerQuery int
	}{V: 1, API: c.Sweep.API, APIURL: c.Sweep.APIURL, Lookback: int64(c.Sweep.Lookback), MaxIPsPerQuery: c.Sweep.MaxIPsPerQuery}
	for _, h := range c.EnabledHunts() {
		f := fpHunt{Name: h.Name, Query: h.Query, MaxAge: int64(h.MaxAge), Pages: h.Pages}
		for _, tg := range h.Sweep {
			f.Sweep = append(f.Sweep, tg.String())
		}
		material.Hunts = append(material.Hunts, f)
	}
	b, err := json.Marshal(material)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// path: is resolved against the config file's directory, globs included;
// a hunt of another source needs no query.
func TestSourceHuntKeys(t *testing.T) {
	dir := t.TempDir()
	src := `builtin_hunts: false
hunts:
  - name: Downloaded
    source: shodan-file
    path: ./downloads/*.json.gz
    max_age: 3d
    sweep: [DeviceLogonEvents.RemoteIP]
`
	cfg, _, err := Parse(filepath.Join(dir, "c2sweep.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := cfg.Hunt("Downloaded")
	if h.Source != "shodan-file" || h.Path != filepath.Join(dir, "downloads", "*.json.gz") || h.Query != "" || h.MaxAge.String() != "3d" {
		t.Errorf("hunt %+v", h)
	}
	if !UsesSource(cfg.EnabledHunts(), "shodan-file") || UsesSource(cfg.EnabledHunts(), "shodan") {
		t.Error("UsesSource")
	}
	// Another source's hunt changes the fingerprint.
	cfg2, _, _ := Parse(filepath.Join(dir, "c2sweep.yaml"), []byte(strings.Replace(src, "downloads/", "other/", 1)))
	if cfg.Fingerprint() == cfg2.Fingerprint() {
		t.Error("the path is not in the fingerprint")
	}
}

// Validation goes through the registry: an unknown source, a key another
// source reads, values out of range, all at file:line:key with a hint.
func TestSourceHuntErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		key, msg  string
		hint      string
	}{
		{"unknown source, near one", "hunts:\n  - name: A\n    source: shodan-fil\n    path: x\n", 3, "hunts[0].source", `unknown source "shodan-fil"`, "did you mean shodan-file?"},
		{"unknown source, nothing near", "hunts:\n  - name: A\n    source: misp\n", 3, "hunts[0].source", `unknown source "misp"`, "one of "},
		{"a Shodan key on a file hunt", "hunts:\n  - name: A\n    source: shodan-file\n    path: x\n    pages: 2\n", 5, "hunts[0].pages", "not a key of source shodan-file", "pages belongs to a hunt with source: shodan"},
		{"a file key on a Shodan hunt", "hunts:\n  - name: A\n    query: q\n    path: x\n", 4, "hunts[0].path", "not a key of source shodan", "path belongs to a hunt with source: "},
		{"a feed with url and path", "hunts:\n  - name: A\n    source: feed\n    url: https://example.org/ips.txt\n    path: ./ips.txt\n", 4, "hunts[0].url", "set either url or path", "path: ./feeds/ips.txt"},
		{"a feed with neither", "hunts:\n  - name: A\n    source: feed\n", 2, "hunts[0].url", "set either url or path", ""},
		{"a ThreatFox key on a feed", "hunts:\n  - name: A\n    source: feed\n    path: x\n    days: 3\n", 5, "hunts[0].days", "not a key of source feed", "days belongs to a hunt with source: threatfox"},
		{"a file hunt with no path", "hunts:\n  - name: A\n    source: shodan-file\n", 2, "hunts[0].path", "missing", "a file or a glob"},
		{"days out of range", "hunts:\n  - name: A\n    source: threatfox\n    days: 9\n", 4, "hunts[0].days", "9 is not between 1 and 7", ""},
		{"min_confidence out of range", "hunts:\n  - name: A\n    source: threatfox\n    min_confidence: 101\n", 4, "hunts[0].min_confidence", "101 is not between 0 and 100", ""},
		{"format", "hunts:\n  - name: A\n    source: feed\n    path: x\n    format: cvs\n", 5, "hunts[0].format", `"cvs" is not txt or csv`, "did you mean csv?"},
		{"a feed url over http", "hunts:\n  - name: A\n    source: feed\n    url: http://example.org/ips.txt\n", 4, "hunts[0].url", "is not https", ""},
		{"threatfox api over http", "sources:\n  threatfox: {api_url: \"http://threatfox.example\"}\n", 2, "sources.threatfox.api_url", "is not https", ""},
		{"unknown key under sources", "sources:\n  feodo: {api_url: x}\n", 2, "sources.feodo.api_url", "unknown key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := parseErrs(t, tt.src)
			for _, e := range es {
				if e.Key == tt.key {
					if e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
						t.Errorf("got line %d %q hint %q; want line %d %q hint %q", e.Line, e.Msg, e.Hint, tt.line, tt.msg, tt.hint)
					}
					return
				}
			}
			t.Errorf("no error at %s: %v", tt.key, es)
		})
	}
}

// ABUSECH_AUTH_KEY is the key of both abuse.ch sources when the file names
// none; THREATFOX_API_URL and FEODO_URL override the endpoints, https only.
func TestSourcesFromEnvironment(t *testing.T) {
	t.Setenv("ABUSECH_AUTH_KEY", "abc123")
	t.Setenv("THREATFOX_API_URL", "https://threatfox.lab.example/api/v1/")
	t.Setenv("FEODO_URL", "https://feodo.lab.example/ipblocklist.json")
	cfg, _ := mustParse(t, "sources:\n  feodo: {auth_key: {env: FEODO_KEY}}\n")
	if got := cfg.Sources.ThreatFox.AuthKey.Source(); got != "env:ABUSECH_AUTH_KEY" {
		t.Errorf("threatfox auth key from %q", got)
	}
	if got := cfg.Sources.Feodo.AuthKey.Source(); got != "env:FEODO_KEY" {
		t.Errorf("feodo auth key from %q: the file wins", got)
	}
	if cfg.Sources.ThreatFox.APIURL != "https://threatfox.lab.example/api/v1/" || cfg.Sources.Feodo.URL != "https://feodo.lab.example/ipblocklist.json" {
		t.Errorf("urls %+v", cfg.Sources)
	}
	t.Setenv("FEODO_URL", "http://feodo.lab.example/x.json")
	_, _, err := Parse("c2sweep.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "environment: FEODO_URL") || !strings.Contains(err.Error(), "not https") {
		t.Errorf("http FEODO_URL: %v", err)
	}
	if ks := kindsReading("path"); !slices.Contains(ks, "shodan-file") {
		t.Errorf("kindsReading(path) = %v", ks)
	}
}

// A built-in hunt given another source keeps none of its Shodan query.
func TestBuiltinTurnedToAnotherSource(t *testing.T) {
	cfg, _ := mustParse(t, "hunts:\n  - name: PoshC2\n    source: feodo\n")
	h, _ := cfg.Hunt("PoshC2")
	if h.Source != "feodo" || h.Query != "" {
		t.Errorf("PoshC2 %+v", h)
	}
}
