package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"c2sweep/internal/config"
	"c2sweep/internal/hunting"
	"c2sweep/internal/kql"
	"c2sweep/internal/notify"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/shodan"
	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
)

// SweepFlags are the flags of every command that sweeps (run, serve).
// Set flags override the config file.
type SweepFlags struct {
	API            string   `help:"Hunting API: graph (Microsoft Graph runHuntingQuery, the default) or mde (the legacy Defender for Endpoint API, which Microsoft began retiring in January 2026: use graph)." enum:",graph,mde" default:""`
	APIURL         string   `name:"api-url" help:"Replace the hunting API root (sovereign clouds, the lab)." placeholder:"URL"`
	Auth           string   `help:"Entra sign-in: auto, client-secret, certificate, managed-identity, workload-identity, azure-cli." placeholder:"METHOD"`
	MaxAge         string   `help:"Keep servers their source saw within this age (default 7d)." placeholder:"AGE"`
	Lookback       string   `help:"Telemetry window of an indicator's first sweep (default 30d)." placeholder:"DURATION"`
	Hunt           []string `help:"Run only these hunts (repeatable)." placeholder:"NAME"`
	Target         []string `help:"Sweep only these targets of the config's targets: (repeatable; 'c2sweep targets' lists them)." placeholder:"NAME"`
	CatalogInclude []string `name:"catalog-include" help:"Also run the catalog's hunts of this kind, family or name (repeatable; 'c2sweep hunts' lists them)." placeholder:"WORD"`
	CatalogExclude []string `name:"catalog-exclude" help:"Leave out the catalog's hunts of this kind, family or name (repeatable)." placeholder:"WORD"`
	CreditBudget   int      `help:"Shodan query credits one run may spend (default: config, else what the account has)." placeholder:"N"`
	MaxIPsPerQuery int      `name:"max-ips-per-query" help:"Indicators per KQL query (default 5000)." placeholder:"N"`
	All            bool     `help:"Report every hit in the window, not only new ones."`
	Wait           bool     `help:"Wait for another run on the same state file to finish instead of refusing."`
}

