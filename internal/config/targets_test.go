package config

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"c2sweep/internal/kql"
)

// clearAzureEnv keeps the runner's AZURE_* variables out of a test.
func clearAzureEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_AUTHORITY_HOST"} {
		t.Setenv(v, "")
	}
}

const ws1 = "00000000-0000-0000-0000-000000000001"

func TestTargetErrors(t *testing.T) {
	clearAzureEnv(t)
	tests := []struct {
		name string
		src  string
		line int
		key  string
		msg  string // regexp on Msg
		hint string // substring of Hint
	}{
		{"no name", "targets:\n  - backend: graph\n", 2, "targets[0].name", "^missing$", "every target needs a name"},
		{"bad name", "targets:\n  - name: contoso tenant\n", 2, "targets[0].name", "may use only letters", ""},
		{"long name", "targets:\n  - name: " + strings.Repeat("a", 65) + "\n", 2, "targets[0].name", "at most 64", ""},
		{"name twice, other case", "targets:\n  - name: contoso\n    azure: {tenant_id: a}\n  - name: Contoso\n    azure: {tenant_id: b}\n", 4, "targets[1].name", `"Contoso" is already used by targets\[0\] \(line 2\)`, "ignoring case"},
		{"unknown backend", "targets:\n  - name: a\n    backend: sentinal\n", 3, "targets[0].backend", `"sentinal" is not a hunting backend \(graph, mde, sentinel\)`, "did you mean sentinel?"},
		{"unknown backend, nothing near", "targets:\n  - name: a\n    backend: splunk\n", 3, "targets[0].backend", "not a hunting backend", "one of graph, mde, sentinel"},
		{"unknown cloud", "targets:\n  - name: a\n    cloud: usgob\n", 3, "targets[0].cloud", `"usgob" is not a cloud`, "did you mean usgov?"},
		{"mde in china", "targets:\n  - name: a\n    backend: mde\n    cloud: china\n", 4, "targets[0].cloud", "the mde backend has no host in the china cloud", "backend: graph"},
		{"sentinel without workspace", "targets:\n  - name: a\n    backend: sentinel\n", 2, "targets[0].workspace_id", "missing", "GUID"},
		{"workspace not a guid", "targets:\n  - name: a\n    backend: sentinel\n    workspace_id: contoso-ws\n", 4, "targets[0].workspace_id", `"contoso-ws" is not a workspace id`, ""},
		{"workspace on graph", "targets:\n  - name: a\n    workspace_id: " + ws1 + "\n", 3, "targets[0].workspace_id", "only a sentinel target has a workspace", "backend: sentinel"},
		{"workspace on mde", "targets:\n  - name: a\n    backend: mde\n    workspace_id: " + ws1 + "\n", 4, "targets[0].workspace_id", "only a sentinel target", ""},
		{"api url http", "targets:\n  - name: a\n    api_url: http://127.0.0.1:8443\n", 3, "targets[0].api_url", "is not https", "SSL_CERT_FILE"},
		{"sentinel column of a defender table", "targets:\n  - name: a\n    backend: sentinel\n    workspace_id: " + ws1 + "\n    sweep: [DeviceLogonEvents.RemoteIP]\n", 5, "targets[0].sweep[0]", `unknown table "DeviceLogonEvents"`, "the sentinel catalogue's tables: AADNonInteractiveUserSignInLogs"},
		{"sentinel table misspelt", "targets:\n  - name: a\n    backend: sentinel\n    workspace_id: " + ws1 + "\n    sweep:\n      - CommonSecurityLogs.DestinationIP\n", 6, "targets[0].sweep[0]", "unknown table", "did you mean CommonSecurityLog?"},
		{"sentinel column case", "targets:\n  - name: a\n    backend: sentinel\n    workspace_id: " + ws1 + "\n    sweep: [AZFWNetworkRule.DestinationIP]\n", 5, "targets[0].sweep[0]", `no IP column "DestinationIP"`, "did you mean AZFWNetworkRule.DestinationIp?"},
		{"graph target with a sentinel table", "targets:\n  - name: a\n    sweep: [SigninLogs.IPAddress]\n", 3, "targets[0].sweep[0]", "unknown table", "the defender catalogue's tables"},
		{"graph column not IP", "targets:\n  - name: a\n    sweep: [DeviceNetworkEvents.DeviceName]\n", 3, "targets[0].sweep[0]", "no IP column", "DeviceNetworkEvents's IP columns: "},
		{"empty sweep", "targets:\n  - name: a\n    sweep: []\n", 3, "targets[0].sweep", "empty: nothing to sweep", "leave sweep: out"},
		{"column twice", "targets:\n  - name: a\n    sweep: [DeviceNetworkEvents.RemoteIP, DeviceNetworkEvents.RemoteIP]\n", 3, "targets[0].sweep[1]", "listed twice", ""},
		{"same tenant twice", "targets:\n  - name: a\n    azure: {tenant_id: T1}\n  - name: b\n    azure: {tenant_id: t1}\n", 4, "targets[1]", `the graph backend of tenant t1 is listed twice: targets\[0\] \(line 2\)`, "one target per tenant"},
		{"same inherited tenant twice", "azure:\n  tenant_id: T\ntargets:\n  - name: a\n  - name: b\n", 5, "targets[1]", "listed twice", ""},
		{"same workspace twice", "targets:\n  - {name: a, backend: sentinel, workspace_id: " + ws1 + ", azure: {tenant_id: T}}\n  - {name: b, backend: sentinel, workspace_id: " + strings.ToUpper(ws1) + ", azure: {tenant_id: T}}\n", 3, "targets[1]", "workspace .* of tenant T is listed twice", ""},
		{"bad auth", "targets:\n  - name: a\n    azure:\n      auth: managed_identity\n", 4, "targets[0].azure.auth", `"managed_identity" is not one of`, "did you mean managed-identity?"},
		{"authority host http", "targets:\n  - name: a\n    azure: {authority_host: 'http://login.example'}\n", 3, "targets[0].azure.authority_host", "is not https", ""},
		{"secret with two sources", "targets:\n  - name: a\n    azure:\n      client_secret: {env: A, file: /b}\n", 4, "targets[0].azure.client_secret", "exactly one of env, file or command", ""},
		{"unknown key in a target", "targets:\n  - name: a\n    workspace: x\n", 3, "targets[0].workspace", "unknown key", "did you mean workspace_id?"},
		{"unknown key in a target's azure", "targets:\n  - name: a\n    azure: {tennant_id: x}\n", 3, "targets[0].azure.tennant_id", "unknown key", "did you mean tenant_id?"},
		{"targets a mapping", "targets:\n  name: a\n", 2, "targets", "expected a list", ""},
		{"sweep cloud unknown", "sweep:\n  cloud: gov\n", 2, "sweep.cloud", `"gov" is not a cloud`, ""},
		{"sweep mde in china", "sweep:\n  api: mde\n  cloud: china\n", 3, "sweep.cloud", "no host in the china cloud", "api: graph"},
		{"sweep api sentinel", "sweep:\n  api: sentinel\n", 2, "sweep.api", "is not graph or mde", "list it under targets:"},
	}
	// A target that is not a mapping is one error, not one per key.
	if es := parseErrs(t, "targets: [1]\n"); len(es) != 1 || es[0].Key != "targets[0]" || !strings.Contains(es[0].Msg, "expected keys (name, backend, cloud") {
		t.Errorf("errors %v", es)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := parseErrs(t, tt.src)
			var found *Error
			for _, e := range es {
				if e.Line == tt.line && e.Key == tt.key && regexp.MustCompile(tt.msg).MatchString(e.Msg) {
					found = e
					break
				}
			}
			if found == nil {
				t.Fatalf("want line %d key %q msg ~ %q; got:\n%v", tt.line, tt.key, tt.msg, es)
			}
			if !strings.Contains(found.Hint, tt.hint) {
				t.Errorf("hint %q does not contain %q", found.Hint, tt.hint)
			}
			if want := fmt.Sprintf("c2sweep.yaml:%d: %s: ", tt.line, tt.key); !strings.HasPrefix(found.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", found.Error(), want)
			}
		})
	}
}

