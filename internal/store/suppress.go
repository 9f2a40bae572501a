package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"c2sweep/internal/indicator"
)

// Suppression kinds.
const (
	SuppressIP     = "ip"
	SuppressCIDR   = "cidr"
	SuppressDevice = "device"
	SuppressHunt   = "hunt"
	// SuppressPair is one device's contact with one C2 server, "DEVICE IP":
	// what a benign triage verdict suppresses.
	SuppressPair = "pair"
)

// Suppression marks an IP, CIDR, device or hunt as benign: its hits are
// stored (marked) but not alerted, until Until if set.
type Suppression struct {
	Kind    string     `json:"kind"`
	Value   string     `json:"value"`
	Reason  string     `json:"reason"`
	By      string     `json:"by,omitempty"`
	Created time.Time  `json:"created"`
	Until   *time.Time `json:"until,omitempty"`
}

// Active reports whether the suppression applies at now.
func (sp *Suppression) Active(now time.Time) bool {
	return sp.Until == nil || now.Before(*sp.Until)
}

// NormalizeSuppression checks value for kind and returns its canonical
// form: IPs unmapped, CIDRs masked (an IPv4-mapped prefix becomes IPv4),
// device names lower case.
func NormalizeSuppression(kind, value string) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return "", fmt.Errorf("suppress %s: empty value", kind)
	}
	switch kind {
	case SuppressIP:
		ip, err := netip.ParseAddr(value)
		if err != nil || ip.Zone() != "" {
			return "", fmt.Errorf("suppress ip: %q is not an IP address", value)
		}
		return ip.Unmap().String(), nil
	case SuppressCIDR:
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return "", fmt.Errorf("suppress cidr: %q is not a CIDR prefix (like 192.0.2.0/24)", value)
		}
		return unmapPrefix(p).String(), nil
	case SuppressDevice:
		return strings.ToLower(value), nil
	case SuppressHunt:
		return value, nil
	case SuppressPair:
		// The IP is the last word: a device name may hold spaces.
		dev, ip, ok := cutPair(value)
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if !ok || dev == "" || err != nil || a.Zone() != "" {
			return "", fmt.Errorf("suppress pair: %q is not a device and an IP (like \"ws01 192.0.2.7\")", value)
		}
		return PairValue(dev, a), nil
	}
	return "", fmt.Errorf("suppress: kind %q is not ip, cidr, device, hunt or pair", kind)
}

// PairValue is the value of a pair suppression: the device (name or id,
// lower case) and the C2 IP.
func PairValue(device string, ip netip.Addr) string {
	return strings.ToLower(strings.TrimSpace(device)) + " " + ip.Unmap().String()
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Suppress adds a suppression, or replaces the one of the same kind and
// value. A reason is required: a hunter reading it later must know why.
// Hits already recorded that it matches (and no other suppression marked)
// are marked too, and their undelivered alerts dropped: suppressing means
// "stop telling me", whether the hit is old or not. It returns how many
// hits it marked.
func (s *Store) Suppress(ctx context.Context, sp Suppression) (int, error) {
	v, err := NormalizeSuppression(sp.Kind, sp.Value)
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(sp.Reason) == "" {
		return 0, fmt.Errorf("suppress %s %s: a reason is required", sp.Kind, v)
	}
	created := sp.Created
	if created.IsZero() {
		created = s.now()
	}
	var until any
	if sp.Until != nil {
		if !sp.Until.After(created) {
			// It would be stored and listed, yet never suppress anything.
			return 0, fmt.Errorf("suppress %s %s: until %s is not after now (%s): it would never apply",
				sp.Kind, v, sp.Until.UTC().Format(time.RFC3339), created.UTC().Format(time.RFC3339))
		}
		until = ns(*sp.Until)
	}
	marked := 0
	err = s.tx(ctx, "suppress", func(tx *sql.Tx) error {
		marked = 0
		_, err := tx.ExecContext(ctx, `INSERT INTO suppressions (kind, value, reason, by, created, until) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, by = excluded.by,
			created = excluded.created, until = excluded.until`,
			sp.Kind, v, redact(sp.Reason), sp.By, ns(created), until)
		if err != nil {
			return err
		}
		marked, err = remark(ctx, tx, s.now(), candidates(sp.Kind, v, "h.suppressed IS NULL"), true)
		return err
	})
	return marked, err
}

// Unsuppress removes a suppression; ErrNotFound if there is none. The
// hits it marked are checked again against the suppressions left: those
// none of them matches are unmarked (not alerted again: they are not new).
// It returns how many hits it unmarked.
func (s *Store) Unsuppress(ctx context.Context, kind, value string) (int, error) {
	v, err := NormalizeSuppression(kind, value)
	if err != nil {
		return 0, err
	}
	unmarked := 0
	err = s.tx(ctx, "unsuppress", func(tx *sql.Tx) error {
		unmarked = 0
		res, err := tx.ExecContext(ctx, "DELETE FROM suppressions WHERE kind = ? AND value = ?", kind, v)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &Error{Path: s.path, Kind: ErrNotFound, Msg: fmt.Sprintf("no suppression of %s %s", kind, v),
				Hint: "`c2sweep unsuppress --list` shows the suppressions"}
		}
		// The mark names the suppression: "ip 1.2.3.4: reason", hunts
		// joined with "; ".
		mark := kind + " " + v + ": "
		unmarked, err = remark(ctx, tx, s.now(), candidates(kind, v,
			"(h.suppressed LIKE ?1 || '%' ESCAPE '\\' OR h.suppressed LIKE '%; ' || ?1 || '%' ESCAPE '\\')", likeEscape(mark)), false)
		return err
	})
	return unmarked, err
}

