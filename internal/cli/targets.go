package cli

import (
	"strings"

	"c2sweep/internal/config"
)

// TargetsCmd lists the effective sweep targets of the config.
type TargetsCmd struct {
	OutputFlags `embed:""`
}

func (c *TargetsCmd) Help() string {
	return `Lists the sweep targets a run sweeps: each tenant's Defender XDR (backend
graph, or the legacy mde) or Microsoft Sentinel workspace (backend sentinel),
its cloud and API root, how it signs in (empty azure: keys come from the
top-level azure:), its tenant, workspace and the columns it sweeps. A config
without targets: has one, named default, made from sweep: and azure:.
Secrets are named by where they come from, never shown.

Examples:
  c2sweep --config c2sweep.yaml targets
  c2sweep --config c2sweep.yaml targets --json
  c2sweep --config c2sweep.yaml targets --format csv`
}

// targetRow is one target as listed; JSON, JSONL and CSV carry the same.
type targetRow struct {
	Name          string   `json:"name"`
	Backend       string   `json:"backend"`
	Cloud         string   `json:"cloud"`
	API           string   `json:"api"`
	Scope         string   `json:"scope"`
	SignIn        string   `json:"sign_in"`
	Credential    string   `json:"credential,omitempty"` // where the secret or certificate comes from
	AuthorityHost string   `json:"authority_host,omitempty"`
	TenantID      string   `json:"tenant_id,omitempty"`
	ClientID      string   `json:"client_id,omitempty"`
	WorkspaceID   string   `json:"workspace_id,omitempty"`
	Sweep         []string `json:"sweep"` // empty: the hunts' own lists (CSV: space-separated)
	Line          int      `json:"line,omitempty"`
}

func (c *TargetsCmd) Run(g *Globals) error {
	if _, err := c.OutputFlags.format(); err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	var rows []targetRow
	for _, t := range cfg.SweepTargets() {
		rows = append(rows, newTargetRow(t))
	}
	return writeList(g, c.OutputFlags, ZoneFlag{}, list[targetRow]{cols: targetColumns, items: rows})
}

func newTargetRow(t config.Target) targetRow {
	r := targetRow{Name: t.Name, Backend: t.Backend, Cloud: t.Cloud, SignIn: t.Azure.Method(),
		AuthorityHost: t.Azure.AuthorityHost, TenantID: t.Azure.TenantID, ClientID: t.Azure.ClientID,
		WorkspaceID: t.WorkspaceID, Sweep: []string{}, Line: t.Line}
	if base, scope, err := t.Endpoint(); err != nil {
		r.API = err.Error()
	} else {
		r.API, r.Scope = base, scope
	}
	switch a := t.Azure; {
	case a.ClientSecret.IsSet() && r.SignIn == "client-secret":
		r.Credential = a.ClientSecret.Source()
	case a.CertificatePath != "" && r.SignIn == "certificate":
		r.Credential = "file:" + a.CertificatePath
	}
	for _, s := range t.Sweep {
		r.Sweep = append(r.Sweep, s.String())
	}
	return r
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var targetColumns = []column[targetRow]{
	{head: "NAME", csv: "name", cell: func(r targetRow) any { return r.Name }},
	{head: "BACKEND", csv: "backend", cell: func(r targetRow) any { return r.Backend }},
	{head: "CLOUD", csv: "cloud", cell: func(r targetRow) any { return r.Cloud }},
	{head: "API", csv: "api", cell: func(r targetRow) any { return r.API }},
	{head: "SIGN-IN", csv: "sign_in", cell: func(r targetRow) any {
		if r.Credential != "" {
			return r.SignIn + " (" + r.Credential + ")"
		}
		return r.SignIn
	}, only: "table"},
	{csv: "sign_in", cell: func(r targetRow) any { return r.SignIn }, only: "csv"},
	{csv: "credential", cell: func(r targetRow) any { return r.Credential }, only: "csv"},
	{csv: "authority_host", cell: func(r targetRow) any { return r.AuthorityHost }, only: "csv"},
	{head: "TENANT", cell: func(r targetRow) any { return orDash(r.TenantID) }, only: "table"},
	{csv: "tenant_id", cell: func(r targetRow) any { return r.TenantID }, only: "csv"},
	{csv: "client_id", cell: func(r targetRow) any { return r.ClientID }, only: "csv"},
	{head: "WORKSPACE", cell: func(r targetRow) any { return orDash(r.WorkspaceID) }, only: "table"},
	{csv: "workspace_id", cell: func(r targetRow) any { return r.WorkspaceID }, only: "csv"},
	{head: "SWEEP", cell: func(r targetRow) any {
		if len(r.Sweep) == 0 {
			return "the hunts' own"
		}
		return strings.Join(r.Sweep, ",")
	}, only: "table"},
	{csv: "sweep", cell: func(r targetRow) any { return strings.Join(r.Sweep, " ") }, only: "csv"},
}
