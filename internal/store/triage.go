package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Triage statuses a hunter gives hits.
const (
	TriageInvestigating = "investigating"
	TriageBenign        = "benign"
	TriageMalicious     = "malicious"
	TriageClosed        = "closed"
)

// TriageStatuses are the statuses `triage --status` accepts, in order.
var TriageStatuses = []string{TriageInvestigating, TriageBenign, TriageMalicious, TriageClosed}

// Triage target kinds: what a change names.
const (
	TriageIP     = "ip"
	TriageDevice = "device"
	TriageHit    = "hit"
)

// TriageChange is one kept change of status.
type TriageChange struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Target string    `json:"target"` // "ip 203.0.113.7", "device ws01", "hit 7"
	Status string    `json:"status"`
	Note   string    `json:"note"`
	Hits   int       `json:"hits"` // how many hits it marked
}

// TriageResult is what a change did.
type TriageResult struct {
	Marked int `json:"marked"`
	// Pairs are the (device, C2) pairs a benign verdict suppressed, as
	// pair suppression values; SuppressedHits how many recorded hits those
	// suppressions marked.
	Pairs          []string `json:"pairs,omitempty"`
	SuppressedHits int      `json:"suppressed_hits,omitempty"`
}

// triageCond selects the hits a target names.
func triageCond(kind, value string) (string, []any, string, error) {
	switch kind {
	case TriageIP:
		ip, err := netip.ParseAddr(strings.TrimSpace(value))
		if err != nil || ip.Zone() != "" {
			return "", nil, "", fmt.Errorf("triage: %q is not an IP address", value)
		}
		v := ip.Unmap().String()
		return "h.ip = ?", []any{v}, "ip " + v, nil
	case TriageDevice:
		v := strings.ToLower(strings.TrimSpace(value))
		if v == "" {
			return "", nil, "", fmt.Errorf("triage: empty device name")
		}
		// As --device and suppress select a device: name, id or short name.
		return `(lower(h.device) = ? OR lower(h.device_id) = ? OR lower(h.device) LIKE ? || '.%' ESCAPE '\')`,
			[]any{v, v, likeEscape(v)}, "device " + v, nil
	case TriageHit:
		id, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil || id <= 0 {
			return "", nil, "", fmt.Errorf("triage: %q is not a hit id", value)
		}
		return "h.id = ?", []any{id}, "hit " + strconv.FormatInt(id, 10), nil
	}
	return "", nil, "", fmt.Errorf("triage: target kind %q is not ip, device or hit", kind)
}

// Triage gives every recorded hit the target names the status, and keeps
// the change with its time and note. A benign verdict also suppresses
// each (device, C2) pair of those hits, as `suppress` does, so the pair's
// future hits are stored marked and not alerted. No hit named: ErrNotFound.
func (s *Store) Triage(ctx context.Context, kind, value, status, note, by string) (TriageResult, error) {
	var res TriageResult
	known := false
	for _, st := range TriageStatuses {
		known = known || st == status
	}
	if !known {
		return res, fmt.Errorf("triage: status %q is not one of %s", status, strings.Join(TriageStatuses, ", "))
	}
	cond, args, target, err := triageCond(kind, value)
	if err != nil {
		return res, err
	}
	now := s.now()
	type pair struct {
		device string
		ip     netip.Addr
	}
	var pairs []pair
	err = s.tx(ctx, "triage", func(tx *sql.Tx) error {
		pairs = nil
		rows, err := tx.QueryContext(ctx, "SELECT h.id, h.device, h.device_id, h.ip FROM hits h WHERE "+cond+" ORDER BY h.id", args...)
		if err != nil {
			return err
		}
		var ids []int64
		seen := map[pair]bool{}
		for rows.Next() {
			var id int64
			var dev, devID, ip string
			if err := rows.Scan(&id, &dev, &devID, &ip); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			if dev == "" {
				dev = devID
			}
			a, err := netip.ParseAddr(ip)
			if err != nil || dev == "" {
				continue // a sign-in without a device: no pair to suppress
			}
			if p := (pair{strings.ToLower(dev), a.Unmap()}); !seen[p] {
				seen[p] = true
				pairs = append(pairs, p)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return &Error{Path: s.path, Kind: ErrNotFound, Msg: "no recorded hit of " + target,
				Hint: "`c2sweep hits --all` lists the recorded hits"}
		}
		r, err := tx.ExecContext(ctx, "INSERT INTO triage_history (at, target, status, note, hits) VALUES (?, ?, ?, ?, ?)",
			ns(now), target, status, redact(note), len(ids))
		if err != nil {
			return err
		}
		change, err := r.LastInsertId()
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, "UPDATE hits SET triage = ? WHERE id = ?", status, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO triage_hits (change_id, hit_id) VALUES (?, ?)", change, id); err != nil {
				return err
			}
		}
		res.Marked = len(ids)
		return nil
	})
	if err != nil {
		return res, s.classify("triage", err)
	}
	if status != TriageBenign {
		return res, nil
	}
	reason := "triaged benign"
	if n := strings.TrimSpace(note); n != "" {
		reason += ": " + n
	}
	// The one way to stop alerting: a suppression per pair.
	for _, p := range pairs {
		v := PairValue(p.device, p.ip)
		n, err := s.Suppress(ctx, Suppression{Kind: SuppressPair, Value: v, Reason: reason, By: by, Created: now})
		if err != nil {
			return res, err
		}
		res.Pairs = append(res.Pairs, v)
		res.SuppressedHits += n
	}
	return res, nil
}

// TriageHistory lists, oldest first, every change that marked a hit the
// target names (a change made through the device shows for its IPs too).
func (s *Store) TriageHistory(ctx context.Context, kind, value string) ([]TriageChange, error) {
	cond, args, _, err := triageCond(kind, value)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT c.id, c.at, c.target, c.status, c.note, c.hits FROM triage_history c
		WHERE c.id IN (SELECT t.change_id FROM triage_hits t JOIN hits h ON h.id = t.hit_id WHERE `+cond+`)
		ORDER BY c.at, c.id`, args...)
	if err != nil {
		return nil, s.classify("triage history", err)
	}
	defer rows.Close()
	out := []TriageChange{}
	for rows.Next() {
		var c TriageChange
		var at int64
		if err := rows.Scan(&c.ID, &at, &c.Target, &c.Status, &c.Note, &c.Hits); err != nil {
			return nil, s.classify("triage history", err)
		}
		c.At = fromNS(at)
		out = append(out, c)
	}
	return out, s.classify("triage history", rows.Err())
}

// HitIPs are the C2 IPs of the recorded hits, ascending: what an IP
// target is checked against.
func (s *Store) HitIPs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT DISTINCT ip FROM hits ORDER BY 1")
	if err != nil {
		return nil, s.classify("list hit IPs", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			return nil, s.classify("list hit IPs", err)
		}
		out = append(out, ip)
	}
	return out, s.classify("list hit IPs", rows.Err())
}