// hitCandidates is a query of the hits a suppression change may concern.
type hitCandidates struct {
	q    string
	args []any
}

// candidates selects the hits that a suppression of kind and value may
// match and that pass cond (whose own arguments come first, as ?1). The
// final word is the matcher's: this only narrows what it reads.
func candidates(kind, value, cond string, condArgs ...any) hitCandidates {
	q := "SELECT h.id, h.ip, h.device_id, h.device, h.hunts FROM hits h WHERE " + cond
	args := condArgs
	n := len(args) + 1
	switch kind {
	case SuppressIP:
		q += fmt.Sprintf(" AND h.ip = ?%d", n)
		args = append(args, value)
	case SuppressDevice:
		q += fmt.Sprintf(" AND (h.device = ?%d OR lower(h.device_id) = ?%d OR h.device LIKE ?%d || '.%%' ESCAPE '\\')", n, n, n+1)
		args = append(args, value, likeEscape(value))
	case SuppressHunt:
		q += fmt.Sprintf(" AND h.id IN (SELECT hit_id FROM hit_hunts WHERE hunt = ?%d COLLATE NOCASE)", n)
		args = append(args, value)
	case SuppressPair:
		_, ip, _ := cutPair(value)
		q += fmt.Sprintf(" AND h.ip = ?%d", n)
		args = append(args, ip)
	}
	return hitCandidates{q, args}
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// remark sets the mark of each candidate hit to what the suppressions
// active at now say. With mark, only hits the suppressions match are
// touched (marked); without, only hits they no longer match (unmarked).
// It returns how many hits changed.
func remark(ctx context.Context, tx *sql.Tx, now time.Time, c hitCandidates, mark bool) (int, error) {
	match, err := loadSuppressor(ctx, tx, now)
	if err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, c.q, c.args...)
	if err != nil {
		return 0, err
	}
	type change struct {
		id  int64
		why any
	}
	var changes []change
	for rows.Next() {
		var id int64
		var ip, hunts string
		var h indicator.Hit
		if err := rows.Scan(&id, &ip, &h.DeviceID, &h.Device, &hunts); err != nil {
			rows.Close()
			return 0, err
		}
		if h.IP, err = netip.ParseAddr(ip); err != nil {
			rows.Close()
			return 0, fmt.Errorf("hit %d: stored IP %q: %w", id, ip, err)
		}
		if err := json.Unmarshal([]byte(hunts), &h.Hunts); err != nil {
			rows.Close()
			return 0, fmt.Errorf("hit %d hunts: %w", id, err)
		}
		ok, why := match(h)
		switch {
		case mark && ok:
			changes = append(changes, change{id, why})
		case !mark && !ok:
			changes = append(changes, change{id, nil})
		case !mark && ok:
			changes = append(changes, change{id, why}) // still suppressed, by what is left
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range changes {
		if _, err := tx.ExecContext(ctx, "UPDATE hits SET suppressed = ? WHERE id = ?", c.why, c.id); err != nil {
			return 0, err
		}
		if c.why == nil {
			n++
			continue
		}
		if mark {
			n++
			// Not alerted: an alert still waiting in the outbox goes.
			if _, err := tx.ExecContext(ctx, "DELETE FROM alerts WHERE hit_id = ? AND delivered IS NULL", c.id); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// Suppressions lists all suppressions, expired ones included.
func (s *Store) Suppressions(ctx context.Context) ([]Suppression, error) {
	out, err := listSuppressions(ctx, s.db)
	return out, s.classify("list suppressions", err)
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

func listSuppressions(ctx context.Context, q querier) ([]Suppression, error) {
	rows, err := q.QueryContext(ctx, "SELECT kind, value, reason, by, created, until FROM suppressions ORDER BY kind, value")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var sp Suppression
		var created int64
		var until sql.NullInt64
		if err := rows.Scan(&sp.Kind, &sp.Value, &sp.Reason, &sp.By, &created, &until); err != nil {
			return nil, err
		}
		sp.Created = fromNS(created)
		if until.Valid {
			t := fromNS(until.Int64)
			sp.Until = &t
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// Suppressor returns a matcher for the suppressions active at now. It
// reports whether a hit is suppressed and by what. A hit is suppressed by
// its IP (IPv4-mapped or not), a CIDR containing it, its device (name or
// id, case-insensitive), or its hunts, when every hunt it is attributed to
// is suppressed: a hit that another hunt also names is still alerted.
func (s *Store) Suppressor(ctx context.Context, now time.Time) (func(indicator.Hit) (bool, string), error) {
	m, err := loadSuppressor(ctx, s.db, now)
	return m, s.classify("load suppressions", err)
}

func loadSuppressor(ctx context.Context, q querier, now time.Time) (func(indicator.Hit) (bool, string), error) {
	all, err := listSuppressions(ctx, q)
	if err != nil {
		return nil, err
	}
	ips := map[netip.Addr]string{}
	type pfx struct {
		p   netip.Prefix
		why string
	}
	var prefixes []pfx
	devices := map[string]string{}
	hunts := map[string]string{}
	pairs := map[string]string{}
	for _, sp := range all {
		if !sp.Active(now) {
			continue
		}
		why := sp.Kind + " " + sp.Value + ": " + sp.Reason
		switch sp.Kind {
		case SuppressIP:
			if ip, err := netip.ParseAddr(sp.Value); err == nil {
				ips[ip.Unmap()] = why
			}
		case SuppressCIDR:
			if p, err := netip.ParsePrefix(sp.Value); err == nil {
				prefixes = append(prefixes, pfx{unmapPrefix(p), why})
			}
		case SuppressDevice:
			devices[strings.ToLower(sp.Value)] = why
		case SuppressHunt:
			hunts[strings.ToLower(sp.Value)] = why
		case SuppressPair:
			pairs[strings.ToLower(sp.Value)] = why
		}
	}
	return func(h indicator.Hit) (bool, string) {
		ip := h.IP.Unmap()
		if why, ok := ips[ip]; ok {
			return true, why
		}
		for _, p := range prefixes {
			if p.p.Contains(ip) {
				return true, p.why
			}
		}
		// A device is suppressed by its name, its id or its short name
		// (ws01 for ws01.contoso.local), as --device selects it.
		short, _, _ := strings.Cut(h.Device, ".")
		for _, d := range []string{h.Device, h.DeviceID, short} {
			if d == "" {
				continue
			}
			if why, ok := devices[strings.ToLower(d)]; ok {
				return true, why
			}
			if why, ok := pairs[PairValue(d, ip)]; ok {
				return true, why
			}
		}
		if len(h.Hunts) > 0 && len(hunts) > 0 {
			var whys []string
			for _, hu := range h.Hunts {
				why, ok := hunts[strings.ToLower(hu)]
				if !ok {
					return false, ""
				}
				whys = append(whys, why)
			}
			return true, strings.Join(whys, "; ")
		}
		return false, ""
	}, nil
}

// cutPair splits a pair suppression's "DEVICE IP" at its last space.
func cutPair(value string) (device, ip string, ok bool) {
	i := strings.LastIndexByte(value, ' ')
	if i < 0 {
		return value, "", false
	}
	return value[:i], value[i+1:], true
}
