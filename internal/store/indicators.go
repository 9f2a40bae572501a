package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"c2sweep/internal/indicator"
)

// IndicatorRecord is what the state knows about one indicator IP.
type IndicatorRecord struct {
	IP         netip.Addr `json:"ip"`
	Hunts      []string   `json:"hunts"`
	Sources    []string   `json:"sources"`
	Ports      []int      `json:"ports,omitempty"`
	FirstSeen  time.Time  `json:"first_seen"` // by the sources
	LastSeen   time.Time  `json:"last_seen"`
	FirstNamed time.Time  `json:"first_named"` // by our runs
	LastNamed  time.Time  `json:"last_named"`
	FirstRun   int64      `json:"first_run"`
	LastRun    int64      `json:"last_run"`
	FirstSwept time.Time  `json:"first_swept,omitzero"` // by us, any target
	LastSwept  time.Time  `json:"last_swept,omitzero"`
	Expired    time.Time  `json:"expired,omitzero"` // zero while active
	// Sightings holds the newest context for every hunt, source and port
	// that named the IP.
	Sightings []indicator.Sighting `json:"sightings"`
}

// Active reports whether the indicator has not expired.
func (r *IndicatorRecord) Active() bool { return r.Expired.IsZero() }

// IndicatorFilter selects indicators; the zero value selects all.
type IndicatorFilter struct {
	Hunt   string // named by this hunt
	Active bool   // only those not expired
	Limit  int    // <= 0: all
}

// UpsertIndicators records that run runID named these indicators at now:
// every hunt, source and port with first/last seen by the source and the
// newest context. An expired indicator that is named again becomes active.
// IPv4-mapped addresses are stored as IPv4.
func (s *Store) UpsertIndicators(ctx context.Context, runID int64, now time.Time, inds []*indicator.Indicator) error {
	if now.IsZero() {
		now = s.now()
	}
	for _, in := range inds {
		if in == nil || !in.IP.IsValid() {
			return fmt.Errorf("upsert indicators: invalid IP %v", in)
		}
	}
	return s.tx(ctx, "upsert indicators", func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, `INSERT INTO indicators
			(ip, first_seen, last_seen, first_named, last_named, first_run, last_run)
			VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?5)
			ON CONFLICT (ip) DO UPDATE SET
				first_seen = min(first_seen, excluded.first_seen),
				last_seen = max(last_seen, excluded.last_seen),
				last_named = max(last_named, excluded.last_named),
				last_run = excluded.last_run,
				expired_at = NULL`)
		if err != nil {
			return err
		}
		defer up.Close()
		sg, err := tx.PrepareContext(ctx, `INSERT INTO sightings
			(ip, hunt, source, port, transport, first_seen, last_seen, context, malware, confidence)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)
			ON CONFLICT (ip, hunt, source, port, transport) DO UPDATE SET
				first_seen = min(first_seen, excluded.first_seen),
				context = CASE WHEN excluded.last_seen >= last_seen THEN excluded.context ELSE context END,
				malware = CASE WHEN excluded.last_seen >= last_seen THEN excluded.malware ELSE malware END,
				confidence = CASE WHEN excluded.last_seen >= last_seen THEN excluded.confidence ELSE confidence END,
				last_seen = max(last_seen, excluded.last_seen)`)
		if err != nil {
			return err
		}
		defer sg.Close()
		for _, in := range inds {
			ip := in.IP.Unmap().String()
			first, last := in.LastSeen(), in.LastSeen()
			for _, x := range in.Sightings {
				if x.LastSeen.Before(first) {
					first = x.LastSeen
				}
			}
			if _, err := up.ExecContext(ctx, ip, ns(first), ns(last), ns(now), runID); err != nil {
				return fmt.Errorf("indicator %s: %w", ip, err)
			}
			for _, x := range in.Sightings {
				js, err := json.Marshal(x)
				if err != nil {
					return fmt.Errorf("indicator %s: %w", ip, err)
				}
				if _, err := sg.ExecContext(ctx, ip, x.Hunt, x.Source, x.Port, x.Transport, ns(x.LastSeen), string(js), x.Labels.Malware, x.Labels.Confidence); err != nil {
					return fmt.Errorf("indicator %s: %w", ip, err)
				}
			}
		}
		return nil
	})
}

