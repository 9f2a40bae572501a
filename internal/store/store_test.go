package store

import (
	"c2sweep/internal/clock"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC)

func openT(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = clock.NewFake(t0)
	}
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens a file with the driver directly, bypassing the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pragmaInt(t *testing.T, db *sql.DB, p string) int64 {
	t.Helper()
	var v int64
	if err := db.QueryRow("PRAGMA " + p).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", p, err)
	}
	return v
}

func TestOpenCreatesAndMigrates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "state.db")
	s := openT(t, path, Options{})
	for _, p := range []string{filepath.Join(dir, "a"), filepath.Join(dir, "a", "b")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, err %v; want 0700", p, fi.Mode().Perm(), err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, err %v; want 0600", fi.Mode().Perm(), err)
	}
	if v := pragmaInt(t, s.db, "user_version"); v != int64(SchemaVersion()) || v < 1 {
		t.Errorf("user_version %d, want %d", v, SchemaVersion())
	}
	if v := pragmaInt(t, s.db, "application_id"); v != appID {
		t.Errorf("application_id %#x", v)
	}
	if v := pragmaInt(t, s.db, "foreign_keys"); v != 1 {
		t.Errorf("foreign_keys %d", v)
	}
	var mode string
	s.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if mode != "wal" {
		t.Errorf("journal_mode %q", mode)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening an up-to-date database changes nothing and works.
	s2 := openT(t, path, Options{})
	if v := pragmaInt(t, s2.db, "user_version"); v != int64(SchemaVersion()) {
		t.Errorf("reopen: user_version %d", v)
	}
	if fi, _ := os.Stat(path + "-wal"); fi != nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("wal file mode %v", fi.Mode().Perm())
	}
}

func TestOpenEmptyExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	openT(t, path, Options{})
}

func TestOpenMustExist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "state.db")
	_, err := Open(context.Background(), path, Options{MustExist: true})
	if !errors.Is(err, ErrNoState) {
		t.Fatalf("err %v, want ErrNoState", err)
	}
	if _, serr := os.Stat(filepath.Dir(path)); !os.IsNotExist(serr) {
		t.Errorf("MustExist created the directory")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(context.Background(), path, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("err %v, want ErrNewerSchema", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "99") || !strings.Contains(msg, "version "+strconv.Itoa(SchemaVersion())) || hintOf(err) == "" {
		t.Errorf("message does not name both versions and a hint: %q", msg)
	}
	if v := pragmaInt(t, rawDB(t, path), "user_version"); v != 99 {
		t.Errorf("user_version changed to %d: downgraded", v)
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 8192)
	rand.Read(random)
	corrupt := append([]byte("SQLite format 3\x00"), random...)

	cases := map[string]func(path string){
		"text":                        func(p string) { os.WriteFile(p, []byte("hunts:\n  - name: x\n"), 0o600) },
		"random bytes":                func(p string) { os.WriteFile(p, random, 0o600) },
		"short":                       func(p string) { os.WriteFile(p, []byte("SQLite"), 0o600) },
		"sqlite header, garbage body": func(p string) { os.WriteFile(p, corrupt, 0o600) },
		"another app's tables": func(p string) {
			db := rawDB(t, p)
			db.Exec("CREATE TABLE contacts (name TEXT, phone TEXT)")
			db.Exec("INSERT INTO contacts VALUES ('a', '1')")
			db.Close()
		},
		"another app's application_id": func(p string) {
			db := rawDB(t, p)
			db.Exec("PRAGMA application_id = 1234")
			db.Close()
		},
		"another app's user_version": func(p string) {
			db := rawDB(t, p)
			db.Exec("PRAGMA user_version = 3")
			db.Close()
		},
	}
	for name, make := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".db")
			make(path)
			before, _ := os.ReadFile(path)
			s, err := Open(context.Background(), path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("opened a foreign file")
			}
			if !errors.Is(err, ErrNotStateDB) {
				t.Fatalf("err %v, want ErrNotStateDB", err)
			}
			if !strings.Contains(err.Error(), "not a c2sweep state database") || hintOf(err) == "" {
				t.Errorf("unclear message: %q", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("message does not name the file: %q", err)
			}
			after, _ := os.ReadFile(path)
			if string(before) != string(after) {
				t.Errorf("foreign file was modified")
			}
			if _, err := os.Stat(path + "-wal"); err == nil {
				t.Errorf("foreign file was switched to WAL")
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := Open(context.Background(), dir, Options{})
		if !errors.Is(err, ErrNotStateDB) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestOpenWriteErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Run("path under a file", func(t *testing.T) {
		f := filepath.Join(dir, "plain")
		os.WriteFile(f, []byte("x"), 0o600)
		_, err := Open(ctx, filepath.Join(f, "state.db"), Options{})
		if !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), filepath.Join(f, "state.db")) {
			t.Fatalf("err %v, want ErrWrite naming the path", err)
		}
	})
	t.Run("read-only connection", func(t *testing.T) {
		// As root chmod is ignored; query_only makes SQLite refuse writes
		// the way a read-only file does.
		path := filepath.Join(dir, "ro.db")
		_, err := Open(ctx, path, Options{pragmas: []string{"query_only(1)"}})
		if !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("err %v, want ErrWrite 'not writable'", err)
		}
		db := rawDB(t, path)
		if v := pragmaInt(t, db, "user_version"); v != 0 {
			t.Errorf("half-migrated: user_version %d", v)
		}
		var n int
		db.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n)
		if n != 0 {
			t.Errorf("half-migrated: %d schema objects", n)
		}
		db.Close()
		openT(t, path, Options{}) // and a writable open then works
	})
	t.Run("disk full during migration", func(t *testing.T) {
		path := filepath.Join(dir, "full.db")
		_, err := Open(ctx, path, Options{pragmas: []string{"max_page_count(3)"}})
		if !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "full") {
			t.Fatalf("err %v, want ErrWrite 'full'", err)
		}
		db := rawDB(t, path)
		if v := pragmaInt(t, db, "user_version"); v != 0 {
			t.Errorf("half-migrated: user_version %d", v)
		}
		db.Close()
		s := openT(t, path, Options{})
		if err := s.Check(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores permissions; covered by the query_only case")
		}
		ro := filepath.Join(dir, "rodir")
		os.Mkdir(ro, 0o500)
		t.Cleanup(func() { os.Chmod(ro, 0o700) })
		_, err := Open(ctx, filepath.Join(ro, "state.db"), Options{})
		if !errors.Is(err, ErrWrite) {
			t.Fatalf("err %v, want ErrWrite", err)
		}
	})
}

