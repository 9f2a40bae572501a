package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// HuntRun is one hunt's part of one run, for its health.
type HuntRun struct {
	RunID    int64
	Hunt     string
	At       time.Time
	Returned int
	Fresh    int
	Kept     int
	Excluded int
	// ExcludedWhy counts exclusions by reason (cdn, allowlist); nil: none.
	ExcludedWhy map[string]int
	Hits        int
	Failed      bool
}

// RecordHuntRuns stores the hunts' parts of a run (again: replaced).
func (s *Store) RecordHuntRuns(ctx context.Context, rs []HuntRun) error {
	return s.tx(ctx, "record hunt health", func(tx *sql.Tx) error {
		for _, r := range rs {
			why := ""
			if len(r.ExcludedWhy) > 0 {
				b, err := json.Marshal(r.ExcludedWhy)
				if err != nil {
					return err
				}
				why = string(b)
			}
			failed := 0
			if r.Failed {
				failed = 1
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO hunt_runs
				(run_id, hunt, at, returned, fresh, kept, excluded, excluded_why, hits, failed)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.RunID, r.Hunt, ns(r.At), r.Returned, r.Fresh, r.Kept, r.Excluded, why, r.Hits, failed); err != nil {
				return err
			}
		}
		return nil
	})
}

// HuntRuns returns each hunt's last n runs (n <= 0: all), oldest first.
func (s *Store) HuntRuns(ctx context.Context, n int) (map[string][]HuntRun, error) {
	q := `SELECT run_id, hunt, at, returned, fresh, kept, excluded, excluded_why, hits, failed FROM (
		SELECT *, ROW_NUMBER() OVER (PARTITION BY hunt ORDER BY at DESC, run_id DESC) AS k FROM hunt_runs)`
	var args []any
	if n > 0 {
		q += ` WHERE k <= ?`
		args = append(args, n)
	}
	q += ` ORDER BY hunt, at, run_id`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("hunt health: %w", err)
	}
	defer rows.Close()
	out := map[string][]HuntRun{}
	for rows.Next() {
		var r HuntRun
		var at int64
		var why string
		var failed int
		if err := rows.Scan(&r.RunID, &r.Hunt, &at, &r.Returned, &r.Fresh, &r.Kept, &r.Excluded, &why, &r.Hits, &failed); err != nil {
			return nil, fmt.Errorf("hunt health: %w", err)
		}
		r.At, r.Failed = time.Unix(0, at).UTC(), failed != 0
		if why != "" {
			_ = json.Unmarshal([]byte(why), &r.ExcludedWhy)
		}
		out[r.Hunt] = append(out[r.Hunt], r)
	}
	return out, rows.Err()
}

// SwapVerdict stores a hunt's verdict and returns the one before ("" for
// none), so that a change of state is reported once.
func (s *Store) SwapVerdict(ctx context.Context, hunt, verdict string, at time.Time) (string, error) {
	var prev string
	err := s.tx(ctx, "record hunt verdict", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT verdict FROM hunt_verdicts WHERE hunt = ?`, hunt).Scan(&prev)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if prev == verdict {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO hunt_verdicts (hunt, verdict, since) VALUES (?, ?, ?)`, hunt, verdict, ns(at))
		return err
	})
	return prev, err
}
