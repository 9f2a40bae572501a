package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/loganalyticslab"
)

// The three-target config against a two-tenant lab, with the
// binary (it trusts this lab's CA, not the shared one): Defender XDR of
// tenant 0, tenant 0's Sentinel workspace and tenant 1 in the US Government
// cloud. One Shodan collection; each target exactly its own hits; then a
// wrong secret fails only its target, exit 2.
func TestRunThreeTargets(t *testing.T) {
	home := isolate(t)
	l := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Tenants: 2})
	agency := l.Creds.Tenants[1]
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "TERM=dumb", "AGENCY_SECRET=" + agency.ClientSecret}
	for k, v := range l.Env() {
		if k != "C2SWEEP_API_URL" { // the targets name their own
			env = append(env, k+"="+v)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c2sweep.yaml")
	write := func(agencySecret string) {
		t.Helper()
		yaml := fmt.Sprintf(`targets:
  - name: contoso
    backend: graph
    api_url: %[1]s
  - name: contoso-sentinel
    backend: sentinel
    workspace_id: %[2]s
    api_url: %[1]s
  - name: agency
    backend: graph
    cloud: usgov
    api_url: %[1]s
    azure:
      tenant_id: %[3]s
      client_id: %[4]s
      client_secret: {env: %[5]s}
      authority_host: %[1]s/
`, l.URL, loganalyticslab.Workspace, agency.TenantID, agency.ClientID, agencySecret)
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("AGENCY_SECRET")
	hunts := []string{"CobaltStrikeJARM", "DeimosC2"}
	state := filepath.Join(dir, "state.db")
	args := func(out string, more ...string) []string {
		a := []string{"--config", cfg, "--state", state, "run", "--out", out}
		for _, h := range hunts {
			a = append(a, "--hunt", h)
		}
		return append(a, more...)
	}

	// What one target costs in Shodan requests (its own state: no
	// carry-over); retries are not counted: the second run may start
	// within Shodan's second of the first.
	one := runBin(t, env, 2*time.Minute, append(args(filepath.Join(dir, "r0"), "--target", "contoso"), "--state", filepath.Join(dir, "one.db"))...)
	if one.code != 1 {
		t.Fatalf("run --target contoso: %s", one)
	}
	r := runBin(t, env, 2*time.Minute, args(filepath.Join(dir, "r1"))...)
	if r.code != 1 {
		t.Fatalf("run: %s", r)
	}
	if a, b := shodanRequests(t, one.stdout), shodanRequests(t, r.stdout); a != b {
		t.Errorf("%d Shodan requests for three targets, %d for one: want one collection", b, a)
	}
	for _, name := range []string{"contoso", "contoso-sentinel", "agency"} {
		if !strings.Contains(r.stdout, "  "+name+" ") {
			t.Errorf("the summary does not list target %s:\n%s", name, r.stdout)
		}
	}

	// Ground truth, from the world.
	want := map[string]map[string]int{"contoso": {}, "agency": {}, "contoso-sentinel": {}}
	tenantOf := map[string]int{}
	for _, c := range l.World.Contacts {
		tenantOf[c.Device] = c.Tenant
	}
	named := map[netip.Addr]bool{}
	for k := range truth(t, l, hunts...) {
		name := "contoso"
		if tenantOf[k.Device] == 1 {
			name = "agency"
		}
		want[name]["DeviceNetworkEvents "+k.IP+" "+k.ReportID]++
		named[netip.MustParseAddr(k.IP)] = true
	}
	for ip := range namedBy(t, l, hunts...) {
		named[ip] = true
	}
	now := time.Now()
	for _, c := range loganalyticslab.Of(l).Contacts {
		if named[c.ServerIP] && now.Sub(c.Time) < 30*24*time.Hour {
			want["contoso-sentinel"][c.Table+" "+c.ServerIP.String()]++
		}
	}
	if len(want["contoso"]) == 0 || len(want["agency"]) == 0 || len(want["contoso-sentinel"]) == 0 {
		t.Fatalf("the world has no hits for some target: %v", want)
	}

	h := runBin(t, env, time.Minute, "--config", cfg, "--state", state, "hits", "--events", "--format", "jsonl")
	if h.code != 0 {
		t.Fatalf("hits: %s", h)
	}
	got := map[string]map[string]int{"contoso": {}, "agency": {}, "contoso-sentinel": {}}
	sc := bufio.NewScanner(strings.NewReader(h.stdout))
	for sc.Scan() {
		var e struct {
			Target, Table, IP string
			ReportID          string `json:"report_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("hits line %q: %v", sc.Text(), err)
		}
		if got[e.Target] == nil {
			t.Fatalf("a hit of target %q", e.Target)
		}
		key := e.Table + " " + e.IP
		if e.Target != "contoso-sentinel" {
			key += " " + e.ReportID
		}
		got[e.Target][key]++
	}
	for name := range want {
		if fmt.Sprint(got[name]) != fmt.Sprint(want[name]) {
			t.Errorf("target %s:\n got %v\nwant %v", name, got[name], want[name])
		}
	}

	// The agency's secret is wrong: agency fails alone, the others sweep.
	write("NO_SUCH_SECRET_VAR")
	env = append(env, "NO_SUCH_SECRET_VAR=not-the-secret")
	r = runBin(t, env, 2*time.Minute, args(filepath.Join(dir, "r2"))...)
	if r.code != 2 {
		t.Fatalf("run with a wrong secret: %s", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "target agency: ") || !strings.Contains(r.stdout+r.stderr, "AADSTS7000215") {
		t.Errorf("the failure does not name the target and the cause:\n%s", r)
	}
	b, err := os.ReadFile(filepath.Join(runDir(t, filepath.Join(dir, "r2")), "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Outcome string `json:"outcome"`
		Targets []struct {
			Name, Outcome string
			Queries       int
		} `json:"targets"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]string{}
	for _, tg := range s.Targets {
		outcomes[tg.Name] = tg.Outcome
	}
	if s.Outcome != "partial" || outcomes["agency"] != "failed" || outcomes["contoso"] != "ok" || outcomes["contoso-sentinel"] != "ok" {
		t.Errorf("summary: outcome %s, targets %v", s.Outcome, outcomes)
	}
	rs := runBin(t, env, time.Minute, "--config", cfg, "--state", state, "runs", "--target", "agency")
	if rs.code != 0 || !strings.Contains(rs.stdout, "agency (failed)") {
		t.Errorf("runs --target agency:\n%s", rs)
	}
}

var shodanLine = regexp.MustCompile(`Source shodan: (\d+) requests? \((\d+) retried`)

// shodanRequests reads a run summary's Shodan requests, retries left out.
func shodanRequests(t *testing.T, stdout string) int {
	t.Helper()
	m := shodanLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no Shodan line in:\n%s", stdout)
	}
	n, _ := strconv.Atoi(m[1])
	retried, _ := strconv.Atoi(m[2])
	return n - retried
}