// ExpireIndicators marks as expired every active indicator that no run has
// named since now-ttl, and returns how many. Expired indicators are kept
// and listed (IndicatorRecord.Expired), never deleted.
func (s *Store) ExpireIndicators(ctx context.Context, now time.Time, ttl time.Duration) (int, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("expire indicators: ttl %v must be positive", ttl)
	}
	var n int64
	err := s.tx(ctx, "expire indicators", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE indicators SET expired_at = ? WHERE expired_at IS NULL AND last_named < ?",
			ns(now), ns(now.Add(-ttl)))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Indicators lists indicators sorted by IP.
func (s *Store) Indicators(ctx context.Context, f IndicatorFilter) ([]IndicatorRecord, error) {
	var where []string
	var args []any
	if f.Hunt != "" {
		where = append(where, "i.ip IN (SELECT ip FROM sightings WHERE hunt = ?)")
		args = append(args, f.Hunt)
	}
	if f.Active {
		where = append(where, "i.expired_at IS NULL")
	}
	q := `SELECT i.ip, i.first_seen, i.last_seen, i.first_named, i.last_named, i.first_run, i.last_run,
		i.first_swept, i.last_swept, i.expired_at, s.hunt, s.source, s.port, s.context
		FROM indicators i LEFT JOIN sightings s ON s.ip = i.ip`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY i.ip, s.hunt, s.source, s.port, s.transport"
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.classify("list indicators", err)
	}
	defer rows.Close()
	var out []IndicatorRecord
	var cur *IndicatorRecord
	for rows.Next() {
		var ip string
		var fs, ls, fn, ln int64
		var r IndicatorRecord
		var fsw, lsw, exp sql.NullInt64
		var hunt, source, ctxJSON sql.NullString
		var port sql.NullInt64
		if err := rows.Scan(&ip, &fs, &ls, &fn, &ln, &r.FirstRun, &r.LastRun, &fsw, &lsw, &exp, &hunt, &source, &port, &ctxJSON); err != nil {
			return nil, s.classify("list indicators", err)
		}
		if cur == nil || cur.IP.String() != ip {
			addr, err := netip.ParseAddr(ip)
			if err != nil {
				return nil, s.classify("list indicators", fmt.Errorf("stored IP %q: %w", ip, err))
			}
			r.IP = addr
			r.FirstSeen, r.LastSeen, r.FirstNamed, r.LastNamed = fromNS(fs), fromNS(ls), fromNS(fn), fromNS(ln)
			r.FirstSwept, r.LastSwept, r.Expired = fromNullNS(fsw), fromNullNS(lsw), fromNullNS(exp)
			out = append(out, r)
			cur = &out[len(out)-1]
		}
		if !hunt.Valid {
			continue
		}
		cur.Hunts = append(cur.Hunts, hunt.String)
		cur.Sources = append(cur.Sources, source.String)
		if port.Int64 != 0 {
			cur.Ports = append(cur.Ports, int(port.Int64))
		}
		var sg indicator.Sighting
		if err := json.Unmarshal([]byte(ctxJSON.String), &sg); err != nil {
			return nil, s.classify("list indicators", fmt.Errorf("sighting of %s: %w", ip, err))
		}
		cur.Sightings = append(cur.Sightings, sg)
	}
	if err := rows.Err(); err != nil {
		return nil, s.classify("list indicators", err)
	}
	for i := range out {
		r := &out[i]
		slices.Sort(r.Hunts)
		r.Hunts = slices.Compact(r.Hunts)
		slices.Sort(r.Sources)
		r.Sources = slices.Compact(r.Sources)
		slices.Sort(r.Ports)
		r.Ports = slices.Compact(r.Ports)
	}
	slices.SortFunc(out, func(a, b IndicatorRecord) int { return a.IP.Compare(b.IP) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}