// Without targets: one target named default from sweep: and azure:.
func TestDefaultTarget(t *testing.T) {
	clearAzureEnv(t)
	t.Setenv("AZURE_TENANT_ID", "env-tenant")
	t.Setenv("AZURE_CLIENT_SECRET", "s3cret")
	cfg, warns := mustParse(t, "sweep:\n  api: mde\n  api_url: https://127.0.0.1:8443\n  cloud: usgov\n")
	if len(warns) != 1 || warns[0].Key != "sweep.api" || !strings.Contains(warns[0].Msg, "retirement began January 2026") || !strings.Contains(warns[0].Hint, "graph") {
		t.Errorf("warnings %v", warns)
	}
	if cfg.Targets != nil {
		t.Errorf("Targets %+v, want none listed", cfg.Targets)
	}
	ts := cfg.SweepTargets()
	if len(ts) != 1 {
		t.Fatalf("targets %+v", ts)
	}
	d := ts[0]
	if d.Name != "default" || d.Backend != "mde" || d.Cloud != "usgov" || d.APIURL != "https://127.0.0.1:8443" || d.Sweep != nil || d.Line != 0 {
		t.Errorf("default target %+v", d)
	}
	if d.Azure.TenantID != "env-tenant" || d.Azure.ClientSecret.Source() != "env:AZURE_CLIENT_SECRET" || d.Azure.Method() != "client-secret" {
		t.Errorf("azure %+v", d.Azure)
	}
	if d.Azure.AuthorityHost != "https://login.microsoftonline.us/" {
		t.Errorf("authority host %q, want the usgov login", d.Azure.AuthorityHost)
	}
	base, scope, err := d.Endpoint()
	if err != nil || base != "https://127.0.0.1:8443" || scope != "https://api-gov.securitycenter.microsoft.us/.default" {
		t.Errorf("endpoint %q %q %v", base, scope, err)
	}
	// An authority host set at the top wins over the cloud's.
	t.Setenv("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9443/")
	cfg, _ = mustParse(t, "sweep:\n  cloud: usgov\n")
	if d := cfg.SweepTargets()[0]; d.Azure.AuthorityHost != "https://127.0.0.1:9443/" || d.Backend != "graph" {
		t.Errorf("%+v", d)
	}
	// The defaults: graph in the public cloud.
	cfg = Default()
	d = cfg.SweepTargets()[0]
	base, scope, err = d.Endpoint()
	if d.Name != "default" || d.Backend != "graph" || d.Cloud != "public" || base != "https://graph.microsoft.com" || scope != "https://graph.microsoft.com/.default" || err != nil {
		t.Errorf("%+v %s %s %v", d, base, scope, err)
	}
	// Flags change the config after loading: the implicit target follows.
	cfg.Sweep.API = "mde"
	if d := cfg.SweepTargets()[0]; d.Backend != "mde" {
		t.Errorf("backend %s after the flag", d.Backend)
	}
}

