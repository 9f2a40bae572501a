package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
	"c2sweep/internal/schema"
)

// Target is one sweep target (targets: in the file): a tenant's Defender
// XDR (backend graph or mde) or one Microsoft Sentinel workspace (backend
// sentinel), in one Microsoft cloud, with its own sign-in.
type Target struct {
	// Name is [A-Za-z0-9_-]{1,64}, unique ignoring case; hits, runs and
	// the state's windows are kept under it.
	Name string `yaml:"name" json:"name"`
	// Backend is graph (default), mde or sentinel (hunting.LookupBackend).
	Backend string `yaml:"backend" json:"backend"`
	// Cloud is public (default), usgov, usgov-dod or china
	// (hunting.LookupCloud): the login and API hosts.
	Cloud string `yaml:"cloud" json:"cloud"`
	// APIURL overrides the cloud's host for the backend (the lab, a
	// proxy); https only.
	APIURL string `yaml:"api_url" json:"api_url,omitempty"`
	// WorkspaceID is the Log Analytics workspace's GUID: sentinel only,
	// required there.
	WorkspaceID string `yaml:"workspace_id" json:"workspace_id,omitempty"`
	// Azure is the target's sign-in. In Config.Targets it is as written;
	// in SweepTargets its empty fields are inherited (see SweepTargets).
	Azure Azure `yaml:"azure" json:"azure"`
	// Sweep are the Table.Columns swept, in the backend's catalogue; nil
	// is the default: the hunts' own lists for graph and mde, the
	// catalogue's DefaultSweep for sentinel.
	Sweep []kql.Target `yaml:"sweep" json:"sweep,omitempty"`
	// Line is the target's line in the file, for messages (0 for the
	// implicit target).
	Line int `yaml:"-" json:"line,omitempty"`
}

var workspaceGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// mdeRetiring is said wherever the legacy API is chosen.
const mdeRetiring = "the Defender for Endpoint API (mde) is being retired by Microsoft (retirement began January 2026)"

// SweepTargets is the effective list of sweep targets: the listed ones, or
// when none is listed one named indicator.DefaultTarget made from sweep:
// (api, api_url, cloud) and azure: (its authority_host, else the cloud's
// login host).
//
// A listed target's azure fields left empty are taken from the top-level
// azure: (itself filled from the AZURE_* variables), except that the
// credential material (client_secret, certificate_path,
// certificate_password) is inherited only as a group together with auth,
// and only when the target sets none of it and no auth: a target that sets
// its own material without auth signs in with auto. authority_host is the
// target's, else its cloud's login host when the cloud is not public, else
// the top-level one. A target without sweep: gets its backend's default
// (nil for graph and mde: the hunts' own lists apply).
func (c *Config) SweepTargets() []Target {
	if len(c.Targets) == 0 {
		t := Target{
			Name:    indicator.DefaultTarget,
			Backend: c.Sweep.API,
			Cloud:   c.Sweep.Cloud,
			APIURL:  c.Sweep.APIURL,
			Azure:   c.Azure,
		}
		return []Target{c.effective(t)}
	}
	out := make([]Target, len(c.Targets))
	for i, t := range c.Targets {
		out[i] = c.effective(t)
	}
	return out
}

// effective fills t's defaults and inherits from the top-level azure:.
func (c *Config) effective(t Target) Target {
	if t.Backend == "" {
		t.Backend = "graph"
	}
	if t.Cloud == "" {
		t.Cloud = hunting.PublicCloud
	}
	a, top := t.Azure, c.Azure
	if a.TenantID == "" {
		a.TenantID = top.TenantID
	}
	if a.ClientID == "" {
		a.ClientID = top.ClientID
	}
	if a.Auth == "" && !a.hasMaterial() {
		a.Auth = top.Auth
		a.ClientSecret, a.CertificatePath, a.CertificatePassword = top.ClientSecret, top.CertificatePath, top.CertificatePassword
	}
	if a.Auth == "" {
		a.Auth = "auto"
	}
	if a.AuthorityHost == "" {
		if cl, err := hunting.LookupCloud(t.Cloud); err == nil && cl.Name != hunting.PublicCloud {
			a.AuthorityHost = cl.Login
		} else {
			a.AuthorityHost = top.AuthorityHost
		}
	}
	t.Azure = a
	if t.Sweep == nil {
		t.Sweep = DefaultTargetSweep(t.Backend)
	} else {
		t.Sweep = slices.Clone(t.Sweep)
	}
	return t
}

// hasMaterial reports whether any credential material is set.
func (a Azure) hasMaterial() bool {
	return a.ClientSecret.IsSet() || a.CertificatePath != "" || a.CertificatePassword.IsSet()
}

// Method names how a sign-in with these settings is made: the auth mode,
// or for auto what auto picks (client-secret, certificate, or
// azidentity's default chain, "default-chain").
func (a Azure) Method() string {
	switch {
	case a.Auth != "" && a.Auth != "auto":
		return a.Auth
	case a.ClientSecret.IsSet():
		return "client-secret"
	case a.CertificatePath != "":
		return "certificate"
	}
	return "default-chain"
}

