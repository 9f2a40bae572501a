// Package store is c2sweep's memory between runs: an embedded SQLite
// database (modernc.org/sqlite, WAL) that remembers runs, the indicators
// that were swept and why, how far each indicator has been swept per
// target, every hit ever reported (once), suppressions and the alert
// outbox. It is what makes daily sweeps incremental and alerts new-only.
//
// Secrets never enter the database: the store keeps only what its callers
// pass, and callers pass no keys, tokens or webhook URLs. As a second line
// of defence, free-text error messages (run errors, delivery failures) have
// URL paths, queries and user info stripped before they are written.
//
// One process at a time may change sweep state: a run takes the exclusive
// run lock (Lock) first. Reading (Hits, Runs, Indicators) needs no lock.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"c2sweep/internal/clock"
)

// appID marks a database as c2sweep's (PRAGMA application_id, "c2sw"), so
// that another application's SQLite file is never mistaken for ours.
const appID = 0x63327377

//go:embed migrations/*.sql
var migrationFS embed.FS

// Errors callers can match with errors.Is. The errors returned carry the
// file name and, where one helps, a hint line for the user.
var (
	// ErrNotStateDB: the file is not SQLite, is corrupt, or belongs to
	// another application.
	ErrNotStateDB = errors.New("not a c2sweep state database")
	// ErrCorrupt: the file is a c2sweep state database that SQLite found
	// damaged. It matches ErrNotStateDB too.
	ErrCorrupt = fmt.Errorf("%w: corrupt", ErrNotStateDB)
	// ErrNewerSchema: the database was written by a newer c2sweep.
	ErrNewerSchema = errors.New("state database is from a newer c2sweep")
	// ErrWrite: the database could not be written (read-only, disk full,
	// I/O error). Nothing of the failed change was kept.
	ErrWrite = errors.New("cannot write the state database")
	// ErrNoState: Options.MustExist was set and there is no database.
	ErrNoState = errors.New("no state database")
	// ErrLocked: another run holds the run lock (see *LockedError).
	ErrLocked = errors.New("state database is locked by another run")
	// ErrNotLocked: a call that changes sweep state was made without the
	// run lock.
	ErrNotLocked = errors.New("the run lock is not held")
	// ErrNotFound: the thing asked for is not in the database.
	ErrNotFound = errors.New("not found")
)

// Error is a failure of the state database with the file it concerns and
// an optional hint for the user, which the command line prints (Error()
// leaves it out). It matches its Kind with errors.Is.
type Error struct {
	Path string
	Kind error // one of the Err* values, or nil
	Msg  string
	Err  error // underlying cause, may be nil
	Hint string
}

func (e *Error) Error() string {
	s := "state " + e.Path + ": " + e.Msg
	if e.Path == "" {
		s = "state: " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes both the kind and the cause.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Options tune Open.
type Options struct {
	// AlertTargets names the notification targets that every new,
	// unsuppressed hit is queued for when it is committed.
	AlertTargets []string
	// Clock stamps the times the store sets itself (first reported,
	// suppression expiry in CommitSweep). Default the real clock.
	Clock clock.Clock
	// BusyTimeout is how long a statement waits for another connection's
	// write lock. Default 10s.
	BusyTimeout time.Duration
	// MustExist makes Open fail with ErrNoState instead of creating a new
	// database: for read-only commands given a mistyped --state.
	MustExist bool
	// KeepRows stores each hit's raw API row (Hit.Row) too. Off by default:
	// a row is about half a kilobyte, doubling the database, and the run's
	// output files keep the rows anyway.
	KeepRows bool
	// LockPoll is how often Lock(ctx, true) retries. Default 100ms.
	LockPoll time.Duration

	pragmas []string // extra per-connection pragmas, for tests
}

// Store is an open state database. Its methods are safe for concurrent use.
type Store struct {
	db      *sql.DB
	path    string
	now     func() time.Time
	poll    time.Duration
	mu      sync.Mutex
	targets []string
	rows    bool     // Options.KeepRows
	lock    *os.File // the run lock, when held
}

// DefaultPath is where the state lives without --state:
// $XDG_STATE_HOME/c2sweep/state.db, else ~/.local/state/c2sweep/state.db.
func DefaultPath() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "c2sweep", "state.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", &Error{Msg: "no home directory for the default state file", Err: err, Hint: "set --state or C2SWEEP_STATE"}
	}
	return filepath.Join(home, ".local", "state", "c2sweep", "state.db"), nil
}

// SchemaVersion is the newest schema this build knows.
func SchemaVersion() int { return len(migrations()) }

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() []migration {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	var ms []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("store: migration without a number: " + e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			panic("store: migrations must be numbered 1, 2, 3...: " + m.name)
		}
	}
	return ms
}

var sqliteMagic = []byte("SQLite format 3\x00")

