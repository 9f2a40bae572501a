package cli_test

// Shared machinery of the command-line tests: a clean environment, the
// binary (built once, on demand), one in-process lab for the in-process
// runs, the lab's ground truth, and the secret check every output passes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/config"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/emulator"
	"c2sweep/internal/lab/labtest"
)

// envPrefixes are variables of the developer's shell that would change
// what c2sweep does; TestMain clears them so nothing leaks into a test.
var envPrefixes = []string{"C2SWEEP_", "SHODAN_", "AZURE_", "SSL_CERT_", "REQUESTS_CA_BUNDLE", "IDENTITY_", "MSI_"}

var (
	tmpRoot string // removed after the tests

	binOnce sync.Once
	binPath string
	binErr  error

	labOnce   sync.Once
	sharedLab *lab.Lab
	sharedErr error

	secretsMu sync.Mutex
	secrets   []string // every lab's Shodan key and client secret
)

func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range envPrefixes {
			if strings.HasPrefix(k, p) {
				os.Unsetenv(k)
			}
		}
	}
	var err error
	tmpRoot, err = os.MkdirTemp("", "c2sweep-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	if sharedLab != nil {
		sharedLab.Close()
	}
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// isolate gives a test its own HOME and state directory, so nothing of the
// developer's (a Shodan key file, a state database) is read or written.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("TERM", "dumb")
	return home
}

// result is one command's outcome.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// c2sweep runs the command line in-process with the test's environment.
func c2sweep(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &out, &errb)
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	noSecrets(t, "stdout of c2sweep "+strings.Join(args, " "), out.Bytes())
	noSecrets(t, "stderr of c2sweep "+strings.Join(args, " "), errb.Bytes())
	return r
}

// mustCode runs c2sweep and fails the test unless it exits with want.
func mustCode(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := c2sweep(t, args...)
	if r.code != want {
		t.Fatalf("c2sweep %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	return r
}

// binary builds cmd/c2sweep once per test binary run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(tmpRoot, "c2sweep")
		cmd := exec.Command("go", "build", "-o", binPath, "c2sweep/cmd/c2sweep")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// startLab starts a lab for one test and remembers its secrets.
func startLab(t *testing.T, o lab.Options) *lab.Lab {
	t.Helper()
	l := labtest.Start(t, o)
	addSecrets(l)
	return l
}

func addSecrets(l *lab.Lab) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	secrets = append(secrets, l.Creds.ShodanKey, l.Creds.ClientSecret)
}

// shared is the one lab in-process runs use. Go reads SSL_CERT_FILE once
// per process, so every in-process client must trust the same CA: one lab.
// Its world is seed 1 with the default sizes, as `c2sweep demo` serves.
func shared(t *testing.T) *lab.Lab {
	t.Helper()
	labOnce.Do(func() {
		// It outlives every test, so not labtest.Start: the process's end stops it.
		sharedLab, sharedErr = emulator.Start(context.Background(), lab.Options{World: lab.WorldConfig{Seed: 1}})
		if sharedErr == nil {
			addSecrets(sharedLab)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedLab
}

// labEnv points the in-process command line at l.
func labEnv(t *testing.T, l *lab.Lab) {
	t.Helper()
	for k, v := range l.Env() {
		t.Setenv(k, v)
	}
}

// noSecrets fails the test when data holds a lab's Shodan key or client
// secret.
func noSecrets(t *testing.T, what string, data []byte) {
	t.Helper()
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, s := range secrets {
		if s != "" && bytes.Contains(data, []byte(s)) {
			t.Errorf("%s holds a secret (%.4s...)", what, s)
		}
	}
}

// noSecretsIn checks every file under dir (results, state database, WAL).
func noSecretsIn(t *testing.T, dir string, except ...string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || slices.Contains(except, p) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		noSecrets(t, p, b)
		return nil
	})
	if err != nil {
		t.Errorf("scanning %s: %v", dir, err)
	}
	if n == 0 {
		t.Errorf("no file under %s to check for secrets", dir)
	}
}

// childEnv is a complete environment for the binary: nothing of the
// developer's, a private HOME, plus the given variables.
func childEnv(t *testing.T, extra map[string]string) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"TMPDIR=" + os.TempDir(),
		"TERM=dumb",
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// proc is the binary running in the background.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.b.Bytes())
}

func (s *syncBuffer) String() string { return string(s.Bytes()) }

// start runs the binary in the background; the test's cleanup kills it if
// it is still running and checks its output for secrets.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		noSecrets(t, "stdout of c2sweep "+strings.Join(args, " "), p.stdout.Bytes())
		noSecrets(t, "stderr of c2sweep "+strings.Join(args, " "), p.stderr.Bytes())
	})
	return p
}

// wait waits for the process to exit and returns its result.
func (p *proc) wait(t *testing.T, timeout time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%v did not exit within %s\nstdout:\n%s\nstderr:\n%s", p.cmd.Args, timeout, p.stdout, p.stderr)
	}
	return result{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
}

// runBin runs the binary to the end.
func runBin(t *testing.T, env []string, timeout time.Duration, args ...string) result {
	t.Helper()
	return start(t, env, args...).wait(t, timeout)
}

