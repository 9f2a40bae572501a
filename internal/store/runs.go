package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"c2sweep/internal/indicator"
)

// Run outcomes.
const (
	OutcomeRunning     = "running"
	OutcomeOK          = "ok"
	OutcomePartial     = "partial"
	OutcomeFailed      = "failed"
	OutcomeInterrupted = "interrupted"
)

// RunInfo describes a run as it starts.
type RunInfo struct {
	Started           time.Time
	ConfigFingerprint string // a hash of the effective config, never the config itself
	Command           string // "run", "serve", "demo"
}

// RunResult describes a run as it ends.
type RunResult struct {
	Outcome     string // ok, partial, failed or interrupted
	Finished    time.Time
	Hunts       any // per-hunt outcomes, stored as JSON
	CreditsUsed int
	Calls       int // API calls made
	Indicators  int // indicators swept
	Hits        int // hits seen in the windows, new or not
	Errors      []string
	Error       string // why the run failed or was interrupted, "" when it did not
	// Targets are the outcomes of the run's sweep targets, stored as JSON
	// (runs.targets); none for a run that swept no target.
	Targets []TargetOutcome
}

// TargetOutcome is how one sweep target fared in a run.
type TargetOutcome struct {
	Name          string `json:"name"`
	Backend       string `json:"backend,omitempty"` // graph, mde or sentinel
	Outcome       string `json:"outcome"`           // ok, partial, failed or skipped
	Queries       int    `json:"queries"`
	QueriesFailed int    `json:"queries_failed"`
	Hits          int    `json:"hits"`     // seen in the windows, new or not
	NewHits       int    `json:"new_hits"` // first reported by the run
	Error         string `json:"error,omitempty"`
}

// Target outcomes (TargetOutcome.Outcome): a skipped target was not swept
// (left out by --target, or the run stopped before it).
const TargetSkipped = "skipped"

// RunFilter selects runs; the zero value selects all.
type RunFilter struct {
	// Targets: only runs that swept one of these sweep targets (compared
	// ignoring case). A run recorded before targets swept "default".
	Targets []string
	Limit   int // <= 0: all
}

// Run is one recorded run.
type Run struct {
	ID                int64           `json:"id"`
	Started           time.Time       `json:"started"`
	Finished          time.Time       `json:"finished,omitzero"`
	Command           string          `json:"command"`
	ConfigFingerprint string          `json:"config_fingerprint,omitempty"`
	PID               int             `json:"pid"`
	Outcome           string          `json:"outcome"`
	Hunts             json.RawMessage `json:"hunts,omitempty"`
	CreditsUsed       int             `json:"credits_used"`
	Calls             int             `json:"calls"`
	Indicators        int             `json:"indicators"`
	Hits              int             `json:"hits"`
	NewHits           int             `json:"new_hits"` // hits first reported by this run
	Errors            []string        `json:"errors,omitempty"`
	Error             string          `json:"error,omitempty"` // why it failed or was interrupted
	// Targets are the per-target outcomes; absent for a run recorded
	// before targets (it swept "default": see TargetNames) or unfinished.
	Targets []TargetOutcome `json:"targets,omitempty"`
}

// TargetNames are the sweep targets of r: DefaultTarget for a run that
// recorded none (an older run, or one still running).
func (r Run) TargetNames() []string {
	if len(r.Targets) == 0 {
		return []string{indicator.DefaultTarget}
	}
	out := make([]string, len(r.Targets))
	for i, t := range r.Targets {
		out[i] = t.Name
	}
	return out
}

// BeginRun records a new run as "running". It needs the run lock.
func (s *Store) BeginRun(ctx context.Context, info RunInfo) (int64, error) {
	if !s.locked() {
		return 0, &Error{Path: s.path, Kind: ErrNotLocked, Msg: "begin run"}
	}
	started := info.Started
	if started.IsZero() {
		started = s.now()
	}
	var id int64
	err := s.tx(ctx, "begin run", func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx,
			"INSERT INTO runs (started, command, config_fp, pid) VALUES (?, ?, ?, ?) RETURNING id",
			ns(started), info.Command, info.ConfigFingerprint, os.Getpid()).Scan(&id)
	})
	return id, err
}

