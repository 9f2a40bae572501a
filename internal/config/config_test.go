package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"c2sweep/internal/kql"
)

// parseErrs parses src and returns its errors, failing if there are none.
func parseErrs(t *testing.T, src string) Errors {
	t.Helper()
	cfg, _, err := Parse("c2sweep.yaml", []byte(src))
	if err == nil {
		t.Fatalf("no error for:\n%s\nconfig: %+v", src, cfg)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	if cfg != nil {
		t.Errorf("config returned with an error")
	}
	return es
}

func mustParse(t *testing.T, src string) (*Config, Errors) {
	t.Helper()
	cfg, warns, err := Parse("c2sweep.yaml", []byte(src))
	if err != nil {
		t.Fatalf("unexpected error:\n%v\nfor:\n%s", err, src)
	}
	return cfg, warns
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		key  string
		msg  string // regexp on Msg
		hint string // substring of Hint
	}{
		{"unknown top-level key, known elsewhere", "builtin_hunts: true\nlookback: 30d\n", 2, "lookback", "unknown key", "lookback belongs under sweep:"},
		{"unknown top-level key, near a nested one", "lookbak: 30d\n", 1, "lookbak", "unknown key", "did you mean lookback (under sweep:)?"},
		{"unknown top-level key, nothing near", "frobnicate: 1\n", 1, "frobnicate", "unknown key", "known keys here: builtin_hunts, defaults, hunts"},
		{"unknown nested key in a hunt", "hunts:\n  - name: A\n    query: q\n    max_agee: 3d\n", 4, "hunts[0].max_agee", "unknown key", "did you mean max_age?"},
		{"unknown key in a section", "shodan:\n  credits: 5\n", 2, "shodan.credits", "unknown key", ""},
		{"unknown key in a secret", "shodan:\n  api_key: {evn: SHODAN_API_KEY}\n", 2, "shodan.api_key.evn", "unknown key", "did you mean env?"},
		{"unknown key in a sweep target", "defaults:\n  sweep:\n    - {table: DeviceNetworkEvents, colum: RemoteIP}\n", 3, "defaults.sweep[0].colum", "unknown key", "did you mean column?"},
		{"key set twice", "sweep:\n  api: graph\n  api: mde\n", 3, "sweep.api", `set twice \(first on line 2\)`, ""},
		{"section is a scalar", "shodan: 5\n", 1, "shodan", `expected keys \(api_key, api_url, credit_budget\), got "5"`, ""},
		{"hunts is a mapping", "hunts:\n  name: A\n", 2, "hunts", "expected a list", ""},
		{"top level is a list", "- a\n- b\n", 1, "", "expected keys", ""},
		{"pages not a number", "hunts:\n  - name: A\n    query: q\n    pages: two\n", 4, "hunts[0].pages", `"two" is not a whole number`, ""},
		{"pages a float", "defaults:\n  pages: 1.5\n", 2, "defaults.pages", `"1.5" is not a whole number`, ""},
		{"enabled yes", "hunts:\n  - name: PoshC2\n    enabled: yes\n", 3, "hunts[0].enabled", `"yes" is not true or false`, ""},
		{"query is a list", "hunts:\n  - name: A\n    query: [a, b]\n", 3, "hunts[0].query", "expected text, got a list", ""},
		{"bad duration", "hunts:\n  - name: A\n    query: q\n    max_age: 7x\n", 4, "hunts[0].max_age", `^"7x" is not a duration \(use 7d, 36h\)$`, ""},
		{"duration without unit", "defaults:\n  max_age: 7\n", 2, "defaults.max_age", `"7" has no unit \(use 7d or 7h\)`, ""},
		{"zero max age", "defaults:\n  max_age: 0s\n", 2, "defaults.max_age", "must be more than 0", ""},
		{"negative duration", "state:\n  indicator_ttl: -1d\n", 2, "state.indicator_ttl", "negative", ""},
		{"duration is a mapping", "sweep:\n  lookback: {days: 3}\n", 2, "sweep.lookback", "expected a duration", ""},
		{"duplicate hunt name", "hunts:\n  - name: Sliver\n    query: a\n  - name: Sliver\n    query: b\n", 4, "hunts[1].name", `"Sliver" is already used by hunts\[0\] \(line 2\)`, ""},
		{"duplicate hunt name, other case", "hunts:\n  - name: Sliver\n    query: a\n  - name: SLIVER\n    query: b\n", 4, "hunts[1].name", "already used", "ignoring case"},
		{"built-in name in other case", "hunts:\n  - name: poshc2\n    enabled: false\n", 2, "hunts[0].name", `differs from the built-in hunt "PoshC2" only in case`, "write PoshC2"},
		{"hunt name with a space", "hunts:\n  - name: Sliver HTTP\n    query: q\n", 2, "hunts[0].name", "may use only letters, digits", "file name"},
		{"hunt name with a path", "hunts:\n  - name: ../../etc/x\n    query: q\n", 2, "hunts[0].name", "may use only letters, digits", ""},
		{"hunt name reserved", "hunts:\n  - name: Summary\n    query: q\n", 2, "hunts[0].name", "reserved", ""},
		{"hunt without name", "hunts:\n  - query: q\n", 2, "hunts[0].name", "missing", ""},
		{"empty query", "hunts:\n  - name: A\n    query: '  '\n", 3, "hunts[0].query", "^empty$", ""},
		{"empty query on a built-in", "hunts:\n  - name: PoshC2\n    query: ''\n", 3, "hunts[0].query", "^empty$", ""},
		{"new hunt without query", "hunts:\n  - name: Sliver\n    pages: 1\n", 2, "hunts[0].query", "missing", "Shodan search"},
		{"built-in name without built-ins", "builtin_hunts: false\nhunts:\n  - name: PoshC2\n    enabled: true\n", 3, "hunts[0].query", "missing", "builtin_hunts is false, so PoshC2 does not inherit"},
		{"negative pages", "hunts:\n  - name: A\n    query: q\n    pages: -1\n", 4, "hunts[0].pages", "0 \\(all pages\\) or more", ""},
		{"unknown table", "hunts:\n  - name: A\n    query: q\n    sweep: [DeviceNetworkEvent.RemoteIP]\n", 4, "hunts[0].sweep[0]", `unknown table "DeviceNetworkEvent"`, "did you mean DeviceNetworkEvents?"},
		{"unknown column", "hunts:\n  - name: A\n    query: q\n    sweep:\n      - DeviceNetworkEvents.RemoteIp\n", 5, "hunts[0].sweep[0]", `no IP column "RemoteIp"`, "did you mean DeviceNetworkEvents.RemoteIP?"},
		{"not an IP column", "defaults:\n  sweep:\n    - {table: DeviceNetworkEvents, column: DeviceName}\n", 3, "defaults.sweep[0]", `no IP column "DeviceName"`, ""},
		{"target without column", "defaults:\n  sweep: [DeviceNetworkEvents]\n", 2, "defaults.sweep[0]", "is not a table and column", ""},
		{"target mapping half", "defaults:\n  sweep:\n    - {table: DeviceNetworkEvents}\n", 3, "defaults.sweep[0]", "needs both table and column", ""},
		{"empty sweep", "hunts:\n  - name: A\n    query: q\n    sweep: []\n", 4, "hunts[0].sweep", "empty: nothing to sweep", "enabled: false"},
		{"target twice", "defaults:\n  sweep: [DeviceNetworkEvents.RemoteIP, DeviceNetworkEvents.RemoteIP]\n", 2, "defaults.sweep[1]", "listed twice", ""},
		{"two documents", "builtin_hunts: true\n---\nbuiltin_hunts: false\n", 2, "", "a second YAML document", "remove the ---"},
		{"tab indentation", "shodan:\n\tcredit_budget: 5\n", 2, "", "tab in indentation", "spaces only"},
		{"tab deeper down", "hunts:\n  - name: A\n  \t query: q\n", 3, "", "tab in indentation", ""},
		// yaml reports the line before the unclosed [ here; the message says "near".
		{"syntax error", "hunts:\n  - name: A\n    query: [q\n", 2, "", "bad YAML near here: did not find expected ',' or ']'", ""},
		{"syntax error on line 1", "a: b: c\n", 1, "", "bad YAML near here: mapping values", ""},
		{"merge key", "defaults:\n  <<: {max_age: 3d}\n", 2, "defaults.<<", "merge keys", ""},
		{"lookback too long", "sweep:\n  lookback: 60d\n", 2, "sweep.lookback", "longer than the 30 days", "30d or less"},
		{"bad api", "sweep:\n  api: grpah\n", 2, "sweep.api", `"grpah" is not graph or mde`, ""},
		{"http api url", "sweep:\n  api_url: http://127.0.0.1:8443\n", 2, "sweep.api_url", "is not https", "SSL_CERT_FILE"},
		{"api url not a url", "shodan:\n  api_url: api.shodan.io\n", 2, "shodan.api_url", "is not a URL", ""},
		{"api url with credentials", "shodan:\n  api_url: https://u:p@x.example\n", 2, "shodan.api_url", "credentials in the URL", ""},
		{"max ips zero", "sweep:\n  max_ips_per_query: 0\n", 2, "sweep.max_ips_per_query", "not between 1 and 1000000", ""},
		{"credit budget negative", "shodan:\n  credit_budget: -5\n", 2, "shodan.credit_budget", "0 \\(no cap\\) or more", ""},
		{"bad auth", "azure:\n  auth: client_secret\n", 2, "azure.auth", `"client_secret" is not one of`, "did you mean client-secret?"},
		{"authority host http", "azure:\n  authority_host: http://login.example\n", 2, "azure.authority_host", "is not https", ""},
		{"secret with two sources", "azure:\n  client_secret: {env: A, file: /b}\n", 2, "azure.client_secret", "exactly one of env, file or command", ""},
		{"secret shell without command", "azure:\n  client_secret: {env: A, shell: true}\n", 2, "azure.client_secret", "only to command", ""},
		{"secret is a list", "azure:\n  client_secret: [a]\n", 2, "azure.client_secret", "expected a secret", ""},
		{"secret command unclosed quote", "azure:\n  client_secret: {command: \"pass show 'x\"}\n", 2, "azure.client_secret.command", "unclosed quote", ""},
		{"notify bad type", "notify:\n  - name: soc\n    type: tems\n    url: {env: U}\n", 3, "notify[0].type", `"tems" is not one of teams, slack, webhook`, "did you mean teams?"},
		{"notify without url", "notify:\n  - name: soc\n    type: slack\n", 2, "notify[0].url", "missing", ""},
		{"notify duplicate", "notify:\n  - {name: soc, type: slack, url: {env: A}}\n  - {name: soc, type: teams, url: {env: B}}\n", 3, "notify[1].name", "already used", ""},
		{"bad cron", "serve:\n  schedule: \"0 6 * *\"\n", 2, "serve.schedule", "is not a cron schedule", "five fields"},
		{"schedule and every", "serve:\n  schedule: \"@daily\"\n  every: 24h\n", 3, "serve.every", "either schedule or every", ""},
		{"every too short", "serve:\n  every: 30s\n", 2, "serve.every", "shorter than a minute", ""},
		{"bad listen", "serve:\n  listen: 9464\n", 2, "serve.listen", "is not host:port", ""},
		{"ttl zero", "state:\n  indicator_ttl: 0\n", 2, "state.indicator_ttl", "must be more than 0", ""},
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
			if found.File != "c2sweep.yaml" {
				t.Errorf("file %q", found.File)
			}
			s := found.Error()
			wantPrefix := "c2sweep.yaml:" + itoa(tt.line) + ": "
			if tt.key != "" {
				wantPrefix += tt.key + ": "
			}
			if !strings.HasPrefix(s, wantPrefix) {
				t.Errorf("Error() = %q, want prefix %q", s, wantPrefix)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// The example of the assignment, word for word.
func TestErrorText(t *testing.T) {
	src := "hunts:\n  - name: A\n    query: a\n  - name: B\n    query: b\n  - name: C\n    query: c\n    max_age: 7x\n"
	es := parseErrs(t, src)
	want := `c2sweep.yaml:8: hunts[2].max_age: "7x" is not a duration (use 7d, 36h)`
	if len(es) != 1 || es.Error() != want {
		t.Fatalf("got %q, want %q", es.Error(), want)
	}
}

func TestSeveralErrorsAtOnce(t *testing.T) {
	src := `lookbak: 30d
hunts:
  - name: Sliver HTTP
    query: q
  - name: B
    query: ''
    sweep: [Nope.IP]
sweep:
  api: mdee
  lookback: 7x
`
	es := parseErrs(t, src)
	var got []string
	for _, e := range es {
		got = append(got, itoa(e.Line)+" "+e.Key)
	}
	want := []string{"1 lookbak", "3 hunts[0].name", "6 hunts[1].query", "7 hunts[1].sweep[0]", "9 sweep.api", "10 sweep.lookback"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q\n%v", got, want, es)
	}
	if n := strings.Count(es.Error(), "\n"); n != len(want)-1 {
		t.Errorf("want one line per error, got:\n%v", es)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	def := Default()
	for _, src := range []string{"", "\n\n", "# only a comment\n", "---\n", "~\n", "---\n# c\n...\n"} {
		cfg, warns := mustParse(t, src)
		if len(warns) != 0 {
			t.Errorf("%q: warnings %v", src, warns)
		}
		if !reflect.DeepEqual(cfg.Hunts, def.Hunts) {
			t.Errorf("%q: hunts %+v, want %+v", src, cfg.Hunts, def.Hunts)
		}
		if cfg.Fingerprint() != def.Fingerprint() {
			t.Errorf("%q: fingerprint differs", src)
		}
		if cfg.Sweep != def.Sweep || cfg.State != def.State || cfg.Serve != def.Serve {
			t.Errorf("%q: sections differ from defaults", src)
		}
	}
}

func TestBuiltins(t *testing.T) {
	want := map[string]string{
		"CobaltStrikeJARM":        "ssl.jarm:07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2",
		"CobaltStrikeProductName": `product:"Cobalt Strike Beacon"`,
		"PoshC2":                  `ssl:"P18055077"`,
		"EmpireC2":                `product:"Empire C2"`,
		"DeimosC2":                "http.html_hash:-14029177",
	}
	hs := Default().EnabledHunts()
	if len(hs) != 5 {
		t.Fatalf("%d hunts", len(hs))
	}
	order := []string{"CobaltStrikeJARM", "CobaltStrikeProductName", "PoshC2", "EmpireC2", "DeimosC2"}
	for i, h := range hs {
		if h.Name != order[i] || h.Query != want[h.Name] {
			t.Errorf("hunt %d = %s %q", i, h.Name, h.Query)
		}
		if h.MaxAge != Duration(7*day) || h.Pages != 0 || !h.Enabled || !reflect.DeepEqual(h.Sweep, []kql.Target{{Table: "DeviceNetworkEvents", Column: "RemoteIP"}}) {
			t.Errorf("%s settings: %+v", h.Name, h)
		}
	}
}

func names(hs []Hunt) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

func TestOverrideAndExtend(t *testing.T) {
	cfg, _ := mustParse(t, `
defaults:
  max_age: 3d
  sweep: [DeviceNetworkEvents.RemoteIP, DeviceLogonEvents.RemoteIP]
hunts:
  - name: SliverHTTP
    query: 'ssl.jarm:"abc"'
    pages: 2
    sweep:
      - {table: IdentityLogonEvents, column: IPAddress}
  - name: PoshC2
    enabled: false
  - name: DeimosC2
    max_age: 14d
  - name: EmpireC2
    query: 'product:"Empire"'
  - name: Quiet
    query: q
    enabled: false
`)
	if got, want := names(cfg.Hunts), []string{"CobaltStrikeJARM", "CobaltStrikeProductName", "PoshC2", "EmpireC2", "DeimosC2", "SliverHTTP", "Quiet"}; !slices.Equal(got, want) {
		t.Fatalf("hunts %v, want %v", got, want)
	}
	if got, want := names(cfg.EnabledHunts()), []string{"CobaltStrikeJARM", "CobaltStrikeProductName", "EmpireC2", "DeimosC2", "SliverHTTP"}; !slices.Equal(got, want) {
		t.Fatalf("enabled %v, want %v", got, want)
	}
	posh, _ := cfg.Hunt("PoshC2")
	if posh.Enabled || posh.Query != `ssl:"P18055077"` || posh.MaxAge != Duration(3*day) {
		t.Errorf("PoshC2 override lost the built-in query or defaults: %+v", posh)
	}
	if !strings.HasPrefix(posh.Origin, "built-in, changed at c2sweep.yaml:11") {
		t.Errorf("origin %q", posh.Origin)
	}
	deimos, _ := cfg.Hunt("DeimosC2")
	if deimos.MaxAge != Duration(14*day) || deimos.Query != "http.html_hash:-14029177" || len(deimos.Sweep) != 2 {
		t.Errorf("DeimosC2 %+v", deimos)
	}
	empire, _ := cfg.Hunt("EmpireC2")
	if empire.Query != `product:"Empire"` {
		t.Errorf("EmpireC2 query %q", empire.Query)
	}
	jarm, _ := cfg.Hunt("CobaltStrikeJARM")
	if jarm.MaxAge != Duration(3*day) || jarm.Origin != "built-in" || !slices.Contains(jarm.Sweep, kql.Target{Table: "DeviceLogonEvents", Column: "RemoteIP"}) {
		t.Errorf("defaults not applied to an untouched built-in: %+v", jarm)
	}
	sliver, _ := cfg.Hunt("SliverHTTP")
	if sliver.Pages != 2 || sliver.MaxAge != Duration(3*day) || !sliver.Enabled || !reflect.DeepEqual(sliver.Sweep, []kql.Target{{Table: "IdentityLogonEvents", Column: "IPAddress"}}) || sliver.Origin != "c2sweep.yaml:6" {
		t.Errorf("SliverHTTP %+v", sliver)
	}
}

func TestBuiltinsOff(t *testing.T) {
	cfg, _ := mustParse(t, "builtin_hunts: false\nhunts:\n  - name: PoshC2\n    query: 'ssl:\"other\"'\n  - name: A\n    query: a\n")
	if got := names(cfg.EnabledHunts()); !slices.Equal(got, []string{"PoshC2", "A"}) {
		t.Fatalf("hunts %v", got)
	}
	if h, _ := cfg.Hunt("PoshC2"); h.Query != `ssl:"other"` || h.Origin == "built-in" {
		t.Errorf("%+v", h)
	}
	cfg, _ = mustParse(t, "builtin_hunts: false\n")
	if len(cfg.Hunts) != 0 {
		t.Errorf("hunts %v", names(cfg.Hunts))
	}
}

func TestDefaultsDisabled(t *testing.T) {
	cfg, _ := mustParse(t, "defaults: {enabled: false}\nhunts:\n  - name: PoshC2\n    enabled: true\n")
	if got := names(cfg.EnabledHunts()); !slices.Equal(got, []string{"PoshC2"}) {
		t.Fatalf("enabled %v", got)
	}
}

func TestEnabledHuntsIsACopy(t *testing.T) {
	cfg := Default()
	hs := cfg.EnabledHunts()
	hs[0].Sweep[0].Table = "Changed"
	hs[0].Name = "Changed"
	if cfg.Hunts[0].Sweep[0].Table != "DeviceNetworkEvents" || cfg.Hunts[0].Name != "CobaltStrikeJARM" {
		t.Fatal("EnabledHunts shares memory with the config")
	}
	// Built-ins must not share slices either.
	cfg.Hunts[1].Sweep[0].Table = "Changed"
	if Default().Hunts[1].Sweep[0].Table != "DeviceNetworkEvents" || cfg.Hunts[2].Sweep[0].Table != "DeviceNetworkEvents" {
		t.Fatal("hunts share their sweep slice")
	}
}

func TestFingerprint(t *testing.T) {
	fp := func(src string) string {
		t.Helper()
		cfg, _ := mustParse(t, src)
		return cfg.Fingerprint()
	}
	base := fp("")
	if len(base) != 16 || base != fp("") || base != Default().Fingerprint() {
		t.Fatalf("not stable: %q", base)
	}
	same := []string{
		"shodan: {api_key: {env: OTHER}, credit_budget: 5}\n",
		"azure: {tenant_id: t, client_secret: {file: /x}}\n",
		"serve: {schedule: '@daily'}\nstate: {path: /tmp/x.db}\n",
		"notify: [{name: soc, type: slack, url: {env: U}}]\n",
		"hunts:\n  - name: PoshC2\n    query: 'ssl:\"P18055077\"'\n", // restated, not changed
		"# comment\nbuiltin_hunts: true\n",
	}
	for _, s := range same {
		if got := fp(s); got != base {
			t.Errorf("fingerprint changed by %q", s)
		}
	}
	different := []string{
		"hunts:\n  - name: PoshC2\n    query: 'ssl:\"other\"'\n",
		"hunts:\n  - name: PoshC2\n    enabled: false\n",
		"hunts:\n  - name: New\n    query: q\n",
		"defaults: {max_age: 3d}\n",
		"defaults: {pages: 1}\n",
		"defaults: {sweep: [DeviceLogonEvents.RemoteIP]}\n",
		"sweep: {api: mde}\n",
		"sweep: {lookback: 7d}\n",
		"sweep: {max_ips_per_query: 100}\n",
		"sweep: {api_url: 'https://lab.example'}\n",
	}
	seen := map[string]string{base: "base"}
	for _, s := range different {
		got := fp(s)
		if prev, dup := seen[got]; dup {
			t.Errorf("fingerprint of %q equals that of %q", s, prev)
		}
		seen[got] = s
	}
}

func TestEnvironmentFillsWhatTheFileLeavesEmpty(t *testing.T) {
	t.Setenv("SHODAN_API_URL", "https://shodan.lab.example")
	t.Setenv("AZURE_TENANT_ID", "env-tenant")
	t.Setenv("AZURE_CLIENT_ID", "env-client")
	t.Setenv("AZURE_CLIENT_SECRET", "env-secret-value")
	t.Setenv("AZURE_AUTHORITY_HOST", "https://login.lab.example")
	t.Setenv("AZURE_CLIENT_CERTIFICATE_PATH", "/env/cert.pem")
	cfg := Default()
	if cfg.Shodan.APIURL != "https://shodan.lab.example" || cfg.Azure.TenantID != "env-tenant" || cfg.Azure.ClientID != "env-client" ||
		cfg.Azure.AuthorityHost != "https://login.lab.example" || cfg.Azure.CertificatePath != "/env/cert.pem" {
		t.Errorf("env not used: %+v %+v", cfg.Shodan, cfg.Azure)
	}
	if cfg.Azure.ClientSecret.Source() != "env:AZURE_CLIENT_SECRET" {
		t.Errorf("client secret source %q", cfg.Azure.ClientSecret.Source())
	}
	cfg, _ = mustParse(t, "shodan: {api_url: 'https://file.example'}\nazure: {tenant_id: file-tenant, client_secret: {env: MY_SECRET}}\n")
	if cfg.Shodan.APIURL != "https://file.example" || cfg.Azure.TenantID != "file-tenant" || cfg.Azure.ClientID != "env-client" {
		t.Errorf("file should win, env fill the rest: %+v %+v", cfg.Shodan, cfg.Azure)
	}
	if cfg.Azure.ClientSecret.Source() != "env:MY_SECRET" {
		t.Errorf("client secret source %q", cfg.Azure.ClientSecret.Source())
	}

	t.Setenv("SHODAN_API_URL", "")
	t.Setenv("AZURE_CLIENT_SECRET", "")
	cfg = Default()
	if cfg.Shodan.APIURL != DefaultShodanURL || cfg.Azure.ClientSecret.IsSet() {
		t.Errorf("defaults without env: %q %v", cfg.Shodan.APIURL, cfg.Azure.ClientSecret)
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	closed := filepath.Join(dir, "closed")
	os.WriteFile(open, []byte("k"), 0o644)
	os.WriteFile(closed, []byte("k"), 0o600)
	os.Chmod(open, 0o644) // umask
	src := "shodan:\n  api_key: PLAINTEXT-KEY-123\nazure:\n  client_secret: {file: " + open + "}\n  certificate_password: {file: " + closed + "}\nserve:\n  listen: 0.0.0.0:9464\n"
	cfg, warns := mustParse(t, src)
	var lines []string
	for _, w := range warns {
		lines = append(lines, w.Error()+"|hint: "+w.Hint)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{
		"c2sweep.yaml:2: shodan.api_key: the secret is written in the config file|hint: use {env: VAR}",
		"c2sweep.yaml:4: azure.client_secret.file: " + open + " can be read by group or others (mode 0644)|hint: chmod 600",
		"c2sweep.yaml:7: serve.listen: 0.0.0.0:9464 is reachable beyond this host",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing warning %q in:\n%s", want, joined)
		}
	}
	if len(warns) != 3 {
		t.Errorf("want 3 warnings, got:\n%s", joined)
	}
	if strings.Contains(joined, "PLAINTEXT-KEY-123") {
		t.Error("warning shows the secret")
	}
	if v, err := cfg.Shodan.APIKey.Reveal(t.Context()); err != nil || v != "PLAINTEXT-KEY-123" {
		t.Errorf("inline secret: %v", err)
	}
	for _, l := range []string{"127.0.0.1:9464", "[::1]:9464", "localhost:9464"} {
		if _, warns := mustParse(t, "serve: {listen: '"+l+"'}\n"); len(warns) != 0 {
			t.Errorf("%s: %v", l, warns)
		}
	}
}

func TestLoadFileAndRelativePaths(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "shodan.key"), []byte("  from-file-key\n"), 0o600)
	path := filepath.Join(dir, "c2sweep.yaml")
	os.WriteFile(path, []byte("shodan: {api_key: {file: shodan.key}}\nstate: {path: state/c2sweep.db}\nazure: {certificate_path: certs/app.pem}\n"), 0o600)
	cfg, warns, err := Load(path)
	if err != nil || len(warns) != 0 {
		t.Fatalf("%v %v", err, warns)
	}
	if cfg.File != path || cfg.State.Path != filepath.Join(dir, "state", "c2sweep.db") || cfg.Azure.CertificatePath != filepath.Join(dir, "certs", "app.pem") {
		t.Errorf("paths not relative to the file: %q %q", cfg.State.Path, cfg.Azure.CertificatePath)
	}
	if v, err := cfg.Shodan.APIKey.Reveal(t.Context()); err != nil || v != "from-file-key" {
		t.Errorf("key %q %v", v, err)
	}

	_, _, err = Load(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	cfg, _, err = Load("")
	if err != nil || len(cfg.Hunts) != 5 {
		t.Errorf("Load(\"\"): %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, []byte(strings.Repeat("# x\n", maxFileSize/4+1)), 0o600)
	if _, _, err := Load(big); err == nil || !strings.Contains(err.Error(), "right file") {
		t.Errorf("big file: %v", err)
	}
	// A load error names the real file.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("\nsweep: {lookback: 7x}\n"), 0o600)
	if _, _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+":2: sweep.lookback: ") {
		t.Errorf("bad file: %v", err)
	}
}

func TestAliasesAndShorthands(t *testing.T) {
	cfg, _ := mustParse(t, `
defaults:
  sweep: &nets
    - DeviceNetworkEvents.RemoteIP
    - {table: CloudAppEvents, column: IPAddress}
hunts:
  - name: A
    query: 1234
    sweep: *nets
azure:
  client_secret: {command: [pass, show, "azure app"], timeout: 3s}
`)
	a, _ := cfg.Hunt("A")
	if a.Query != "1234" || len(a.Sweep) != 2 || a.Sweep[1] != (kql.Target{Table: "CloudAppEvents", Column: "IPAddress"}) {
		t.Errorf("%+v", a)
	}
	src := cfg.Azure.ClientSecret.sources[0]
	if !slices.Equal(src.args, []string{"pass", "show", "azure app"}) || src.timeout.String() != "3s" || src.shell {
		t.Errorf("%+v", src)
	}
}

func TestSetMaxAge(t *testing.T) {
	cfg, _ := mustParse(t, "hunts:\n  - name: PoshC2\n    max_age: 1d\n")
	cfg.SetMaxAge(Duration(2 * day))
	for _, h := range cfg.Hunts {
		if h.MaxAge != Duration(2*day) {
			t.Errorf("%s: %v", h.Name, h.MaxAge)
		}
	}
}

func TestDefaultStatePath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/lib/x")
	if p, _ := DefaultStatePath(); p != "/var/lib/x/c2sweep/state.db" {
		t.Error(p)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/h")
	if p, _ := DefaultStatePath(); p != "/home/h/.local/state/c2sweep/state.db" {
		t.Error(p)
	}
}

// An http:// API root is refused from the environment as from the file,
// and the error names the variable.
func TestPlainHTTPRefusedFromTheEnvironment(t *testing.T) {
	for _, v := range []string{"SHODAN_API_URL", "AZURE_AUTHORITY_HOST"} {
		t.Run(v, func(t *testing.T) {
			t.Setenv(v, "http://api.example.net")
			for name, load := range map[string]func() error{
				"no file": func() error { _, _, err := Load(""); return err },
				"file":    func() error { _, _, err := Parse("c2sweep.yaml", []byte("sweep: {api: graph}\n")); return err },
			} {
				err := load()
				if err == nil || !strings.Contains(err.Error(), "environment: "+v+": \"http://api.example.net\" is not https") {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
	if err := CheckURL("http://graph.example"); err == nil || !strings.Contains(err.Error(), "is not https") {
		t.Errorf("CheckURL(http) = %v", err)
	}
	if err := CheckURL("https://graph.example"); err != nil {
		t.Errorf("CheckURL(https) = %v", err)
	}
}