// eventually polls cond every 20ms until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort picks a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hitKey identifies an event in the lab and in `hits --format json`.
type hitKey struct {
	Device   string
	ReportID string
	IP       string
}

// namedBy names, for each fresh indicator of the named built-in hunts in
// l's world, the hunts that found it: what a run sweeps.
func namedBy(t *testing.T, l *lab.Lab, hunts ...string) map[netip.Addr][]string {
	t.Helper()
	cfg := config.Default()
	now := time.Now().UTC()
	named := map[netip.Addr][]string{}
	for _, name := range hunts {
		h, ok := cfg.Hunt(name)
		if !ok {
			t.Fatalf("no built-in hunt %s", name)
		}
		banners, err := l.World.Search(h.Query)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[netip.Addr]bool{}
		for _, b := range banners {
			if !b.IP.IsValid() || now.Sub(b.Timestamp) > time.Duration(h.MaxAge) {
				continue
			}
			ip := b.IP.Unmap()
			if !seen[ip] {
				seen[ip] = true
				named[ip] = append(named[ip], name)
			}
		}
	}
	return named
}

// truth is the hits a sweep of the named built-in hunts must report in l's
// world, with the hunts each is attributed to: the contacts in
// DeviceNetworkEvents (the default sweep) within the 30-day lookback whose
// server some hunt's query matches with a banner seen within 7 days.
func truth(t *testing.T, l *lab.Lab, hunts ...string) map[hitKey][]string {
	t.Helper()
	now := time.Now().UTC()
	named := namedBy(t, l, hunts...)
	want := map[hitKey][]string{}
	for _, c := range l.World.Contacts {
		if c.Table != "DeviceNetworkEvents" || c.Old || now.Sub(c.Time) >= 30*24*time.Hour {
			continue
		}
		if hs := named[c.ServerIP]; len(hs) > 0 {
			sorted := slices.Clone(hs)
			sort.Strings(sorted)
			want[hitKey{c.Device, strconv.FormatInt(c.ReportID, 10), c.ServerIP.String()}] = sorted
		}
	}
	if len(want) == 0 {
		t.Fatalf("the lab's world (seed %d) has no contact the hunts %v find: the test would prove nothing", l.World.Config.Seed, hunts)
	}
	return want
}

// storedHit is the part of `hits --format json` the tests read.
type storedHit struct {
	Table      string    `json:"table"`
	IP         string    `json:"ip"`
	Timestamp  time.Time `json:"timestamp"`
	Device     string    `json:"device"`
	Port       int       `json:"port"`
	Process    string    `json:"process"`
	ReportID   string    `json:"report_id"`
	Hunts      []string  `json:"hunts"`
	RunID      int64     `json:"run_id"`
	Suppressed string    `json:"suppressed"`
}

func (h storedHit) key() hitKey { return hitKey{h.Device, h.ReportID, h.IP} }

func decodeHits(t *testing.T, out string) []storedHit {
	t.Helper()
	var hs []storedHit
	if err := json.Unmarshal([]byte(out), &hs); err != nil {
		t.Fatalf("hits --format json is not JSON: %v\n%s", err, out)
	}
	return hs
}

// sameHits compares stored hits with the ground truth, duplicates included.
func sameHits(t *testing.T, got []storedHit, want map[hitKey][]string) {
	t.Helper()
	seen := map[hitKey]int{}
	for _, h := range got {
		seen[h.key()]++
		hunts, ok := want[h.key()]
		switch {
		case !ok:
			t.Errorf("unexpected hit %+v", h)
		case seen[h.key()] > 1:
			t.Errorf("hit reported twice: %+v", h)
		case !slices.Equal(sortedCopy(h.Hunts), hunts):
			t.Errorf("hit %v attributed to %v, want %v", h.key(), h.Hunts, hunts)
		}
	}
	for k := range want {
		if seen[k] == 0 {
			t.Errorf("missing hit %v", k)
		}
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// summary is the part of summary.json / run --json the tests read.
type summary struct {
	RunID   int64  `json:"run_id"`
	Outcome string `json:"outcome"`
	DryRun  bool   `json:"dry_run"`
	Hunts   []struct {
		Name    string `json:"name"`
		Hits    int    `json:"hits"`
		NewHits int    `json:"new_hits"`
		Error   string `json:"error"`
	} `json:"hunts"`
	Queries []struct {
		Text  string `json:"kql"`
		Error string `json:"error"`
	} `json:"queries"`
	Totals struct {
		Indicators int `json:"indicators"`
		Queries    int `json:"queries"`
		Hits       int `json:"hits"`
		NewHits    int `json:"new_hits"`
		Suppressed int `json:"suppressed_hits"`
	} `json:"totals"`
	Errors []string `json:"errors"`
}

func decodeSummary(t *testing.T, data []byte) summary {
	t.Helper()
	var s summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, data)
	}
	return s
}

// runDir is the one run directory that `--out parent` made: runs write
// parent/<run time>/.
func runDir(t *testing.T, parent string) string {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || !ents[0].IsDir() {
		t.Fatalf("%s should hold one run directory, holds %v", parent, ents)
	}
	return filepath.Join(parent, ents[0].Name())
}

// readSummary reads the summary.json of the one run under --out parent.
func readSummary(t *testing.T, parent string) summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir(t, parent), "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	return decodeSummary(t, b)
}
