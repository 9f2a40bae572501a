package store

import (
	"context"
	"database/sql"
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
	}
	return "", fmt.Errorf("suppress: kind %q is not ip, cidr, device or hunt", kind)
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
func (s *Store) Suppress(ctx context.Context, sp Suppression) error {
	v, err := NormalizeSuppression(sp.Kind, sp.Value)
	if err != nil {
		return err
	}
	if strings.TrimSpace(sp.Reason) == "" {
		return fmt.Errorf("suppress %s %s: a reason is required", sp.Kind, v)
	}
	created := sp.Created
	if created.IsZero() {
		created = s.now()
	}
	var until any
	if sp.Until != nil {
		if !sp.Until.After(created) {
			// It would be stored and listed, yet never suppress anything.
			return fmt.Errorf("suppress %s %s: until %s is not after now (%s): it would never apply",
				sp.Kind, v, sp.Until.UTC().Format(time.RFC3339), created.UTC().Format(time.RFC3339))
		}
		until = ns(*sp.Until)
	}
	return s.tx(ctx, "suppress", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO suppressions (kind, value, reason, by, created, until) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, by = excluded.by,
			created = excluded.created, until = excluded.until`,
			sp.Kind, v, redact(sp.Reason), sp.By, ns(created), until)
		return err
	})
}

// Unsuppress removes a suppression; ErrNotFound if there is none.
func (s *Store) Unsuppress(ctx context.Context, kind, value string) error {
	v, err := NormalizeSuppression(kind, value)
	if err != nil {
		return err
	}
	return s.tx(ctx, "unsuppress", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM suppressions WHERE kind = ? AND value = ?", kind, v)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &Error{Path: s.path, Kind: ErrNotFound, Msg: fmt.Sprintf("no suppression of %s %s", kind, v),
				Hint: "`c2sweep unsuppress --list` shows the suppressions"}
		}
		return nil
	})
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
		for _, d := range []string{h.Device, h.DeviceID} {
			if d == "" {
				continue
			}
			if why, ok := devices[strings.ToLower(d)]; ok {
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