// Open opens the state database at path, creating it (parent directories
// 0700, file 0600) unless opts.MustExist, and brings its schema up to date,
// one transaction per migration. It refuses files that are not a c2sweep
// state database and databases from a newer c2sweep. A run left "running"
// by a crashed process is marked "interrupted" when no run holds the lock.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, &Error{Msg: "no database path", Hint: "set --state or C2SWEEP_STATE"}
	}
	if strings.ContainsAny(path, "?#") {
		return nil, &Error{Path: path, Msg: "'?' and '#' are not supported in the file name"}
	}
	if err := prepareFile(path, opts.MustExist); err != nil {
		return nil, err
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	// synchronous=FULL: a commit that returned survives a power cut, so a
	// hit alerted after its commit is never re-alerted after a reboot.
	dsn := path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)" +
		// Statement journals in memory: without it every insert in a
		// big commit writes a temp file (half the cost of a commit).
		// A 2 MB page cache a connection, SQLite's default: 16 MB made
		// SQLite a third of a 20,000-indicator run's resident memory.
		"&_pragma=temp_store(MEMORY)&_pragma=cache_size(-2000)"
	for _, p := range opts.pragmas {
		dsn += "&_pragma=" + p
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, &Error{Path: path, Msg: "open", Err: err}
	}
	db.SetMaxOpenConns(4)
	now := clock.Or(opts.Clock).Now
	poll := opts.LockPoll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	s := &Store{db: db, path: path, now: now, poll: poll, targets: cleanTargets(opts.AlertTargets), rows: opts.KeepRows}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// prepareFile makes sure path is a file we may open: an existing SQLite
// file, or a new empty one created with owner-only permissions (SQLite
// gives its -wal and -shm files the same permissions).
func prepareFile(path string, mustExist bool) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return &Error{Path: path, Kind: ErrNotStateDB, Msg: "is a directory", Hint: "point --state at a file"}
	case err == nil:
		return checkHeader(path, fi.Size())
	case errors.Is(err, fs.ErrNotExist):
		if mustExist {
			return &Error{Path: path, Kind: ErrNoState, Msg: "does not exist", Hint: "run `c2sweep run` first, or check --state / C2SWEEP_STATE"}
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return &Error{Path: path, Kind: ErrWrite, Msg: "cannot create its directory", Err: err}
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return nil // created by a concurrent Open
		}
		if err != nil {
			return &Error{Path: path, Kind: ErrWrite, Msg: "cannot create", Err: err}
		}
		return f.Close()
	default:
		return &Error{Path: path, Kind: ErrWrite, Msg: "cannot create or open", Err: err}
	}
}