// FinishRun records how a running run ended.
func (s *Store) FinishRun(ctx context.Context, runID int64, r RunResult) error {
	switch r.Outcome {
	case OutcomeOK, OutcomePartial, OutcomeFailed, OutcomeInterrupted:
	default:
		return fmt.Errorf("finish run %d: outcome %q is not ok, partial, failed or interrupted", runID, r.Outcome)
	}
	finished := r.Finished
	if finished.IsZero() {
		finished = s.now()
	}
	var hunts []byte
	if r.Hunts != nil {
		var err error
		if hunts, err = json.Marshal(r.Hunts); err != nil {
			return fmt.Errorf("finish run %d: hunt outcomes: %w", runID, err)
		}
	}
	var targets []byte
	if len(r.Targets) > 0 {
		ts := make([]TargetOutcome, len(r.Targets))
		for i, t := range r.Targets {
			switch t.Outcome {
			case OutcomeOK, OutcomePartial, OutcomeFailed, TargetSkipped:
			default:
				return fmt.Errorf("finish run %d: target %q: outcome %q is not ok, partial, failed or skipped", runID, t.Name, t.Outcome)
			}
			if t.Name == "" {
				return fmt.Errorf("finish run %d: a target outcome without a name", runID)
			}
			t.Error = redact(t.Error)
			ts[i] = t
		}
		targets, _ = json.Marshal(ts)
	}
	var errs []byte
	if len(r.Errors) > 0 {
		red := make([]string, len(r.Errors))
		for i, e := range r.Errors {
			red[i] = redact(e)
		}
		errs, _ = json.Marshal(red)
	}
	return s.tx(ctx, "finish run", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET finished = ?, outcome = ?, hunts = ?, credits_used = ?,
			calls = ?, indicators = ?, hits = ?, errors = ?, error = ?, targets = ? WHERE id = ? AND outcome = 'running'`,
			ns(finished), r.Outcome, nullBytes(hunts), r.CreditsUsed, r.Calls, r.Indicators, r.Hits, nullBytes(errs),
			nullString(redact(r.Error)), nullBytes(targets), runID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("run %d: %w or no longer running", runID, ErrNotFound)
		}
		return nil
	})
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

const runCols = `id, started, finished, command, config_fp, pid, outcome, hunts, credits_used, calls, indicators, hits, errors, error,
	(SELECT count(*) FROM hits WHERE hits.run_id = runs.id), targets`

// Runs returns the newest runs first; limit <= 0 means all.
func (s *Store) Runs(ctx context.Context, limit int) ([]Run, error) {
	return s.ListRuns(ctx, RunFilter{Limit: limit})
}

// ListRuns returns the runs f selects, newest first.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	q := "SELECT " + runCols + " FROM runs"
	var args []any
	if len(f.Targets) > 0 {
		names, _ := json.Marshal(f.Targets)
		// A run without per-target outcomes swept the default target.
		q += ` WHERE EXISTS (SELECT 1 FROM json_each(CASE WHEN runs.targets IS NULL
				THEN json_array(json_object('name', ?1)) ELSE runs.targets END) t
			WHERE json_extract(t.value, '$.name') COLLATE NOCASE IN (SELECT value FROM json_each(?2)))`
		args = append(args, indicator.DefaultTarget, string(names))
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.classify("list runs", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, s.classify("list runs", err)
		}
		out = append(out, r)
	}
	return out, s.classify("list runs", rows.Err())
}

// Run returns one run.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, "SELECT "+runCols+" FROM runs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return r, s.classify("read run", err)
}

// LastSuccess is when the newest run with outcome ok finished; zero if none.
func (s *Store) LastSuccess(ctx context.Context) (time.Time, error) {
	var t sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT max(finished) FROM runs WHERE outcome = 'ok'").Scan(&t)
	return fromNullNS(t), s.classify("last success", err)
}

type scanner interface{ Scan(...any) error }

func scanRun(sc scanner) (Run, error) {
	var r Run
	var started int64
	var finished sql.NullInt64
	var hunts, errs, reason, targets sql.NullString
	if err := sc.Scan(&r.ID, &started, &finished, &r.Command, &r.ConfigFingerprint, &r.PID, &r.Outcome, &hunts,
		&r.CreditsUsed, &r.Calls, &r.Indicators, &r.Hits, &errs, &reason, &r.NewHits, &targets); err != nil {
		return r, err
	}
	if targets.Valid {
		if err := json.Unmarshal([]byte(targets.String), &r.Targets); err != nil {
			return r, fmt.Errorf("run %d targets: %w", r.ID, err)
		}
	}
	r.Error = reason.String
	r.Started, r.Finished = fromNS(started), fromNullNS(finished)
	if hunts.Valid {
		r.Hunts = json.RawMessage(hunts.String)
	}
	if errs.Valid {
		if err := json.Unmarshal([]byte(errs.String), &r.Errors); err != nil {
			return r, fmt.Errorf("run %d errors: %w", r.ID, err)
		}
	}
	return r, nil
}
