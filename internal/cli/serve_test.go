package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/lab"
)

// serve, at its default log level, says what each sweep did and warns once
// that nobody is told about new hits.
func TestServeLogsEachSweepAtTheDefaultLevel(t *testing.T) {
	state, out := runEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	t.Setenv("C2SWEEP_SERVE_OUT", out) // serve's --out, as the README documents
	go func() {
		code <- cli.Main(ctx, []string{"--state", state, "serve", "--every", "1h", "--now", "--listen", freePort(t),
			"--hunt", "DeimosC2"}, &stdout, &stderr)
	}()
	finished := regexp.MustCompile(`level=INFO msg="serve: sweep finished" sweep=1 outcome=hits new_hits=([1-9][0-9]*) .*results=` +
		regexp.QuoteMeta(out) + `/\d{8}T\d{6}Z`)
	eventually(t, 30*time.Second, "the sweep's log line", func() bool { return finished.MatchString(stderr.String()) })
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("serve exited %d:\n%s", c, stderr.String())
	}
	logs := stderr.String()
	if n := strings.Count(logs, "no notify target is configured"); n != 1 {
		t.Errorf("the missing notify target is warned %d times, want once:\n%s", n, logs)
	}
	if s := readSummary(t, out); s.Outcome != "hits" || s.Totals.NewHits == 0 {
		t.Errorf("summary under --out: %+v", s)
	}
	noSecrets(t, "serve's log", []byte(logs))
}

// Durations and counts that mean nothing are refused, naming the flag,
// before anything is called.
func TestSweepFlagsRefuseMeaninglessValues(t *testing.T) {
	state, out := runEnv(t)
	before := shared(t).Calls()
	for _, c := range []struct{ flag, value, want string }{
		{"--lookback", "0", "--lookback 0: a window must be more than 0"},
		{"--lookback", "-3d", "--lookback: \"-3d\" is negative"},
		{"--max-age", "0", "--max-age 0: a window must be more than 0"},
		{"--credit-budget", "-1", "--credit-budget -1:"},
		{"--max-ips-per-query", "-5", "--max-ips-per-query -5:"},
	} {
		for _, cmd := range []string{"run", "serve"} {
			args := []string{"--state", state, cmd, c.flag + "=" + c.value, "--out", out}
			if cmd == "serve" {
				args = append(args, "--every", "1h", "--listen", freePort(t))
			}
			r := mustCode(t, cli.ExitCannotRun, args...)
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("%s %s=%s: stderr lacks %q:\n%s", cmd, c.flag, c.value, c.want, r)
			}
		}
	}
	r := mustCode(t, cli.ExitCannotRun, "--state", state, "serve", "--every=-1h")
	if !strings.Contains(r.stderr, "--every -1h0m0s: an interval must be more than 0") {
		t.Errorf("serve --every=-1h:\n%s", r)
	}
	if after := shared(t).Calls(); after["shodan"] != before["shodan"] {
		t.Errorf("a refused flag still called Shodan: %v -> %v", before, after)
	}
}

// `--out DIR` is the parent of run directories in run as in serve: a second
// run into the same DIR gets its own directory; nothing is written over.
func TestRunOutIsTheParentOfRunDirectories(t *testing.T) {
	state, out := runEnv(t)
	mustCode(t, cli.ExitHits, "--state", state, "run", "--hunt", "DeimosC2", "--out", out)
	first := runDir(t, out)
	before, err := os.ReadFile(filepath.Join(first, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	mustCode(t, cli.ExitNoHits, "--state", state, "run", "--hunt", "DeimosC2", "--out", out)
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Fatalf("two runs into %s made %d directories, want 2", out, len(ents))
	}
	after, _ := os.ReadFile(filepath.Join(first, "summary.json"))
	if string(after) != string(before) {
		t.Error("the second run wrote over the first one's summary.json")
	}
}

// lab --help documents every key the lab's fault parser knows, from the one
// list (lab.FaultKeys): a new fault key cannot go undocumented.
func TestLabHelpDocumentsEveryFaultKey(t *testing.T) {
	isolate(t)
	help := mustCode(t, 0, "lab", "--help").stdout
	bad := mustCode(t, cli.ExitCannotRun, "lab", "--faults", "nonsense=1").stderr
	for _, k := range lab.FaultKeys {
		line := `(?m)^\s+` + regexp.QuoteMeta(k.Key+"="+k.Arg) + `\s+` + regexp.QuoteMeta(k.Help) + `$`
		if !regexp.MustCompile(line).MatchString(help) {
			t.Errorf("lab --help does not document %s=%s:\n%s", k.Key, k.Arg, help)
		}
		if !strings.Contains(bad, k.Key) {
			t.Errorf("the unknown-key error does not list %s:\n%s", k.Key, bad)
		}
	}
	if len(lab.FaultKeys) < 7 {
		t.Errorf("only %d fault keys", len(lab.FaultKeys))
	}
}