// The inheritance rule of a listed target's azure:.
func TestTargetInheritance(t *testing.T) {
	clearAzureEnv(t)
	dir := t.TempDir()
	src := `azure:
  auth: client-secret
  tenant_id: top-tenant
  client_id: top-client
  client_secret: {env: TOP_SECRET}
  certificate_password: {env: TOP_CERT_PASSWORD}
targets:
  - name: inherits
  - name: own-secret
    azure:
      tenant_id: other
      client_secret: {env: OWN_SECRET}
  - name: own-cert
    azure:
      tenant_id: third
      certificate_path: own.pem
  - name: own-auth
    azure:
      tenant_id: fourth
      auth: managed-identity
  - name: gov
    cloud: usgov
    azure: {tenant_id: fifth}
  - name: gov-own-host
    cloud: usgov-dod
    azure: {tenant_id: sixth, authority_host: 'https://127.0.0.1:9443/'}
  - name: ws
    backend: sentinel
    workspace_id: ` + ws1 + `
  - name: ws-cols
    backend: sentinel
    workspace_id: 00000000-0000-0000-0000-000000000002
    sweep: [SigninLogs.IPAddress]
`
	cfg, warns, err := Parse(filepath.Join(dir, "c2sweep.yaml"), []byte(src))
	if err != nil || len(warns) != 0 {
		t.Fatalf("%v %v", err, warns)
	}
	ts := cfg.SweepTargets()
	by := map[string]Target{}
	for _, x := range ts {
		by[x.Name] = x
	}
	if len(ts) != 8 || ts[0].Name != "inherits" || ts[0].Line != 8 || ts[1].Line != 9 {
		t.Fatalf("targets %+v", ts)
	}
	type want struct {
		tenant, client, method, secret, cert, password, authority string
	}
	for name, w := range map[string]want{
		"inherits":     {"top-tenant", "top-client", "client-secret", "env:TOP_SECRET", "", "env:TOP_CERT_PASSWORD", ""},
		"own-secret":   {"other", "top-client", "client-secret", "env:OWN_SECRET", "", "unset", ""},
		"own-cert":     {"third", "top-client", "certificate", "unset", filepath.Join(dir, "own.pem"), "unset", ""},
		"own-auth":     {"fourth", "top-client", "managed-identity", "unset", "", "unset", ""},
		"gov":          {"fifth", "top-client", "client-secret", "env:TOP_SECRET", "", "env:TOP_CERT_PASSWORD", "https://login.microsoftonline.us/"},
		"gov-own-host": {"sixth", "top-client", "client-secret", "env:TOP_SECRET", "", "env:TOP_CERT_PASSWORD", "https://127.0.0.1:9443/"},
	} {
		a := by[name].Azure
		got := want{a.TenantID, a.ClientID, a.Method(), a.ClientSecret.Source(), a.CertificatePath, a.CertificatePassword.Source(), a.AuthorityHost}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
		}
	}
	if a := by["own-secret"].Azure; a.Auth != "auto" {
		t.Errorf("own material without auth signs in with auto, got %q", a.Auth)
	}
	// Config.Targets stays as written; the inherited values are only in
	// SweepTargets.
	if cfg.Targets[0].Azure.TenantID != "" || cfg.Targets[0].Backend != "graph" || cfg.Targets[0].Cloud != "public" {
		t.Errorf("as written: %+v", cfg.Targets[0])
	}
	// Sweep defaults: graph nil, sentinel the catalogue's remote columns.
	if by["inherits"].Sweep != nil {
		t.Errorf("graph sweep %v", by["inherits"].Sweep)
	}
	if s := by["ws"].Sweep; len(s) != 10 || !slices.Contains(s, kql.Target{Table: "CommonSecurityLog", Column: "DestinationIP"}) || !slices.Contains(s, kql.Target{Table: "OfficeActivity", Column: "ClientIP"}) {
		t.Errorf("sentinel default sweep %v", s)
	}
	if s := by["ws-cols"].Sweep; len(s) != 1 || s[0].String() != "SigninLogs.IPAddress" {
		t.Errorf("sentinel sweep %v", s)
	}
	base, scope, err := by["ws"].Endpoint()
	if err != nil || base != "https://api.loganalytics.io" || scope != "https://api.loganalytics.io/.default" {
		t.Errorf("sentinel endpoint %s %s %v", base, scope, err)
	}
	base, scope, _ = by["gov"].Endpoint()
	if base != "https://graph.microsoft.us" || scope != "https://graph.microsoft.us/.default" {
		t.Errorf("usgov graph endpoint %s %s", base, scope)
	}
	// Secrets of targets resolve, are named by their key and never printed.
	t.Setenv("OWN_SECRET", "hunter2-own")
	v, err := by["own-secret"].Azure.ClientSecret.Reveal(context.Background())
	if err != nil || v != "hunter2-own" {
		t.Errorf("reveal %q %v", v, err)
	}
	if _, err := by["inherits"].Azure.ClientSecret.Reveal(context.Background()); err == nil || !strings.Contains(err.Error(), "azure.client_secret") {
		t.Errorf("unset inherited secret: %v", err)
	}
	t.Setenv("OWN_SECRET", "")
	if _, err := by["own-secret"].Azure.ClientSecret.Reveal(context.Background()); err == nil || !strings.Contains(err.Error(), "targets[1].azure.client_secret") {
		t.Errorf("unset target secret: %v", err)
	}
	t.Setenv("OWN_SECRET", "hunter2-own")
	b, _ := json.Marshal(ts)
	if s := fmt.Sprintf("%+v %#v %s", ts, ts, b); strings.Contains(s, "hunter2") {
		t.Errorf("secret printed: %s", s)
	}
}

