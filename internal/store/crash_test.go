package store

import (
	"bufio"
	"c2sweep/internal/clock"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

// A run is SIGKILLed while it commits sweeps. The database opens clean, the
// crashed run is interrupted, every batch is all there or not there at all,
// and a second run that re-sweeps what was not committed ends with every
// hit stored once and reported once.
func TestCrashMidSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=crash:"+path)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	printed := -1
	for sc.Scan() {
		var i int
		if _, err := fmt.Sscanf(sc.Text(), "committed %d", &i); err == nil {
			printed = i
		}
		if printed >= 5 || sc.Text() == "done" {
			break
		}
	}
	if printed < 5 {
		t.Fatalf("helper stopped early (last commit %d)", printed)
	}
	// Kill it in the middle of a later commit.
	time.Sleep(3 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	s := openT(t, path, Options{Clock: clock.NewFake(crashEnd.Add(24 * time.Hour))})
	if err := s.Check(ctx); err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	runs, _ := s.Runs(ctx, 0)
	if len(runs) != 1 || runs[0].Outcome != OutcomeInterrupted {
		t.Fatalf("crashed run: %+v", runs)
	}
	crashed := runs[0].ID

	// Which batches made it, and each entirely?
	stored, _ := s.Hits(ctx, HitFilter{})
	perBatch := map[int]int{}
	for _, h := range stored {
		var i, j int
		fmt.Sscanf(h.ReportID, "%d-%d", &i, &j)
		perBatch[i]++
	}
	committed := 0
	for i := 0; i < crashBatches; i++ {
		ips, _ := crashBatch(i)
		last, err := s.LastSwept(ctx, crashTarget, ips)
		if err != nil {
			t.Fatal(err)
		}
		n := perBatch[i]
		switch {
		case n == crashPerBatch && len(last) == len(ips):
			committed++
		case n == 0 && len(last) == 0:
		default:
			t.Fatalf("batch %d half-written: %d hits, %d windows", i, n, len(last))
		}
		if (n > 0) != (i < committed) {
			t.Fatalf("batch %d committed out of order", i)
		}
	}
	if committed < printed+1 {
		t.Fatalf("a commit the helper reported (%d) is lost: %d batches stored", printed, committed)
	}
	t.Logf("killed after %d of %d batches (helper printed %d)", committed, crashBatches, printed+1)

	// The next run: windows already covered are swept only from their end
	// (finding nothing new here); the rest get the full lookback again.
	mustLock(t, s)
	run := mustRun(t, s)
	var refound []StoredHit
	for i := 0; i < crashBatches; i++ {
		ips, hits := crashBatch(i)
		last, _ := s.LastSwept(ctx, crashTarget, ips)
		var window []indicator.Hit
		for _, h := range hits {
			if from, ok := last[h.IP]; !ok || !h.Timestamp.Before(from.Add(-time.Hour)) { // 1h overlap
				window = append(window, h)
			}
		}
		fresh, err := s.CommitSweep(ctx, run, crashTarget, ips, crashEnd.Add(24*time.Hour), window)
		if err != nil {
			t.Fatal(err)
		}
		refound = append(refound, fresh...)
	}
	if err := s.FinishRun(ctx, run, RunResult{Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	want := (crashBatches - committed) * crashPerBatch
	if len(refound) != want {
		t.Errorf("second run reported %d new hits, want %d", len(refound), want)
	}
	all, _ := s.Hits(ctx, HitFilter{})
	seen := map[string]bool{}
	for _, h := range all {
		k := h.Hit.Key()
		if seen[k] {
			t.Fatalf("duplicate hit %s", k)
		}
		seen[k] = true
	}
	if len(all) != crashBatches*crashPerBatch {
		t.Errorf("%d hits stored, want %d", len(all), crashBatches*crashPerBatch)
	}
	first, _ := s.RunHits(ctx, crashed)
	if len(first)+len(refound) != len(all) {
		t.Errorf("reported by run 1: %d, run 2: %d, total %d", len(first), len(refound), len(all))
	}
	_ = netip.Addr{}
	_ = strings.Contains
}
