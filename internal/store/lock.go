package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// LockedError says who holds the run lock. It matches ErrLocked.
type LockedError struct {
	File    string // the lock file
	PID     int    // 0 when unknown
	Started time.Time
}

func (e *LockedError) Error() string {
	var who []string
	if e.PID > 0 {
		who = append(who, "pid "+strconv.Itoa(e.PID))
	}
	if !e.Started.IsZero() {
		who = append(who, "started "+e.Started.Local().Format(time.RFC3339))
	}
	s := "another c2sweep run"
	if len(who) > 0 {
		s += " (" + strings.Join(who, ", ") + ")"
	}
	return s + " holds " + e.File
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// LockPath is the run lock file of a state database.
func (s *Store) LockPath() string { return s.path + ".lock" }

// Lock takes the exclusive run lock (an OS file lock on Path()+".lock"),
// held until Unlock or Close, so that two runs on the same state never
// interleave. Without wait a held lock is an error (*LockedError); with wait
// Lock retries until the lock is free or ctx ends. Taking the lock also
// marks runs left "running" by a crashed process as "interrupted". Locking
// again while holding the lock is a no-op.
func (s *Store) Lock(ctx context.Context, wait bool) error {
	s.mu.Lock()
	held := s.lock != nil
	s.mu.Unlock()
	if held {
		return nil
	}
	f, err := os.OpenFile(s.LockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return &Error{Path: s.path, Kind: ErrWrite, Msg: "cannot open the run lock", Err: err}
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return &Error{Path: s.path, Msg: "run lock", Err: err}
		}
		if ok {
			break
		}
		if !wait {
			e := holder(f, s.LockPath())
			f.Close()
			return e
		}
		t := time.NewTimer(s.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			e := holder(f, s.LockPath())
			f.Close()
			return fmt.Errorf("waiting for the run lock: %w (%v)", ctx.Err(), e)
		case <-t.C:
		}
	}
	// Who holds it, for the message a second runner sees.
	info := fmt.Sprintf("pid=%d\nstarted=%s\n", os.Getpid(), s.now().UTC().Format(time.RFC3339Nano))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(info), 0)
	}
	s.mu.Lock()
	s.lock = f
	s.mu.Unlock()
	if err := s.markInterrupted(ctx); err != nil {
		s.Unlock()
		return err
	}
	return nil
}

// Unlock releases the run lock; without it, it does nothing.
func (s *Store) Unlock() error {
	s.mu.Lock()
	f := s.lock
	s.lock = nil
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	f.Truncate(0)
	err := unlock(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &Error{Path: s.path, Msg: "release the run lock", Err: err}
	}
	return nil
}

func (s *Store) locked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lock != nil
}

// holder reads what the lock's holder wrote into the lock file.
func holder(f *os.File, name string) *LockedError {
	e := &LockedError{File: name}
	if _, err := f.Seek(0, 0); err != nil {
		return e
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "pid":
			e.PID, _ = strconv.Atoi(v)
		case "started":
			e.Started, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	return e
}

// recoverInterrupted marks crashed runs when nobody holds the run lock: a
// live run always holds it, so a "running" run without it is dead. Only
// when a run is "running" does it touch the lock (briefly taking it would
// make a run starting at that moment fail as locked) or write (waiting on
// another process's commit would fail a read-only command). Failing to
// write is not an error here: the next run's Lock marks them.
func (s *Store) recoverInterrupted(ctx context.Context) error {
	var running bool
	if err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM runs WHERE outcome = 'running')").Scan(&running); err != nil {
		return s.classify("read runs", err)
	}
	if !running {
		return nil
	}
	f, err := os.OpenFile(s.LockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil // a read-only directory: nothing to recover now
	}
	defer f.Close()
	ok, err := tryLock(f)
	if err != nil || !ok {
		return nil
	}
	defer unlock(f)
	if err := s.markInterrupted(ctx); err != nil && (errors.Is(err, ErrWrite) || isBusy(err)) {
		return nil // read-only file, or another process is writing
	} else if err != nil {
		return err
	}
	return nil
}

func (s *Store) markInterrupted(ctx context.Context) error {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET outcome = 'interrupted', error = coalesce(error, 'the process ended before the run finished (killed or crashed)')
		WHERE outcome = 'running'`)
	if err != nil {
		return s.classify("mark interrupted runs", err)
	}
	_ = res
	return nil
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