// A secret written in a target warns as at the top level; mde warns that
// it is being retired; sweep.api beside targets: is not used.
func TestTargetWarnings(t *testing.T) {
	clearAzureEnv(t)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "sweep:\n  api: graph\ntargets:\n  - name: a\n    backend: mde\n    azure:\n      tenant_id: t1\n      client_secret: inline-value\n" +
		"  - name: b\n    azure:\n      tenant_id: t2\n      client_secret: {file: " + secretFile + "}\n"
	cfg, warns := mustParse(t, src)
	var got []string
	for _, w := range warns {
		got = append(got, fmt.Sprintf("%d %s", w.Line, w.Key))
	}
	want := []string{"12 targets[1].azure.client_secret.file", "2 sweep.api", "5 targets[0].backend", "8 targets[0].azure.client_secret"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q\n%v", got, want, warns)
	}
	for _, w := range warns {
		if strings.Contains(w.Error(), "inline-value") {
			t.Errorf("warning shows the secret: %v", w)
		}
		if w.Key == "targets[0].backend" && (!strings.Contains(w.Msg, "retired") || !strings.Contains(w.Hint, "backend: graph")) {
			t.Errorf("mde warning %v / %s", w, w.Hint)
		}
	}
	if s := cfg.SweepTargets()[0].Azure.ClientSecret.String(); strings.Contains(s, "inline-value") || !strings.Contains(s, Redacted) {
		t.Errorf("secret %s", s)
	}
}