// DefaultTargetSweep is what a target of the backend sweeps when it lists
// no columns: nil for graph and mde (the hunts' own lists apply), the
// Sentinel catalogue's remote IP columns for sentinel.
func DefaultTargetSweep(backend string) []kql.Target {
	b, err := hunting.LookupBackend(backend)
	if err != nil {
		return nil
	}
	cat, err := schema.Named(b.Catalog)
	if err != nil {
		return nil
	}
	var out []kql.Target
	for _, tc := range cat.DefaultSweep() {
		table, col, _ := strings.Cut(tc, ".")
		out = append(out, kql.Target{Table: table, Column: col})
	}
	return out
}

// Endpoint is the target's API root and token scope: api_url when set,
// else its cloud's host for the backend; the scope is always the cloud's
// (a lab or a proxy stands in for the cloud's host, not for its tokens).
func (t Target) Endpoint() (baseURL, scope string, err error) {
	b, err := hunting.LookupBackend(t.Backend)
	if err != nil {
		return "", "", err
	}
	cl, err := hunting.LookupCloud(t.Cloud)
	if err != nil {
		return "", "", err
	}
	baseURL, scope, err = b.Endpoint(cl)
	if err != nil {
		return "", "", err
	}
	if t.APIURL != "" {
		baseURL = strings.TrimRight(t.APIURL, "/")
	}
	return baseURL, scope, nil
}

// checkSweepTargets checks targets: and sweep.cloud, after the top-level
// azure: has been filled from the environment.
func (w *walker) checkSweepTargets(c *Config) {
	cloudHint := func(v string) string {
		h := hintFor(v, hunting.CloudNames())
		if h == "" {
			return "one of " + strings.Join(hunting.CloudNames(), ", ")
		}
		return h + " (one of " + strings.Join(hunting.CloudNames(), ", ") + ")"
	}
	if c.Sweep.Cloud != "" {
		if cl, err := hunting.LookupCloud(c.Sweep.Cloud); err != nil {
			w.fail(w.lines["sweep.cloud"], "sweep.cloud", fmt.Sprintf("%q is not a cloud", c.Sweep.Cloud), cloudHint(c.Sweep.Cloud))
		} else {
			c.Sweep.Cloud = cl.Name
			if b, err := hunting.LookupBackend(c.Sweep.API); err == nil {
				if _, _, err := b.Endpoint(cl); err != nil {
					w.fail(w.lines["sweep.cloud"], "sweep.cloud", err.Error(), "use api: graph")
				}
			}
		}
	}
	if len(c.Targets) == 0 {
		if c.Sweep.API == "mde" {
			w.warn(w.lines["sweep.api"], "sweep.api", mdeRetiring, "use api: graph (Microsoft Graph runHuntingQuery)")
		}
		return
	}
	for _, k := range []string{"sweep.api", "sweep.api_url", "sweep.cloud"} {
		if line, ok := w.lines[k]; ok {
			w.warn(line, k, "not used: the config lists targets:, each with its own backend, cloud and api_url", "set it on the targets instead")
		}
	}
	names := map[string]string{}    // lower-case name -> path
	accounts := map[string]string{} // backend|tenant|workspace -> path
	for i := range c.Targets {
		t := &c.Targets[i]
		p := fmt.Sprintf("targets[%d]", i)
		t.Line = w.lines[p]
		if slices.ContainsFunc(w.errs, func(e *Error) bool { return e.Key == p }) {
			continue // not a mapping: said already
		}
		at := func(key string) (int, string) {
			if line, ok := w.lines[p+"."+key]; ok {
				return line, p + "." + key
			}
			return t.Line, p + "." + key
		}
		// name
		switch line, key := at("name"); {
		case t.Name == "":
			w.fail(line, key, "missing", "every target needs a name (letters, digits, - and _), e.g. contoso")
		case !huntName.MatchString(t.Name):
			w.fail(line, key, fmt.Sprintf("%q may use only letters, digits, - and _ (at most 64)", t.Name), "hits, runs and the state are kept under the name")
		default:
			lower := strings.ToLower(t.Name)
			if prev, dup := names[lower]; dup {
				w.fail(line, key, fmt.Sprintf("%q is already used by %s (line %d)", t.Name, prev, w.lines[prev]), "names are compared ignoring case")
			} else {
				names[lower] = p
			}
		}
		// backend
		var backend hunting.Backend
		backendOK := true
		if t.Backend == "" {
			t.Backend = "graph"
		}
		if b, err := hunting.LookupBackend(t.Backend); err != nil {
			backendOK = false
			line, key := at("backend")
			hint := hintFor(t.Backend, hunting.BackendNames())
			if hint == "" {
				hint = "one of " + strings.Join(hunting.BackendNames(), ", ")
			}
			w.fail(line, key, fmt.Sprintf("%q is not a hunting backend (%s)", t.Backend, strings.Join(hunting.BackendNames(), ", ")), hint)
		} else {
			backend = b
			t.Backend = b.Name
			if b.Legacy {
				line, key := at("backend")
				w.warn(line, key, mdeRetiring, "use backend: graph (Microsoft Graph runHuntingQuery)")
			}
		}
		// cloud
		if t.Cloud == "" {
			t.Cloud = hunting.PublicCloud
		}
		if cl, err := hunting.LookupCloud(t.Cloud); err != nil {
			line, key := at("cloud")
			w.fail(line, key, fmt.Sprintf("%q is not a cloud", t.Cloud), cloudHint(t.Cloud))
		} else {
			t.Cloud = cl.Name
			if backendOK {
				if _, _, err := backend.Endpoint(cl); err != nil {
					line, key := at("cloud")
					w.fail(line, key, err.Error(), "use backend: graph")
				}
			}
		}
		// workspace_id
		if backendOK {
			line, key := at("workspace_id")
			switch {
			case backend.Name == "sentinel" && t.WorkspaceID == "":
				w.fail(line, key, "missing: a sentinel target sweeps one Log Analytics workspace", "the workspace's id (a GUID) from its Overview page in the Azure portal")
			case backend.Name == "sentinel" && !workspaceGUID.MatchString(t.WorkspaceID):
				w.fail(line, key, fmt.Sprintf("%q is not a workspace id (a GUID)", t.WorkspaceID), "e.g. 00000000-0000-0000-0000-000000000000, from the workspace's Overview page")
			case backend.Name != "sentinel" && t.WorkspaceID != "":
				w.fail(line, key, "only a sentinel target has a workspace", "remove it, or set backend: sentinel")
			}
		}
		w.checkURL(t.APIURL, p+".api_url")
		// sweep
		if backendOK {
			w.checkCatalogTargets(backend.Catalog, t.Sweep, p+".sweep")
		}
		// azure
		az := &t.Azure
		if az.Auth != "" && !slices.Contains(AuthModes, az.Auth) {
			line, key := at("azure.auth")
			w.fail(line, key, fmt.Sprintf("%q is not one of %s", az.Auth, strings.Join(AuthModes, ", ")), hintFor(az.Auth, AuthModes))
		}
		w.checkURL(az.AuthorityHost, p+".azure.authority_host")
		if az.CertificatePath != "" {
			az.CertificatePath = w.resolvePath(az.CertificatePath)
		}
		// the same tenant's backend (or workspace) twice
		if backendOK {
			tenant := az.TenantID
			if tenant == "" {
				tenant = c.Azure.TenantID
			}
			acct := backend.Name + "|" + strings.ToLower(tenant) + "|" + strings.ToLower(t.WorkspaceID)
			if prev, dup := accounts[acct]; dup {
				what := "the " + backend.Name + " backend of tenant " + quoteOr(tenant, "(the default tenant)")
				if t.WorkspaceID != "" {
					what = "workspace " + t.WorkspaceID + " of tenant " + quoteOr(tenant, "(the default tenant)")
				}
				w.fail(t.Line, p, fmt.Sprintf("%s is listed twice: %s (line %d) sweeps it already", what, prev, w.lines[prev]), "one target per tenant and backend (and workspace); remove one")
			} else {
				accounts[acct] = p
			}
		}
	}
}

