package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"
)

// The alert outbox: CommitSweep queues each new, unsuppressed hit for every
// alert target (Options.AlertTargets). A hit stays pending for a target
// until MarkDelivered, so a failed delivery is retried by the next run and
// a delivered hit is never sent again.

// PendingAlerts returns up to limit hits (<= 0: all) not yet delivered to
// target, oldest first.
func (s *Store) PendingAlerts(ctx context.Context, target string, limit int) ([]StoredHit, error) {
	if limit <= 0 {
		limit = -1
	}
	return s.queryHits(ctx, "pending alerts", "SELECT "+hitCols+` FROM alerts a INDEXED BY alerts_pending JOIN hits h ON h.id = a.hit_id
		WHERE a.target = ? AND a.delivered IS NULL ORDER BY a.hit_id LIMIT ?`, target, limit)
}

// PendingCount is how many hits wait for target.
func (s *Store) PendingCount(ctx context.Context, target string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM alerts WHERE target = ? AND delivered IS NULL", target).Scan(&n)
	return n, s.classify("pending alerts", err)
}

// MarkDelivered records that target received these hits at at. Hits
// already marked keep their first delivery time.
func (s *Store) MarkDelivered(ctx context.Context, target string, hitIDs []int64, at time.Time) error {
	return s.eachIDChunk(ctx, "mark delivered", hitIDs, func(tx *sql.Tx, arr string) error {
		_, err := tx.ExecContext(ctx, `UPDATE alerts SET delivered = ?, attempts = attempts + 1, last_attempt = ?
			WHERE target = ? AND delivered IS NULL AND hit_id IN (SELECT value FROM json_each(?))`,
			ns(at), ns(at), target, arr)
		return err
	})
}

// RecordDeliveryFailure records a failed attempt to deliver these hits to
// target; they stay pending. URLs in msg are redacted before storing.
func (s *Store) RecordDeliveryFailure(ctx context.Context, target string, hitIDs []int64, at time.Time, msg string) error {
	msg = redact(msg)
	return s.eachIDChunk(ctx, "record delivery failure", hitIDs, func(tx *sql.Tx, arr string) error {
		_, err := tx.ExecContext(ctx, `UPDATE alerts SET attempts = attempts + 1, last_attempt = ?, last_error = ?
			WHERE target = ? AND delivered IS NULL AND hit_id IN (SELECT value FROM json_each(?))`,
			ns(at), msg, target, arr)
		return err
	})
}

// DeliveryFailure is the last failure recorded for a pending hit.
type DeliveryFailure struct {
	Attempts    int
	LastAttempt time.Time
	LastError   string
}

// LastDeliveryFailure returns the delivery state of one hit for target.
func (s *Store) LastDeliveryFailure(ctx context.Context, target string, hitID int64) (DeliveryFailure, error) {
	var d DeliveryFailure
	var last sql.NullInt64
	var msg sql.NullString
	err := s.db.QueryRowContext(ctx, "SELECT attempts, last_attempt, last_error FROM alerts WHERE target = ? AND hit_id = ?",
		target, hitID).Scan(&d.Attempts, &last, &msg)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	d.LastAttempt, d.LastError = fromNullNS(last), msg.String
	return d, s.classify("delivery state", err)
}

func (s *Store) eachIDChunk(ctx context.Context, op string, ids []int64, fn func(*sql.Tx, string) error) error {
	if len(ids) == 0 {
		return nil
	}
	return s.tx(ctx, op, func(tx *sql.Tx) error {
		for rest := ids; len(rest) > 0; {
			chunk := rest[:min(len(rest), ipChunk)]
			rest = rest[len(chunk):]
			b := make([]byte, 0, 8*len(chunk))
			b = append(b, '[')
			for i, id := range chunk {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendInt(b, id)
			}
			b = append(b, ']')
			if err := fn(tx, string(b)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Counts summarises the state, for metrics and `runs`.
type Counts struct {
	Runs             int
	Indicators       int
	ActiveIndicators int
	Hits             int
	SuppressedHits   int
	Suppressions     int
	PendingAlerts    int
}

// Counts counts what the state holds.
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM runs),
		(SELECT count(*) FROM indicators),
		(SELECT count(*) FROM indicators WHERE expired_at IS NULL),
		(SELECT count(*) FROM hits),
		(SELECT count(*) FROM hits WHERE suppressed IS NOT NULL),
		(SELECT count(*) FROM suppressions),
		(SELECT count(*) FROM alerts WHERE delivered IS NULL)`).Scan(
		&c.Runs, &c.Indicators, &c.ActiveIndicators, &c.Hits, &c.SuppressedHits, &c.Suppressions, &c.PendingAlerts)
	return c, s.classify("counts", err)
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