// The fingerprint covers the targets, and stays as it was without them.
func TestFingerprintCoversTargets(t *testing.T) {
	clearAzureEnv(t)
	fp := func(src string) string {
		t.Helper()
		cfg, _ := mustParse(t, src)
		return cfg.Fingerprint()
	}
	base := fp("")
	if fp("sweep:\n  cloud: public\n") != base {
		t.Error("cloud: public changed the fingerprint")
	}
	one := fp("targets:\n  - name: a\n    azure: {tenant_id: t1}\n")
	differ := []string{
		base,
		fp("sweep:\n  cloud: usgov\n"),
		fp("targets:\n  - name: b\n    azure: {tenant_id: t1}\n"),
		fp("targets:\n  - name: a\n    azure: {tenant_id: t2}\n"),
		fp("targets:\n  - name: a\n    cloud: usgov\n    azure: {tenant_id: t1}\n"),
		fp("targets:\n  - name: a\n    api_url: https://127.0.0.1:1\n    azure: {tenant_id: t1}\n"),
		fp("targets:\n  - name: a\n    sweep: [DeviceLogonEvents.RemoteIP]\n    azure: {tenant_id: t1}\n"),
		fp("targets:\n  - name: a\n    backend: sentinel\n    workspace_id: " + ws1 + "\n    azure: {tenant_id: t1}\n"),
	}
	for i, d := range differ {
		if d == one {
			t.Errorf("change %d does not change the fingerprint", i)
		}
	}
	// Secrets and sign-in methods are not what decides results.
	if fp("targets:\n  - name: a\n    azure: {tenant_id: t1, client_secret: {env: X}, auth: client-secret}\n") != one {
		t.Error("a secret changed the fingerprint")
	}
}

// The starter config's targets: example works when uncommented.
func TestStarterTargetsExample(t *testing.T) {
	clearAzureEnv(t)
	_, rest, ok := strings.Cut(StarterConfig(), "\n# targets:\n")
	if !ok {
		t.Fatal("the starter has no targets: example")
	}
	block, _, _ := strings.Cut(rest, "\n\n")
	var lines []string
	for _, l := range strings.Split("# targets:\n"+block, "\n") {
		lines = append(lines, strings.TrimPrefix(strings.TrimPrefix(l, "#"), " "))
	}
	src := strings.Join(lines, "\n") + "\n"
	cfg, warns, err := Parse(filepath.Join(t.TempDir(), "c2sweep.yaml"), []byte(src))
	if err != nil || len(warns) != 0 {
		t.Fatalf("%v %v\n%s", err, warns, src)
	}
	var names []string
	for _, x := range cfg.SweepTargets() {
		names = append(names, x.Name+"/"+x.Backend+"/"+x.Cloud)
	}
	if want := []string{"contoso/graph/public", "contoso-sentinel/sentinel/public", "agency/graph/usgov"}; !slices.Equal(names, want) {
		t.Errorf("targets %v, want %v", names, want)
	}
}
