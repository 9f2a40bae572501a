//go:build unix

package cli_test

// The built binary as a process: killed mid-sweep, two runs on one state,
// the lab command, and the scheduled service. These tests run in parallel
// with each other; each passes its child a complete environment of its own.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/lab"
	"c2sweep/internal/store"
)

// checkState opens the state database as a fresh process would and runs
// SQLite's integrity check.
func checkState(t *testing.T, path string) {
	t.Helper()
	st, err := store.Open(context.Background(), path, store.Options{MustExist: true})
	if err != nil {
		t.Fatalf("state does not open clean: %v", err)
	}
	defer st.Close()
	if err := st.Check(context.Background()); err != nil {
		t.Fatalf("state integrity: %v", err)
	}
}

func binRuns(t *testing.T, env []string, state string) []store.Run {
	t.Helper()
	r := runBin(t, env, 10*time.Second, "--state", state, "runs", "--json")
	var runs []store.Run
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &runs) != nil {
		t.Fatalf("runs --json: %s", r)
	}
	return runs
}

func TestCrashMidSweepLosesNothing(t *testing.T) {
	t.Parallel()
	// Every hunting call takes 300 ms and carries two indicators: the sweep
	// is a string of queries to kill the process in the middle of.
	l := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Faults: lab.Faults{Latency: 300 * time.Millisecond, Only: "graph"}})
	env := childEnv(t, l.Env())
	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	hunts := []string{"--hunt", "CobaltStrikeJARM", "--hunt", "CobaltStrikeProductName", "--max-ips-per-query", "2"}
	want := truth(t, l, "CobaltStrikeJARM", "CobaltStrikeProductName")

	p := start(t, env, append([]string{"--state", state, "run", "--out", filepath.Join(dir, "out1")}, hunts...)...)
	eventually(t, 20*time.Second, "the third hunting query", func() bool { return l.Calls()["graph"] >= 3 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := p.wait(t, 5*time.Second)
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("run was not killed mid-sweep: %s", r)
	}
	checkState(t, state)
	killedCalls := l.Calls()["graph"]

	// The next run completes, and reports only what the killed one did not.
	out2 := filepath.Join(dir, "out2")
	r = runBin(t, env, 30*time.Second, append([]string{"--state", state, "run", "--out", out2}, hunts...)...)
	checkState(t, state)
	hits := decodeHits(t, runBin(t, env, 10*time.Second, "--state", state, "hits", "--events", "--since", "30d", "--format", "json").stdout)
	sameHits(t, hits, want) // none lost, none twice
	byRun := map[int64]int{}
	for _, h := range hits {
		byRun[h.RunID]++
	}
	s2 := readSummary(t, out2)
	if s2.Totals.NewHits != byRun[s2.RunID] || byRun[s2.RunID]+byRun[s2.RunID-1] != len(want) {
		t.Errorf("run 2 reported %d new hits; stored hits by run: %v; want %d in all", s2.Totals.NewHits, byRun, len(want))
	}
	wantCode := cli.ExitNoHits
	if byRun[s2.RunID] > 0 {
		wantCode = cli.ExitHits
	}
	if r.code != wantCode || s2.Outcome == "partial" {
		t.Errorf("run after the crash: want exit %d, got %s", wantCode, r)
	}
	t.Logf("killed after %d hunting calls; hits committed by the killed run: %d, by the next: %d (of %d)",
		killedCalls, byRun[s2.RunID-1], byRun[s2.RunID], len(want))
	// The killed run is recorded as interrupted once the next one starts.
	runs := binRuns(t, env, state)
	if len(runs) != 2 || runs[1].Outcome != "interrupted" || runs[0].Outcome != "ok" {
		t.Errorf("runs after a crash: %+v", runs)
	}
	noSecretsIn(t, dir)
}

func TestConcurrentRunsOnOneState(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Faults: lab.Faults{Latency: 300 * time.Millisecond, Only: "graph"}})
	env := childEnv(t, l.Env())
	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	args := func(out string, extra ...string) []string {
		return append([]string{"--state", state, "run", "--hunt", "DeimosC2", "--max-ips-per-query", "1", "--out", filepath.Join(dir, out)}, extra...)
	}

	a := start(t, env, args("a")...)
	// A holds the run lock from before its first Shodan call to its end.
	eventually(t, 10*time.Second, "the first run to start", func() bool { return l.Calls()["shodan"] >= 1 })

	b := runBin(t, env, 10*time.Second, args("b")...)
	if b.code != cli.ExitCannotRun {
		t.Fatalf("second run on a locked state: want exit 3, got %s", b)
	}
	if !strings.Contains(b.stderr, "pid "+strconv.Itoa(a.cmd.Process.Pid)) || !regexp.MustCompile(`(?m)^hint: .*--wait`).MatchString(b.stderr) {
		t.Errorf("refusal does not name the lock holder or give a hint:\n%s", b.stderr)
	}
	if strings.Count(b.stderr, "hint:") != 1 {
		t.Errorf("refusal repeats its hint:\n%s", b.stderr)
	}

	c := start(t, env, args("c", "--wait")...)
	ra := a.wait(t, 30*time.Second)
	rc := c.wait(t, 30*time.Second)
	if ra.code != cli.ExitHits {
		t.Errorf("first run: %s", ra)
	}
	if rc.code != cli.ExitNoHits {
		t.Errorf("waiting run: want exit 0 (the first run reported the hits), got %s", rc)
	}
	checkState(t, state)
	runs := binRuns(t, env, state)
	if len(runs) != 2 || runs[0].Outcome != "ok" || runs[1].Outcome != "ok" {
		t.Fatalf("runs: %+v", runs)
	}
	// The waiting run began only after the first had finished.
	if runs[0].Started.Before(runs[1].Finished) {
		t.Errorf("runs overlapped: %v started before %v finished", runs[0].Started, runs[1].Finished)
	}
	sameHits(t, decodeHits(t, runBin(t, env, 10*time.Second, "--state", state, "hits", "--events", "--since", "30d", "--format", "json").stdout), truth(t, l, "DeimosC2"))
	noSecretsIn(t, dir)
}