func quoteOr(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}

// checkCatalogTargets checks a target's sweep: columns against its
// backend's table catalogue.
func (w *walker) checkCatalogTargets(catalog string, ts []kql.Target, path string) {
	cat, err := schema.Named(catalog)
	if err != nil {
		w.fail(w.lines[path], path, err.Error(), "")
		return
	}
	if ts != nil && len(ts) == 0 {
		w.fail(w.lines[path], path, "empty: nothing to sweep", "list at least one Table.Column, or leave sweep: out for the backend's default")
		return
	}
	for i, t := range ts {
		p := fmt.Sprintf("%s[%d]", path, i)
		if err := cat.CheckTarget(t.Table, t.Column); err != nil {
			w.fail(w.lines[p], p, err.Error(), catalogTargetHint(cat, t))
			continue
		}
		if slices.Index(ts, t) < i {
			w.fail(w.lines[p], p, t.String()+" is listed twice", "")
		}
	}
}

// catalogTargetHint suggests the nearest table, or IP column, of cat.
func catalogTargetHint(cat *schema.Catalog, t kql.Target) string {
	tab, ok := cat.Lookup(t.Table)
	if !ok {
		if n := nearest(t.Table, cat.Names()); n != "" {
			return "did you mean " + n + "?"
		}
		return "the " + cat.Name + " catalogue's tables: " + strings.Join(cat.Names(), ", ")
	}
	if n := nearest(t.Column, tab.IPColumns); n != "" {
		return "did you mean " + t.Table + "." + n + "?"
	}
	return t.Table + "'s IP columns: " + strings.Join(tab.IPColumns, ", ")
}
