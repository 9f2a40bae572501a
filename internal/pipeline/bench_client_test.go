package pipeline_test

// The client of BenchmarkFullSweep runs in a process of its own, so that
// its memory is measured without the lab's world: the benchmark starts
// this test binary again with C2SWEEP_SWEEP_CLIENT naming a file that says
// where the lab is, and reads the sweep's result back with the child's peak
// resident set (VmHWM).

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/lab"
)

// clientEnv names the file of a sweepClient: the test binary is then a
// sweep client, not a test run.
const clientEnv = "C2SWEEP_SWEEP_CLIENT"

// sweepClient is what a client process needs to sweep the benchmark's lab.
type sweepClient struct {
	URL       string
	CAFile    string
	Creds     lab.Credentials
	Hunts     int // sweepHuntsFor(Hunts)
	Interval  time.Duration
	PerMinute int
	MaxIPs    int
	// Tenants are the lab tenants swept, one target each (benchTarget);
	// nil: one target, tenant 0's, as `run` without targets: sweeps.
	Tenants    []int
	Dir        string // state and results; the result goes to Dir/result.json
	MemProfile string // a heap profile taken when the live heap peaks, if set
}

func TestMain(m *testing.M) {
	if path := os.Getenv(clientEnv); path != "" {
		if err := sweepClientMain(path); err != nil {
			fmt.Fprintln(os.Stderr, "sweep client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func sweepClientMain(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c sweepClient
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return errors.New("no CA certificate in " + c.CAFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if c.MemProfile != "" {
		profileAtPeak()
	}
	r, err := runSweep(context.Background(), c, &http.Client{Transport: t})
	if err != nil {
		return err
	}
	if r.MaxRSS, err = peakRSS(); err != nil {
		return err
	}
	if c.MemProfile != "" {
		if err := writeHeapProfile(c.MemProfile); err != nil {
			return err
		}
	}
	out, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, "result.json"), out, 0o600)
}

// profileAtPeak keeps the heap profile of the highest live heap seen, so
// that the profile written at the end shows the holders of that moment.
// Only for -sweep.memprofile: taking profiles costs memory of its own.
var peakProfile struct {
	sync.Mutex
	bytes.Buffer
}

func profileAtPeak() {
	go func() {
		var best uint64
		for {
			time.Sleep(50 * time.Millisecond)
			if _, live := readHeap(); live > best {
				best = live
				peakProfile.Lock()
				peakProfile.Reset()
				pprof.Lookup("heap").WriteTo(&peakProfile.Buffer, 0)
				peakProfile.Unlock()
			}
		}
	}()
}

func writeHeapProfile(path string) error {
	peakProfile.Lock()
	defer peakProfile.Unlock()
	return os.WriteFile(path, peakProfile.Bytes(), 0o600)
}

// runClientProcess runs one sweep in a client process of its own and
// returns its result, with the process's peak resident set.
func (g *sweepRig) runClientProcess(tb testing.TB, dir, memProfile string) sweepResult {
	tb.Helper()
	c := g.client(dir)
	c.MemProfile = memProfile
	return runClientProcess(tb, c)
}

// runClientProcess runs the sweep c describes in a client process of its
// own (c.Dir holds its files) and returns its result.
func runClientProcess(tb testing.TB, c sweepClient) sweepResult {
	tb.Helper()
	dir := c.Dir
	b, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	// The file holds the lab's credentials: the owner's only.
	cfg := filepath.Join(dir, "client.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), clientEnv+"="+cfg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("sweep client: %v", err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var r sweepResult
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// peakRSS is this process's peak resident set, VmHWM. The rusage of a
// child is no measure: Linux starts it from the peak of the process that
// started it (the benchmark, with the lab's world).
func peakRSS() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS (Linux only): %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
