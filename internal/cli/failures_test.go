package cli_test

// Failures before the sweep: each told as what it is, with its one hint,
// recorded in `runs`, and before any Shodan credit is spent.

import (
	"c2sweep/internal/lab/labtest"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/lab"
	"c2sweep/internal/store"
)

// checkFatalOnly checks the output of a run that could not start: exit 3,
// nothing on stdout (no table of zeros), the error and exactly one hint
// on stderr, and no promise that "the next run" retries anything.
func checkFatalOnly(t *testing.T, r result, want, hint *regexp.Regexp) {
	t.Helper()
	if r.code != cli.ExitCannotRun {
		t.Errorf("want exit %d: %s", cli.ExitCannotRun, r)
	}
	if strings.TrimSpace(r.stdout) != "" {
		t.Errorf("a run that could not start printed results:\n%s", r)
	}
	if !want.MatchString(r.stderr) {
		t.Errorf("stderr does not match %s:\n%s", want, r)
	}
	hints := regexp.MustCompile(`(?m)^hint: .*$`).FindAllString(r.stderr, -1)
	if len(hints) != 1 || !hint.MatchString(hints[0]) {
		t.Errorf("want one hint matching %s, got %q", hint, hints)
	}
	if strings.Contains(r.stderr, "next run") || strings.Contains(r.stderr, "not authorised") {
		t.Errorf("misleading text:\n%s", r)
	}
}

// A sign-in that fails for the network, TLS or Entra itself is told as
// that, with a network/proxy/CA hint; only Entra's refusal of the
// credentials gets the credentials hint. Each is recorded with its reason.
func TestSignInFailuresToldAsWhatTheyAre(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}})
	down := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Faults: lab.Faults{Rate5xx: 1, Only: "entra"}})
	other := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 2}})
	closed := freePort(t)
	host := strings.TrimPrefix(l.URL, "https://")
	for _, tc := range []struct {
		name       string
		lab        *lab.Lab
		env        map[string]string
		want, hint string
	}{
		{"closed port", l, map[string]string{"AZURE_AUTHORITY_HOST": "https://" + closed + "/"},
			`cannot reach Entra ID at ` + closed + `: .*connection refused`, `proxy.*AZURE_AUTHORITY_HOST`},
		{"missing CA file", l, map[string]string{"SSL_CERT_FILE": "/nonexistent/c2sweep-ca.pem"},
			`sign-in: TLS: Entra ID at ` + host + `: `, `SSL_CERT_FILE names /nonexistent/c2sweep-ca.pem, which cannot be read`},
		{"another CA", l, map[string]string{"SSL_CERT_FILE": other.CAFile},
			`sign-in: TLS: Entra ID at ` + host + `: .*(unknown authority|not trusted)`, `SSL_CERT_FILE \(.*\) must hold the CA`},
		{"entra 5xx", down, nil,
			`Entra ID at .* failed: answered 50[23]`, `failing.*try again later`},
		{"wrong secret", l, map[string]string{"AZURE_CLIENT_SECRET": "Wr0ng8Q~" + strings.Repeat("x", 32)},
			`AADSTS7000215`, `check AZURE_CLIENT_SECRET`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := tc.lab.Env()
			for k, v := range tc.env {
				vars[k] = v
			}
			env := childEnv(t, vars)
			state := filepath.Join(t.TempDir(), "state.db")
			before := tc.lab.Calls()["shodan"]
			out := filepath.Join(t.TempDir(), "out")
			r := runBin(t, env, 90*time.Second, "--state", state, "run", "--hunt", "DeimosC2", "--out", out)
			want, hint := regexp.MustCompile(tc.want), regexp.MustCompile(tc.hint)
			checkFatalOnly(t, r, want, hint)
			if tc.name != "wrong secret" && strings.Contains(r.stderr, "AZURE_CLIENT_SECRET") {
				t.Errorf("a %s failure blamed on the credentials:\n%s", tc.name, r)
			}
			if n := tc.lab.Calls()["shodan"] - before; n != 0 {
				t.Errorf("%d Shodan calls before the failed sign-in", n)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a run that could not start made %s", out)
			}
			runs := binRuns(t, env, state)
			if len(runs) != 1 || runs[0].Outcome != "failed" || !want.MatchString(runs[0].Error) || strings.Contains(runs[0].Error, "hint:") {
				t.Errorf("recorded runs: %+v", runs)
			}
			noSecrets(t, "runs", []byte(runs[0].Error))
		})
	}
}