func checkHeader(path string, size int64) error {
	if size == 0 {
		return nil // an empty file is an empty database
	}
	f, err := os.Open(path)
	if err != nil {
		return &Error{Path: path, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != string(sqliteMagic) {
		return &Error{Path: path, Kind: ErrNotStateDB, Msg: "not a c2sweep state database (not an SQLite file)",
			Hint: "point --state at another file, or move " + path + " aside; c2sweep will not overwrite it"}
	}
	return nil
}

func (s *Store) init(ctx context.Context) error {
	var app, ver int64
	if err := s.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return s.classify("read header", err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&ver); err != nil {
		return s.classify("read header", err)
	}
	foreign := func(what string) error {
		return &Error{Path: s.path, Kind: ErrNotStateDB, Msg: "not a c2sweep state database (" + what + ")",
			Hint: "point --state at another file; c2sweep never changes another application's database"}
	}
	switch {
	case app != 0 && app != appID:
		return foreign(fmt.Sprintf("SQLite database of another application, application_id %#x", app))
	case app == 0 && ver != 0:
		return foreign(fmt.Sprintf("SQLite database of another application, user_version %d", ver))
	case app == 0:
		names, err := s.userTables(ctx)
		if err != nil {
			return s.classify("read schema", err)
		}
		if len(names) > 0 {
			if len(names) > 5 {
				names = append(names[:5], "...")
			}
			return foreign("SQLite database of another application, with tables " + strings.Join(names, ", "))
		}
	}
	if err := s.quickCheck(ctx); err != nil {
		return err
	}
	known := int64(SchemaVersion())
	if ver > known {
		return &Error{Path: s.path, Kind: ErrNewerSchema,
			Msg:  fmt.Sprintf("schema version %d was written by a newer c2sweep; this c2sweep knows up to version %d and never downgrades", ver, known),
			Hint: "upgrade c2sweep, or point --state at another file"}
	}
	// WAL lets read-only commands read while a run writes. It is set
	// only now, so that a foreign file is never touched.
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return s.classify("enable WAL", err)
	}
	if ver < known {
		if err := s.migrate(ctx); err != nil {
			return err
		}
	}
	return s.recoverInterrupted(ctx)
}

func (s *Store) userTables(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// migrate applies each missing migration in its own transaction; the
// version is re-read inside it, so two processes opening a new file at once
// do not both apply a migration.
func (s *Store) migrate(ctx context.Context) error {
	for _, m := range migrations() {
		err := s.tx(ctx, "migrate to schema version "+strconv.Itoa(m.version), func(tx *sql.Tx) error {
			var ver int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&ver); err != nil {
				return err
			}
			if ver >= m.version {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", appID))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in one write transaction (BEGIN IMMEDIATE) and commits it;
// any error rolls everything back.
func (s *Store) tx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.classify(op, err)
	}
	if err := tx.Commit(); err != nil {
		tx.Rollback()
		return s.classify(op, err)
	}
	return nil
}

// classify turns SQLite failures into errors that say what happened to
// which file; other errors get the operation and file added.
func (s *Store) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("state %s: %s: %w", s.path, op, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return &Error{Path: s.path, Kind: ErrWrite, Msg: op + ": disk or database full, nothing was changed", Err: err,
				Hint: "free disk space and run again; the next run covers what this one missed"}
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN:
			return &Error{Path: s.path, Kind: ErrWrite, Msg: op + ": not writable", Err: err,
				Hint: "check the permissions of the file and its directory (the -wal and -shm files too), or set --state"}
		case sqlite3.SQLITE_IOERR:
			return &Error{Path: s.path, Kind: ErrWrite, Msg: op + ": I/O error, nothing was changed", Err: err}
		case sqlite3.SQLITE_NOTADB:
			return &Error{Path: s.path, Kind: ErrNotStateDB, Msg: op + ": not a c2sweep state database (not SQLite, or corrupt)", Err: err,
				Hint: corruptHint(s.path)}
		case sqlite3.SQLITE_CORRUPT:
			return &Error{Path: s.path, Kind: ErrCorrupt, Msg: op + ": not a c2sweep state database (corrupt)", Err: err,
				Hint: corruptHint(s.path)}
		case sqlite3.SQLITE_BUSY:
			return &Error{Path: s.path, Msg: op + ": busy: another process kept the database locked", Err: err}
		}
	}
	return fmt.Errorf("state %s: %s: %w", s.path, op, err)
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// SetAlertTargets replaces the notification targets new hits are queued for.
func (s *Store) SetAlertTargets(targets []string) {
	s.mu.Lock()
	s.targets = cleanTargets(targets)
	s.mu.Unlock()
}

func (s *Store) alertTargets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.targets
}

func cleanTargets(ts []string) []string {
	var out []string
	for _, t := range ts {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return compactStrings(out)
}

func compactStrings(ss []string) []string {
	out := ss[:0]
	for i, v := range ss {
		if i == 0 || v != ss[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// corruptHint says how to get going again with a damaged state file.
func corruptHint(path string) string {
	return "restore " + path + " from a backup, or move it aside (mv " + path + " " + path + ".corrupt) " +
		"and run again to start fresh; `sqlite3 " + path + ".corrupt .recover` may save its history"
}

// quickCheck refuses a damaged database before anything reads it:
// PRAGMA quick_check reads every page once (O(size), no index
// cross-checks), so a corrupt file is found on open instead of as wrong
// answers or the same failure daily. BenchmarkOpenCheck: no measurable
// cost at 22 MB (20,000 indicators and hits), +0.5 s at 217 MB (200,000).
func (s *Store) quickCheck(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return s.classify("check", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return s.classify("check", err)
		}
		if msg == "ok" {
			continue
		}
		// One line for the error: SQLite puts several problems, and a
		// header, in one row.
		for _, line := range strings.Split(msg, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "*** ") {
				problems = append(problems, line)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return s.classify("check", err)
	}
	if len(problems) > 0 {
		return &Error{Path: s.path, Kind: ErrCorrupt, Msg: "corrupt: " + strings.Join(problems[:min(len(problems), 5)], "; "), Hint: corruptHint(s.path)}
	}
	return nil
}

// Check runs SQLite's integrity check.
func (s *Store) Check(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return s.classify("integrity check", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return s.classify("integrity check", err)
		}
		if msg != "ok" {
			problems = append(problems, msg)
		}
	}
	if err := rows.Err(); err != nil {
		return s.classify("integrity check", err)
	}
	if len(problems) > 0 {
		return &Error{Path: s.path, Kind: ErrNotStateDB, Msg: "integrity check failed: " + strings.Join(problems, "; ")}
	}
	return nil
}

// Close releases the run lock, if held, and closes the database.
func (s *Store) Close() error {
	uerr := s.Unlock()
	// Keeps the planner's statistics fresh at almost no cost.
	s.db.Exec("PRAGMA optimize")
	if err := s.db.Close(); err != nil {
		return s.classify("close", err)
	}
	return uerr
}

// Times are stored as Unix nanoseconds; the zero time is 0, and times
// outside what int64 nanoseconds can hold are clamped.
var (
	minTime = time.Unix(0, -1<<63+1)
	maxTime = time.Unix(0, 1<<63-1)
)

func ns(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func fromNullNS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNS(n.Int64)
}

var urlRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s?#"'<>]*@)?([^/\s?#@"'<>]*)([^\s"'<>]*)`)

// redact strips the path, query and user info of every URL in msg: a
// webhook URL or a Shodan URL is a secret.
func redact(msg string) string {
	return urlRE.ReplaceAllStringFunc(msg, func(u string) string {
		m := urlRE.FindStringSubmatch(u)
		if m[2] == "" && (m[4] == "" || m[4] == "/") {
			return u
		}
		return m[1] + m[3] + "/REDACTED"
	})
}
