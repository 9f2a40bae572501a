package store

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLockInProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	a := openT(t, path, Options{LockPoll: 5 * time.Millisecond})
	b := openT(t, path, Options{LockPoll: 5 * time.Millisecond})
	mustLock(t, a)
	if err := a.Lock(ctx, false); err != nil {
		t.Fatalf("re-lock by the holder: %v", err)
	}
	err := b.Lock(ctx, false)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	if le.PID != os.Getpid() || !le.Started.Equal(t0) || !strings.Contains(err.Error(), "another c2sweep run (pid "+strconv.Itoa(os.Getpid())) ||
		!strings.Contains(err.Error(), path+".lock") {
		t.Errorf("message %q (%+v)", err, le)
	}
	// A waiting Lock gives up when its context ends.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := b.Lock(cctx, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with deadline: %v", err)
	}
	// And proceeds once the holder unlocks.
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, true) }()
	select {
	case err := <-got:
		t.Fatalf("Lock(wait) returned while held: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock(wait) after Unlock: %v", err)
	}
	if err := a.Lock(ctx, false); !errors.Is(err, ErrLocked) {
		t.Errorf("lock not held by b: %v", err)
	}
	// Close releases it.
	b.Close()
	mustLock(t, a)
}

// A run in another process holds the lock; this one refuses, then waits.
func TestLockAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{LockPoll: 5 * time.Millisecond})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=lock:"+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
	err = s.Lock(ctx, false)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid {
		t.Fatalf("Lock: %v, want held by pid %d", err, cmd.Process.Pid)
	}
	stdin.Close() // the helper releases and exits
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Lock(wctx, true); err != nil {
		t.Fatalf("Lock(wait): %v", err)
	}
}

// A read-only command (hits, runs, indicators) opening the state must
// neither wait for another process's write transaction nor take the run
// lock, even briefly: either would fail that command, or a run or serve
// sweep starting at the same moment, for nothing.
func TestOpenForReadingTakesNoLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	mustLock(t, s)
	run, err := s.BeginRun(ctx, RunInfo{Command: "run"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, run, RunResult{Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	os.Remove(path + ".lock")

	// Between runs a reader does not touch the run lock at all.
	r := openT(t, path, Options{MustExist: true})
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open with no run to recover touched the run lock (%v)", err)
	}
	r.Close()

	// Another process is in the middle of a long write (a big commit, a
	// suppress): reading must not wait for it, let alone fail.
	db := rawDB(t, path)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK")
	reader, err := Open(ctx, path, Options{MustExist: true, BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("read-only Open during another's write: %v", err)
	}
	defer reader.Close()
	if rs, err := reader.Runs(ctx, 0); err != nil || len(rs) != 1 || rs[0].Outcome != OutcomeOK {
		t.Fatalf("Runs during another's write: %+v, %v", rs, err)
	}
}