// Pre-flight: an --out that cannot be made, or a hunting API root that
// does not answer, stops the run before Shodan is asked anything; the run
// is recorded with its reason, shown by run --json, runs --json and runs.
func TestPreflightSpendsNoShodanCredit(t *testing.T) {
	state, _ := runEnv(t)
	l := shared(t)
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed := freePort(t)
	for _, tc := range []struct {
		name       string
		args       []string
		want, hint string
	}{
		{"out under a file", []string{"--out", filepath.Join(file, "results")},
			`results directory ` + regexp.QuoteMeta(filepath.Join(file, "results")) + `/\S+: .*not a directory`, `--out`},
		{"hunting API down", []string{"--out", filepath.Join(t.TempDir(), "r"), "--api-url", "https://" + closed},
			`cannot reach the hunting API \(graph\) at ` + closed, `proxy.*--api-url`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := l.Calls()["shodan"]
			args := append([]string{"--state", state, "run", "--hunt", "DeimosC2"}, tc.args...)
			r := c2sweep(t, args...)
			if n := l.Calls()["shodan"] - before; n != 0 {
				t.Errorf("the pre-flight failure came after %d Shodan calls", n)
			}
			want := regexp.MustCompile(tc.want)
			checkFatalOnly(t, r, want, regexp.MustCompile(tc.hint))

			// run --json: the summary, with the reason.
			r = c2sweep(t, append(args, "--json")...)
			var s struct {
				RunID   int64  `json:"run_id"`
				Outcome string `json:"outcome"`
				Error   string `json:"error"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.Outcome != "failed" || !want.MatchString(s.Error) || s.RunID == 0 {
				t.Errorf("run --json: %+v (%v)\n%s", s, err, r)
			}
			var runs []store.Run
			r = mustCode(t, 0, "--state", state, "runs", "--json")
			if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || len(runs) == 0 ||
				runs[0].ID != s.RunID || runs[0].Outcome != "failed" || !want.MatchString(runs[0].Error) {
				t.Errorf("runs --json: %+v (%v)", runs, err)
			}
			r = mustCode(t, 0, "--state", state, "runs")
			if !strings.Contains(r.stdout, "ERROR") || !strings.Contains(r.stdout, s.Error[:min(len(s.Error), 60)]) {
				t.Errorf("the runs table does not show the reason:\n%s", r.stdout)
			}
		})
	}
}

// A run that cannot even be set up (no Shodan key) is recorded with why.
func TestRefusedRunIsRecorded(t *testing.T) {
	state, out := runEnv(t)
	t.Setenv("SHODAN_API_KEY", "")
	os.Unsetenv("SHODAN_API_KEY")
	r := mustCode(t, cli.ExitCannotRun, "--state", state, "run", "--hunt", "DeimosC2", "--out", out)
	if strings.TrimSpace(r.stdout) != "" || strings.Count(r.stderr, "hint: ") != 1 {
		t.Errorf("want the error and one hint only:\n%s", r)
	}
	var runs []store.Run
	r = mustCode(t, 0, "--state", state, "runs", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || len(runs) != 1 || runs[0].Outcome != "failed" ||
		!regexp.MustCompile(`(?i)shodan api key`).MatchString(runs[0].Error) {
		t.Errorf("runs --json: %+v (%v)", runs, err)
	}
}

// The cron recipe never loses a hit: a run killed after it stored hits,
// then a run that fails its sign-in, then a clean run; every stored hit
// reaches the webhook exactly once, the killed run's already with the
// failed one.
func TestKilledRunsHitsAreDeliveredOnce(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Faults: lab.Faults{Latency: 300 * time.Millisecond, Only: "graph"}})
	sink, err := labtest.StartWebhookSink(labtest.WebhookSinkOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c2sweep.yaml")
	if err := os.WriteFile(cfg, []byte("notify:\n  - name: soc\n    type: webhook\n    url: {env: SOC_WEBHOOK_URL}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := l.Env()
	vars["SOC_WEBHOOK_URL"] = sink.URL
	env := childEnv(t, vars)
	state := filepath.Join(dir, "state.db")
	args := []string{"--config", cfg, "--state", state, "run", "--hunt", "CobaltStrikeJARM", "--hunt", "CobaltStrikeProductName", "--max-ips-per-query", "2"}

	delivered := func() map[string]int {
		got := map[string]int{}
		for _, r := range sink.Accepted() {
			var b struct {
				Hits []struct{ IP, Device, Time string }
			}
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatalf("webhook body: %v", err)
			}
			for _, h := range b.Hits {
				got[h.IP+"|"+h.Device+"|"+h.Time]++
			}
		}
		return got
	}
	stored := func() []storedHit {
		return decodeHits(t, runBin(t, env, 10*time.Second, "--state", state, "hits", "--events", "--since", "30d", "--format", "json").stdout)
	}

	// Killed once some hits are stored (each query takes 300 ms).
	p := start(t, env, append(args, "--out", filepath.Join(dir, "out1"))...)
	eventually(t, 30*time.Second, "hits stored by the first run", func() bool {
		if l.Calls()["graph"] < 3 {
			return false
		}
		st, err := store.Open(t.Context(), state, store.Options{MustExist: true})
		if err != nil {
			return false
		}
		defer st.Close()
		c, err := st.Counts(t.Context())
		return err == nil && c.Hits > 0
	})
	p.cmd.Process.Kill()
	p.wait(t, 5*time.Second)
	killed := len(stored())
	if killed == 0 {
		t.Fatal("the killed run stored no hit")
	}

	// A run that cannot sign in still delivers them.
	bad := childEnv(t, func() map[string]string {
		v := map[string]string{}
		for k, x := range vars {
			v[k] = x
		}
		v["AZURE_CLIENT_SECRET"] = "Wr0ng8Q~" + strings.Repeat("y", 32)
		return v
	}())
	if r := runBin(t, bad, 60*time.Second, append(args, "--out", filepath.Join(dir, "out2"))...); r.code != cli.ExitCannotRun {
		t.Fatalf("run with a wrong secret: %s", r)
	}
	if got := delivered(); len(got) != killed {
		t.Errorf("after the failed run %d distinct hits were delivered, want the killed run's %d", len(got), killed)
	}

	// A clean run delivers its own, and nothing twice.
	runBin(t, env, 60*time.Second, append(args, "--out", filepath.Join(dir, "out3"))...)
	all := stored()
	got := delivered()
	if len(got) != len(all) {
		t.Errorf("%d distinct hits delivered, %d stored (%d by the killed run)", len(got), len(all), killed)
	}
	for k, n := range got {
		if n != 1 {
			t.Errorf("hit %s delivered %d times", k, n)
		}
	}
}

// A tenant over its CPU quota: one hunting call, the run backs off, and
// the command line says why and what to do once, with the other queries
// left for the next run.
func TestOverQuotaRunBacksOffWithItsHint(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Faults: lab.Faults{CPUQuotaRate: 1, Only: "graph"}})
	env := childEnv(t, l.Env())
	dir := t.TempDir()
	r := runBin(t, env, 60*time.Second, "--state", filepath.Join(dir, "state.db"), "run",
		"--hunt", "CobaltStrikeJARM", "--max-ips-per-query", "2", "--out", filepath.Join(dir, "out"))
	if r.code == 0 {
		t.Fatalf("want a failed run:\n%s", r)
	}
	if calls := l.Calls()["graph"]; calls != 1 {
		t.Errorf("the lab saw %d hunting calls, want 1", calls)
	}
	if strings.Count(r.stderr, "hint: the tenant has spent its advanced-hunting CPU quota") != 1 || !strings.Contains(r.stdout, "more not sent") ||
		!strings.Contains(r.stderr, "retried by the next run") {
		t.Errorf("want the over-quota hint once and the queries not sent reported:\n%s", r)
	}
}

// A config warning says what to do on its own hint line, and text from
// the file (a key, a value) reaches the terminal escaped.
func TestConfigWarningHintsAndEscapes(t *testing.T) {
	dir := isolate(t)
	cfg := filepath.Join(dir, "c.yaml")
	src := "shodan:\n  api_key: PLAINKEY123\nhunts:\n  - name: \"evil\\e[2J\\u202e\"\n    query: 'x'\n    max_age: 1q\n"
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	r := c2sweep(t, "--config", cfg, "hunts")
	if !strings.Contains(r.stderr, "warning: "+cfg+":2: shodan.api_key: the secret is written in the config file\nhint: use {env: VAR}") {
		t.Errorf("want the warning and its hint line:\n%s", r)
	}
	if strings.ContainsAny(r.stderr, "\x1b\u202e") || strings.Contains(r.stderr, "PLAINKEY123") {
		t.Errorf("raw control text or the secret on the terminal:\n%q", r.stderr)
	}
}