// loadConfig reads --config (or the defaults) and prints its warnings.
func (g *Globals) loadConfig() (*config.Config, error) {
	cfg, warnings, err := config.Load(g.Config)
	for _, w := range warnings {
		fmt.Fprintf(g.stderr, "warning: %s\n", textsafe.Terminal(w.Error()))
		printHint(g.stderr, w.Hint)
	}
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// apply folds set flags into cfg and selects the hunts to run.
func (f *SweepFlags) apply(cfg *config.Config) ([]config.Hunt, error) {
	if len(cfg.Targets) > 0 && (f.API != "" || f.APIURL != "") {
		return nil, withHint(errors.New("--api and --api-url (C2SWEEP_API, C2SWEEP_API_URL) set the one target of a config that lists no targets"),
			"set backend: and api_url: on each target in "+cfg.File+" instead, and unset C2SWEEP_API and C2SWEEP_API_URL if the environment sets them (the lab's env file does)")
	}
	if f.API != "" {
		cfg.Sweep.API = f.API
	}
	if f.APIURL != "" {
		if err := config.CheckURL(f.APIURL); err != nil {
			return nil, fmt.Errorf("--api-url (or C2SWEEP_API_URL): %w", err)
		}
		cfg.Sweep.APIURL = f.APIURL
	}
	if f.Auth != "" {
		if !contains(config.AuthModes, f.Auth) {
			return nil, fmt.Errorf("--auth %q: use one of %s", f.Auth, strings.Join(config.AuthModes, ", "))
		}
		cfg.Azure.Auth = f.Auth
	}
	if f.MaxAge != "" {
		d, err := positiveDuration("--max-age", f.MaxAge)
		if err != nil {
			return nil, err
		}
		cfg.SetMaxAge(d)
	}
	if f.Lookback != "" {
		d, err := positiveDuration("--lookback", f.Lookback)
		if err != nil {
			return nil, err
		}
		cfg.Sweep.Lookback = d
	}
	// 0 is the flags' "not given"; below 0 means nothing.
	if f.CreditBudget < 0 {
		return nil, fmt.Errorf("--credit-budget %d: a number of credits is 0 or more", f.CreditBudget)
	}
	if f.MaxIPsPerQuery < 0 {
		return nil, fmt.Errorf("--max-ips-per-query %d: a number of indicators is 1 or more", f.MaxIPsPerQuery)
	}
	if cfg.Sweep.Lookback.Std() > 30*24*time.Hour {
		return nil, withHint(fmt.Errorf("lookback %s is beyond the 30 days advanced hunting keeps", cfg.Sweep.Lookback), "use --lookback 30d or less")
	}
	if f.CreditBudget > 0 {
		cfg.Shodan.CreditBudget = f.CreditBudget
	}
	if f.MaxIPsPerQuery > 0 {
		cfg.Sweep.MaxIPsPerQuery = f.MaxIPsPerQuery
	}
	if err := cfg.AddCatalog(f.CatalogInclude, f.CatalogExclude); err != nil {
		return nil, withHint(fmt.Errorf("--catalog-include/--catalog-exclude: %w", err), "c2sweep hunts lists the catalog's kinds, families and names")
	}
	hunts := cfg.EnabledHunts()
	if len(f.Hunt) > 0 {
		hunts = hunts[:0:0]
		for _, name := range f.Hunt {
			h, ok := cfg.Hunt(name)
			if !ok {
				return nil, withHint(fmt.Errorf("--hunt %q: no such hunt", name), "c2sweep hunts lists them")
			}
			hunts = append(hunts, h)
		}
	}
	if len(hunts) == 0 {
		return nil, withHint(errors.New("no hunt is enabled"), "enable one in the config, or check 'c2sweep hunts'")
	}
	return hunts, nil
}

// positiveDuration reads a duration flag that must be more than 0: a
// window of 0 would silently fall back to the default.
func positiveDuration(flag, v string) (config.Duration, error) {
	d, err := config.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", flag, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s %s: a window must be more than 0, e.g. 7d or 36h", flag, v)
	}
	return d, nil
}

// sweeper is everything a sweep needs, built from the config.
type sweeper struct {
	pipe  *pipeline.Pipeline
	opts  pipeline.Options
	store *store.Store
}

func (s *sweeper) close() {
	if s.store != nil {
		s.store.Close()
	}
}

