package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/lab/defenderlab"
	"c2sweep/internal/stix/stixtest"
)

// pushConfig writes a config whose push: section is enabled; what the
// test pushes to the shared lab is forgotten when it ends.
func pushConfig(t *testing.T, extra string) string {
	t.Helper()
	t.Cleanup(func() { defenderlab.Of(shared(t)).Forget("c2sweep") })
	cfg := filepath.Join(t.TempDir(), "c2sweep.yaml")
	src := "push:\n  enabled: true\n  action: Alert\n  severity: High\n" + extra
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// run with push: pushes what the sweep stored, through the lab's
// indicators API: the lab then holds every active C2 IP of the state as
// c2sweep's, and a second run sends nothing.
func TestRunPushesToDefender(t *testing.T) {
	state, out := runEnv(t)
	svc := defenderlab.Of(shared(t))
	cfg := pushConfig(t, "")
	st := func(args ...string) []string { return append([]string{"--config", cfg, "--state", state}, args...) }

	r := mustCode(t, cli.ExitHits, st("run", "--hunt", "CobaltStrikeJARM", "--hunt", "DeimosC2", "--out", out)...)
	if !strings.Contains(r.stdout, "pushed ") || !strings.Contains(r.stdout, " 0 failed") {
		t.Fatalf("run with push: no push line:\n%s", r)
	}
	var inds []struct {
		IP string `json:"ip"`
	}
	if err := json.Unmarshal([]byte(mustCode(t, 0, st("indicators", "--active", "--json")...).stdout), &inds); err != nil || len(inds) == 0 {
		t.Fatalf("indicators: %v", err)
	}
	held := map[string]string{} // value -> action, c2sweep's only
	for _, in := range svc.Indicators() {
		if in.Application == "c2sweep" {
			held[in.IndicatorValue] = in.Action
		}
	}
	for _, in := range inds {
		if held[in.IP] != "Alert" {
			t.Errorf("%s: the lab holds it as %q, want c2sweep's Alert indicator", in.IP, held[in.IP])
		}
	}

	before := svc.Calls()
	r = mustCode(t, 0, st("run", "--hunt", "CobaltStrikeJARM", "--hunt", "DeimosC2", "--out", out)...)
	if !strings.Contains(r.stdout, ": 0 created, 0 updated, 0 deleted, 0 failed") {
		t.Fatalf("second run pushed something:\n%s", r)
	}
	if c := svc.Calls(); c.Import != before.Import || c.Delete != before.Delete {
		t.Fatalf("second run wrote to the lab: %+v -> %+v", before, c)
	}
}

// A push that fails never loses the sweep: the hits are stored, the
// summary tells the failure, the exit code is 2 and the hint names the
// permission.
func TestRunPushFailureIsPartial(t *testing.T) {
	state, out := runEnv(t)
	svc := defenderlab.Of(shared(t))
	cfg := pushConfig(t, "")
	svc.Deny(true)
	defer svc.Deny(false)
	r := mustCode(t, cli.ExitPartial, "--config", cfg, "--state", state, "run", "--hunt", "DeimosC2", "--out", out)
	if !strings.Contains(r.stdout, "push to defender") || !strings.Contains(r.stderr, "Ti.ReadWrite.All") {
		t.Fatalf("failed push:\n%s", r)
	}
	if !strings.Contains(r.stdout, "NEW HITS") {
		t.Fatalf("the sweep's hits are not shown:\n%s", r)
	}
	h := mustCode(t, 0, "--state", state, "hits", "--json")
	if strings.TrimSpace(h.stdout) == "[]" || strings.TrimSpace(h.stdout) == "" {
		t.Fatalf("no hits stored after a failed push:\n%s", h)
	}
}

// push: is strict: an unknown key, a wrong action and a plain-http root
// are refused before anything runs.
func TestPushConfigIsChecked(t *testing.T) {
	state, _ := runEnv(t)
	for _, c := range []struct{ extra, want string }{
		{"  only_hit: true\n", "only_hit"},
		{"  hunts: [NoSuchHunt]\n", "NoSuchHunt"},
		{"  api_url: http://127.0.0.1:1\n", "not https"},
	} {
		cfg := pushConfig(t, c.extra)
		r := mustCode(t, cli.ExitCannotRun, "--config", cfg, "--state", state, "run", "--dry-run")
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: want %q in:\n%s", c.extra, c.want, r)
		}
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("push:\n  action: Nuke\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := mustCode(t, cli.ExitCannotRun, "--config", cfg, "--state", state, "run", "--dry-run"); !strings.Contains(r.stderr, "AlertAndBlock") {
		t.Errorf("bad action:\n%s", r)
	}
	t.Setenv("C2SWEEP_DEFENDER_API_URL", "http://127.0.0.1:1")
	if r := mustCode(t, cli.ExitCannotRun, "--config", pushConfig(t, ""), "--state", state, "run", "--dry-run"); !strings.Contains(r.stderr, "C2SWEEP_DEFENDER_API_URL") {
		t.Errorf("http root from the environment:\n%s", r)
	}
}

// run --stix writes the same bundle as export stix of the state it leaves.
func TestRunWritesStix(t *testing.T) {
	state, out := runEnv(t)
	file := filepath.Join(t.TempDir(), "run.stix.json")
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }
	mustCode(t, cli.ExitCannotRun, st("run", "--hunt", "DeimosC2", "--out", out, "--stix", file)...) // no --org
	r := mustCode(t, cli.ExitHits, st("run", "--hunt", "DeimosC2", "--out", out, "--stix", file, "--org", "Contoso Lab")...)
	if !strings.Contains(r.stdout, "wrote "+file) {
		t.Fatalf("run --stix:\n%s", r)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := stixtest.Validate(data); err != nil || !strings.Contains(string(data), `"sighting"`) {
		t.Fatalf("run --stix bundle: %v", err)
	}
	if e := mustCode(t, 0, st("export", "stix", "--org", "Contoso Lab")...); e.stdout != string(data) {
		t.Error("run --stix and export stix of the same state differ")
	}
}

// serve hands each sweep on as run does: push: and stix: of the config.
func TestServePushesAndWritesStix(t *testing.T) {
	state, out := runEnv(t)
	svc := defenderlab.Of(shared(t))
	bundle := filepath.Join(t.TempDir(), "serve.stix.json")
	cfg := pushConfig(t, "stix:\n  file: "+bundle+"\n  org: Contoso Lab\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, []string{"--config", cfg, "--state", state, "serve", "--every", "1h", "--now", "--listen", freePort(t),
			"--out", out, "--hunt", "DeimosC2"}, &stdout, &stderr)
	}()
	eventually(t, 30*time.Second, "the sweep's log line", func() bool { return strings.Contains(stderr.String(), "serve: sweep finished") })
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("serve exited %d:\n%s", c, stderr.String())
	}
	logs := stderr.String()
	if !strings.Contains(logs, "serve: handed on") || !strings.Contains(logs, "pushed ") || !strings.Contains(logs, "wrote "+bundle) {
		t.Fatalf("serve did not hand the sweep on:\n%s", logs)
	}
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := stixtest.Validate(data); err != nil {
		t.Fatalf("serve's bundle: %v", err)
	}
	var inds []struct {
		IP string `json:"ip"`
	}
	if err := json.Unmarshal([]byte(mustCode(t, 0, "--state", state, "indicators", "--active", "--json").stdout), &inds); err != nil || len(inds) == 0 {
		t.Fatalf("indicators: %v", err)
	}
	held := map[string]bool{}
	for _, in := range svc.Indicators() {
		held[in.IndicatorValue] = held[in.IndicatorValue] || in.Application == "c2sweep"
	}
	for _, in := range inds {
		if !held[in.IP] {
			t.Errorf("%s: not held by the lab as c2sweep's after serve's sweep", in.IP)
		}
	}
}