// parseEnvFile reads `export K='V'` lines as a shell would source them.
func parseEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	line := regexp.MustCompile(`^export ([A-Z_][A-Z0-9_]*)='((?:[^']|'\\'')*)'$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		m := line.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("%s: not an export line: %q", path, text)
		}
		env[m[1]] = strings.ReplaceAll(m[2], `'\''`, `'`)
	}
	return env
}

func TestLabCommandServesARun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "lab.env")
	addr := freePort(t)
	labProc := start(t, childEnv(t, nil), "lab", "--listen", addr, "--write-env", envFile)
	eventually(t, 15*time.Second, "the lab to serve", func() bool { return strings.Contains(labProc.stderr.String(), "Ctrl-C stops the lab.") })

	env := parseEnvFile(t, envFile)
	for _, k := range []string{"SHODAN_API_KEY", "SHODAN_API_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST", "SSL_CERT_FILE", "C2SWEEP_API_URL"} {
		if env[k] == "" {
			t.Errorf("%s lacks %s", envFile, k)
		}
	}
	if env["SHODAN_API_URL"] != "https://"+addr {
		t.Errorf("SHODAN_API_URL=%q, want the --listen address", env["SHODAN_API_URL"])
	}
	if fi, err := os.Stat(envFile); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("env file holds secrets but is readable by others: %v", fi.Mode())
	}
	secretsMu.Lock()
	secrets = append(secrets, env["SHODAN_API_KEY"], env["AZURE_CLIENT_SECRET"])
	secretsMu.Unlock()

	// `. lab.env && c2sweep run` sweeps the lab.
	state, out := filepath.Join(dir, "state.db"), filepath.Join(dir, "out")
	r := runBin(t, childEnv(t, env), 30*time.Second, "--state", state, "run", "--hunt", "DeimosC2", "--out", out)
	if r.code != cli.ExitHits {
		t.Fatalf("run against the lab command: %s", r)
	}
	s := readSummary(t, out)
	if s.Totals.NewHits == 0 || s.Totals.Indicators == 0 {
		t.Errorf("summary: %+v", s.Totals)
	}
	if !regexp.MustCompile(`(?m)^  ws-\d{4}\.corp\.contoso\.lab\s`).MatchString(r.stdout) {
		t.Errorf("no hit shown:\n%s", r.stdout)
	}

	if err := labProc.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rl := labProc.wait(t, 10*time.Second)
	if rl.code != 0 || !strings.Contains(rl.stderr, "lab stopped") || rl.stdout != "" {
		t.Errorf("lab on SIGINT (its banner belongs on stderr, stdout empty): %s", rl)
	}
	// The lab logged the sweep's requests, key redacted.
	if !strings.Contains(rl.stderr, "/shodan/host/search") || !strings.Contains(rl.stderr, "/v1.0/security/runHuntingQuery") {
		t.Errorf("lab log lacks the sweep's requests:\n%s", rl.stderr)
	}
	noSecretsIn(t, dir, envFile)
}

func TestServeHealthAndMetrics(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 2}})
	env := childEnv(t, l.Env())
	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	addr := freePort(t)
	p := start(t, env, "--state", state, "serve", "--every", "1s", "--now", "--listen", addr,
		"--hunt", "DeimosC2", "--out", filepath.Join(dir, "out"))

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var health struct {
		Status      string     `json:"status"`
		LastSuccess *time.Time `json:"last_success"`
	}
	eventually(t, 20*time.Second, "/healthz to report ok", func() bool {
		code, body := get("/healthz")
		if code == 0 {
			return false
		}
		if err := json.Unmarshal([]byte(body), &health); err != nil {
			t.Fatalf("/healthz is not JSON: %v\n%s", err, body)
		}
		return code == 200 && health.Status == "ok"
	})
	if health.LastSuccess == nil {
		t.Errorf("/healthz ok without a last success")
	}
	code, metrics := get("/metrics")
	if code != 200 || !regexp.MustCompile(`(?m)^c2sweep_runs_total\{outcome="success"\} [1-9]`).MatchString(metrics) {
		t.Errorf("/metrics (%d) lacks a successful c2sweep_runs_total:\n%s", code, metrics)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := p.wait(t, 40*time.Second)
	if r.code != 0 {
		t.Errorf("serve on SIGTERM: %s", r)
	}
	if strings.Contains(r.stderr, "panic") {
		t.Errorf("serve stderr:\n%s", r.stderr)
	}
	checkState(t, state)
	runs := binRuns(t, env, state)
	if len(runs) == 0 {
		t.Fatal("serve recorded no run")
	}
	for _, run := range runs {
		if run.Command != "serve" || run.Outcome == "running" {
			t.Errorf("serve run %+v", run)
		}
	}
	sameHits(t, decodeHits(t, runBin(t, env, 10*time.Second, "--state", state, "hits", "--events", "--since", "30d", "--format", "json").stdout), truth(t, l, "DeimosC2"))
	noSecretsIn(t, dir)
}