// A commit that hits a full disk keeps nothing of itself: no hit, no
// window moved, the database still sound.
func TestCommitSweepDiskFull(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{AlertTargets: []string{"slack"}})
	mustLock(t, s)
	run := mustRun(t, s)
	ips, hits := crashBatch(0)
	if _, err := s.CommitSweep(ctx, run, crashTarget, ips, crashEnd, hits); err != nil {
		t.Fatal(err)
	}
	s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	pages := pragmaInt(t, s.db, "page_count")
	s.Close()

	s = openT(t, path, Options{pragmas: []string{"max_page_count(" + strconv.FormatInt(pages+2, 10) + ")"}, AlertTargets: []string{"slack"}})
	mustLock(t, s)
	ips2, hits2 := crashBatch(1)
	later := crashEnd.Add(time.Hour)
	_, err := s.CommitSweep(ctx, run, crashTarget, append(ips, ips2...), later, hits2)
	if !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "full") || hintOf(err) == "" {
		t.Fatalf("err %v, want ErrWrite 'full' with a hint", err)
	}
	c, _ := s.Counts(ctx)
	if c.Hits != len(hits) || c.PendingAlerts != len(hits) {
		t.Errorf("after failed commit: %d hits, %d pending; want %d", c.Hits, c.PendingAlerts, len(hits))
	}
	last, err := s.LastSwept(ctx, crashTarget, append(ips, ips2...))
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != len(ips) || !last[ips[0]].Equal(crashEnd) {
		t.Errorf("windows moved by a failed commit: %d entries, %v", len(last), last[ips[0]])
	}
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func mustLock(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Lock(context.Background(), false); err != nil {
		t.Fatal(err)
	}
}

func mustRun(t *testing.T, s *Store) int64 {
	t.Helper()
	id, err := s.BeginRun(context.Background(), RunInfo{Command: "run", ConfigFingerprint: "fp"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/tmp/xdg")
	if p, _ := DefaultPath(); p != "/var/tmp/xdg/c2sweep/state.db" {
		t.Errorf("XDG: %q", p)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/hunter")
	if p, _ := DefaultPath(); p != "/home/hunter/.local/state/c2sweep/state.db" {
		t.Errorf("home: %q", p)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`Post "https://hooks.slack.com/services/T0/B0/SECRET": timeout`:      `Post "https://hooks.slack.com/REDACTED": timeout`,
		"GET https://api.shodan.io/shodan/host/search?key=SECRET&q=x failed": "GET https://api.shodan.io/REDACTED failed",
		"dial https://user:pw@example.com refused":                           "dial https://example.com/REDACTED refused",
		"plain https://example.com/ is fine":                                 "plain https://example.com/ is fine",
		"no url here":                                                        "no url here",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

var _ = netip.Addr{}

// hintOf is the hint an *Error carries for the command line.
func hintOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}