// newSweeper builds the clients from cfg. httpClient carries every call
// (nil: Go's default, trusting the system roots and SSL_CERT_FILE).
func (g *Globals) newSweeper(ctx context.Context, cfg *config.Config, f *SweepFlags, hunts []config.Hunt, httpClient *http.Client, dryRun bool, command string) (*sweeper, error) {
	if httpClient == nil {
		httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	sw := &sweeper{}
	ok := false
	defer func() {
		if !ok {
			sw.close()
		}
	}()

	// The state first: a run that cannot be set up (no Shodan key, a
	// secret that cannot be read) is recorded with its reason too.
	path, err := g.statePath(cfg)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		return nil, err
	}
	sw.store = st
	if !dryRun {
		// A dry run only reads the state; a real one owns it until done.
		if err := st.Lock(ctx, f.Wait); err != nil {
			return nil, err
		}
	}
	recorded := func(err error) error {
		if !dryRun {
			if rerr := pipeline.RecordRefused(ctx, st, command, cfg.Fingerprint(), err); rerr != nil {
				g.log.Warn("could not record the run", "error", rerr)
			}
		}
		return err
	}

	srcs, err := g.newSources(ctx, cfg, hunts, httpClient)
	if err != nil {
		return nil, recorded(err)
	}
	p := &pipeline.Pipeline{Sources: srcs, Log: g.log}
	if !g.Quiet && isTerminal(g.stderr) {
		p.Progress = &termProgress{w: g.stderr}
	}

	if f.API == "mde" {
		fmt.Fprintln(g.stderr, "warning: --api mde: Microsoft is retiring the Defender for Endpoint API (retirement began January 2026)")
		printHint(g.stderr, "use --api graph (permission ThreatHunting.Read.All)")
	}
	// The pipeline signs in to every target (and checks its API root)
	// before any Shodan credit is spent, with the run recorded.
	if p.Targets, err = g.newTargets(ctx, cfg, f.Target, httpClient, dryRun); err != nil {
		return nil, recorded(err)
	}

	var targets []string
	for _, n := range cfg.Notify {
		url, err := n.URL.Reveal(ctx)
		if err != nil {
			return nil, recorded(fmt.Errorf("notify %s: url: %w", n.Name, err))
		}
		t, err := notify.New(n.Name, n.Type, url, httpClient, notify.WithLogger(g.log), notify.WithHeartbeat(n.Heartbeat))
		if err != nil {
			return nil, recorded(fmt.Errorf("notify %s: %w", n.Name, err))
		}
		p.Notify = append(p.Notify, t)
		targets = append(targets, n.Name)
	}

	excl, err := g.exclusions(cfg)
	if err != nil {
		return nil, recorded(err)
	}

	st.SetAlertTargets(targets)
	p.Store = st
	sw.pipe = p
	sw.opts = pipeline.Options{
		Hunts:        hunts,
		API:          apiName(cfg),
		Lookback:     cfg.Sweep.Lookback.Std(),
		CreditBudget: cfg.Shodan.CreditBudget,
		Limits:       kql.Limits{MaxIPs: cfg.Sweep.MaxIPsPerQuery},
		DryRun:       dryRun,
		PlanOnly:     dryRun, // counts are free: plan, fetch no page
		SilentRuns:   cfg.Health.SilentRuns,
		All:          f.All,
		IndicatorTTL: cfg.State.IndicatorTTL.Std(),
		Command:      command,
		Fingerprint:  cfg.Fingerprint(),
		Exclude:      excl,
	}
	ok = true
	return sw, nil
}

func apiName(cfg *config.Config) string {
	if cfg.Sweep.API == "" {
		return "graph"
	}
	return cfg.Sweep.API
}

// shodanKey resolves the key from the config, the environment or the
// Shodan CLI's key file, in that order.
func shodanKey(ctx context.Context, cfg *config.Config) (string, error) {
	if cfg.Shodan.APIKey.IsSet() {
		k, err := cfg.Shodan.APIKey.Reveal(ctx)
		if err != nil {
			return "", withHint(fmt.Errorf("shodan api key: %w", err), "set SHODAN_API_KEY, run 'shodan init KEY', or try 'c2sweep demo' first")
		}
		if k != "" {
			return k, nil
		}
	}
	k, _, err := shodan.LoadKey()
	if err != nil {
		return "", withHint(err, "set SHODAN_API_KEY, run 'shodan init KEY', or try 'c2sweep demo' first")
	}
	return k, nil
}

// newTargets builds the run's sweep targets (those of --target, else
// all), each with its own credential, token cache and rate limiter. A
// target whose hunter cannot be built (a secret that cannot be read, a
// certificate that does not parse) fails alone, at sign-in, like a target
// the service refuses; a dry run builds no hunter.
func (g *Globals) newTargets(ctx context.Context, cfg *config.Config, only []string, httpClient *http.Client, dryRun bool) ([]pipeline.Target, error) {
	all := cfg.SweepTargets()
	chosen := all
	if len(only) > 0 {
		chosen = nil
		var names []string
		for _, t := range all {
			names = append(names, t.Name)
		}
		for _, name := range only {
			i := slices.IndexFunc(all, func(t config.Target) bool { return strings.EqualFold(t.Name, name) })
			if i < 0 {
				hint := "c2sweep targets lists them: " + strings.Join(names, ", ")
				if n := config.Nearest(name, names); n != "" {
					hint = "did you mean " + n + "? " + hint
				}
				return nil, withHint(fmt.Errorf("--target %q: no such target", name), hint)
			}
			if !slices.ContainsFunc(chosen, func(t config.Target) bool { return t.Name == all[i].Name }) {
				chosen = append(chosen, all[i])
			}
		}
	}
	out := make([]pipeline.Target, 0, len(chosen))
	for _, t := range chosen {
		b, err := hunting.LookupBackend(t.Backend)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		pt := pipeline.Target{Name: t.Name, Backend: b.Name, Catalog: b.Catalog, MaxRows: b.MaxRows, Sweep: t.Sweep}
		if !dryRun {
			pt.Hunter = g.newHunter(ctx, t, b, httpClient)
		}
		out = append(out, pt)
	}
	return out, nil
}

// newHunter is target t's client of backend b, in t's cloud.
func (g *Globals) newHunter(ctx context.Context, t config.Target, b hunting.Backend, httpClient *http.Client) hunting.Hunter {
	cl, err := hunting.LookupCloud(t.Cloud)
	if err != nil {
		return failedHunter{err}
	}
	base, scope, err := b.Endpoint(cl)
	if err != nil {
		return failedHunter{err}
	}
	if t.APIURL != "" {
		base = t.APIURL
	}
	cred, err := credential(ctx, t.Azure, httpClient)
	if err != nil {
		return failedHunter{err}
	}
	h, err := b.New(hunting.Options{BaseURL: base, Scope: scope, Credential: cred, HTTPClient: httpClient,
		Logger: g.log.With("target", t.Name), Workspace: t.WorkspaceID})
	if err != nil {
		return failedHunter{err}
	}
	return h
}

// failedHunter is a target that could not be set up: it fails at sign-in,
// so that it fails alone and says why.
type failedHunter struct{ err error }

func (f failedHunter) SignIn(context.Context) error { return f.err }
func (f failedHunter) Hunt(context.Context, hunting.Request, func([]hunting.Column) error, func(hunting.Row) error) (hunting.Stats, error) {
	return hunting.Stats{}, f.err
}

// credential signs in to Entra ID the way a target's azure: says.
func credential(ctx context.Context, a config.Azure, httpClient *http.Client) (azcore.TokenCredential, error) {
	o := hunting.AuthOptions{
		Method:          authMethod(a.Auth),
		TenantID:        a.TenantID,
		ClientID:        a.ClientID,
		CertificatePath: a.CertificatePath,
		AuthorityHost:   a.AuthorityHost,
		HTTPClient:      httpClient,
	}
	var err error
	if a.ClientSecret.IsSet() {
		if o.ClientSecret, err = a.ClientSecret.Reveal(ctx); err != nil {
			return nil, fmt.Errorf("azure client secret: %w", err)
		}
	}
	if a.CertificatePassword.IsSet() {
		if o.CertificatePassword, err = a.CertificatePassword.Reveal(ctx); err != nil {
			return nil, fmt.Errorf("azure certificate password: %w", err)
		}
	}
	cred, err := hunting.NewCredential(o)
	if err != nil {
		return nil, withHint(err, "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or a certificate), or see README 'Permissions'")
	}
	return cred, nil
}

// authMethod maps the config's names to the hunting package's.
func authMethod(m string) string {
	switch m {
	case "", "auto":
		return "auto"
	case "client-secret":
		return "secret"
	}
	return m
}

func (g *Globals) statePath(cfg *config.Config) (string, error) {
	switch {
	case g.State != "":
		return g.State, nil
	case cfg != nil && cfg.State.Path != "":
		return cfg.State.Path, nil
	}
	return store.DefaultPath()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
