// Package kql builds the advanced hunting queries of a sweep. It is pure:
// no I/O, no clock. Every value in a query is an inlined literal (neither
// hunting API takes parameters), quoted by this package.
//
// Every query Build emits has one shape, fixed by the golden files in
// testdata/ and checked against Microsoft's own KQL parser and the declared
// table schemas (kqlcheck_test.go):
//
//	DeviceNetworkEvents
//	| where Timestamp between (datetime(2026-10-28T07:00:00.0000000Z) .. datetime(2026-11-27T07:00:00.0000000Z))
//	| where RemoteIP in ("203.0.113.7", "::ffff:203.0.113.7", "2001:db8::1")
//	| project Timestamp, DeviceId, DeviceName, ActionType, RemoteIP, ..., ReportId
//
// The time column is the table's own (from the schema); both bounds are
// inclusive. An IPv4 indicator is matched in both of the forms Defender
// writes, a.b.c.d and ::ffff:a.b.c.d, so that `in` stays an exact and cheap
// string match; IPv6 is written in its canonical (RFC 5952) form. IPs are
// deduplicated and sorted, so the same input always gives the same text.
package kql

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"c2sweep/internal/schema"
)

// Target is a table and the IP column of it to match.
type Target struct {
	Table  string `json:"table" yaml:"table"`
	Column string `json:"column" yaml:"column"`
}

// check verifies the target against the named table catalogue
// (schema.Named: "" is Defender advanced hunting, "sentinel" Log Analytics).
func (t Target) check(catalog string) (*schema.Catalog, error) {
	c, err := schema.Named(catalog)
	if err == nil {
		err = c.CheckTarget(t.Table, t.Column)
	}
	if err != nil {
		return nil, fmt.Errorf("kql: target %s: %w", t, err)
	}
	return c, nil
}

// DefaultTarget is the sweep the blog post did: outbound connections.
var DefaultTarget = Target{Table: "DeviceNetworkEvents", Column: "RemoteIP"}

func (t Target) String() string { return t.Table + "." + t.Column }

// Group is a set of IPs that share a time window.
type Group struct {
	IPs        []netip.Addr
	Start, End time.Time
}

// Query is one query to send, with the IPs it covers so that a rejected
// query can be split and hits attributed.
type Query struct {
	Target Target
	// Catalog is the table catalogue the query is written against ("" for
	// Defender's); Split keeps it.
	Catalog    string
	Text       string
	IPs        []netip.Addr // sorted, distinct, unmapped
	Start, End time.Time    // UTC, to the 100 ns tick, as written in Text
}

// Limits bound each query Build emits. A zero field takes its default.
type Limits struct {
	MaxIPs   int // indicators a query (an IPv4 one counts once, though written twice)
	MaxBytes int // length of the query text in bytes
}

// The hunting APIs do not document a maximum query text length (see
// api-contracts.md); `in` itself takes up to 1,000,000 values. These
// defaults keep a query far below any plausible limit of the services
// while sending 100,000 indicators in 20 calls (the budget is 45 a minute):
// 5,000 indicators take at most 5,000 x 45 bytes = 225 KB (a full IPv6
// literal is 41 bytes, an IPv4 pair at most 43, plus separators), so for
// any mix the IP count binds first and the byte bound, 250,000, is a guard
// for text the count does not foresee. A query the service still refuses
// is split (Split) and retried by the caller.
const (
	DefaultMaxIPs   = 5000
	DefaultMaxBytes = 250_000
)

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{MaxIPs: DefaultMaxIPs, MaxBytes: DefaultMaxBytes}

func (l Limits) resolve() (Limits, error) {
	if l.MaxIPs < 0 || l.MaxBytes < 0 {
		return l, fmt.Errorf("kql: negative limits %+v", l)
	}
	if l.MaxIPs == 0 {
		l.MaxIPs = DefaultMaxIPs
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l, nil
}

// tick is Kusto's datetime resolution.
const tick = 100 * time.Nanosecond

// Kusto's datetime range.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)
)

// window is the normalised time window of a group, and the key that makes
// groups with the same window share queries.
type window struct{ start, end time.Time }

func normaliseWindow(start, end time.Time) (window, error) {
	if start.IsZero() || end.IsZero() {
		return window{}, errors.New("kql: window without a start or an end")
	}
	w := window{start.UTC().Truncate(tick), end.UTC().Truncate(tick)}
	if w.start.Before(minTime) || w.end.After(maxTime) {
		return window{}, fmt.Errorf("kql: window %s .. %s outside Kusto's datetime range", w.start, w.end)
	}
	if !w.end.After(w.start) {
		return window{}, fmt.Errorf("kql: empty window %s .. %s", w.start.Format(time.RFC3339Nano), w.end.Format(time.RFC3339Nano))
	}
	return w, nil
}

// shape is everything in a query's text except its IPs.
type shape struct {
	target     Target
	catalog    string
	head, tail string
}

func newShape(catalog string, t Target, w window) (shape, error) {
	cat, err := t.check(catalog)
	if err != nil {
		return shape{}, err
	}
	tb, _ := cat.Lookup(t.Table)
	var cols []string
	for _, c := range project(tb) {
		id, err := Ident(c)
		if err != nil {
			return shape{}, fmt.Errorf("kql: table %s: %w", t.Table, err)
		}
		cols = append(cols, id)
	}
	table, err1 := Ident(t.Table)
	timeCol, err2 := Ident(tb.TimeColumn)
	ipCol, err3 := Ident(t.Column)
	if err := errors.Join(err1, err2, err3); err != nil {
		return shape{}, fmt.Errorf("kql: target %s: %w", t, err)
	}
	var h strings.Builder
	h.WriteString(table)
	h.WriteString("\n| where ")
	h.WriteString(timeCol)
	h.WriteString(" between (")
	h.WriteString(Datetime(w.start))
	h.WriteString(" .. ")
	h.WriteString(Datetime(w.end))
	h.WriteString(")\n")
	if slices.Contains(tb.Normalise, t.Column) {
		h.WriteString(normalise(ipCol))
	}
	h.WriteString("| where ")
	h.WriteString(ipCol)
	h.WriteString(" in (")
	return shape{target: t, catalog: catalog, head: h.String(), tail: ")\n| project " + strings.Join(cols, ", ")}, nil
}

// normalise rewrites an IP column whose values may carry a port, brackets
// or ::ffff: (OfficeActivity's ClientIP: "1.2.3.4:5555",
// "[::ffff:1.2.3.4]:5555", "[2001:db8::1]") to the bare address, so that
// the `in` below stays an exact match: the bracketed part, else an IPv4
// address before a port, else the value as is. ::ffff: needs no rewrite:
// every IPv4 indicator is listed in both forms.
func normalise(col string) string {
	return "| extend " + col + " = case(" + col + " startswith " + Quote("[") + ", extract(" + Quote(`^\[([^\]]+)\]`) + ", 1, " + col + "),\n" +
		"    " + col + " matches regex " + Quote(`^[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]+$`) + ", extract(" + Quote(`^([0-9.]+):`) + ", 1, " + col + "),\n" +
		"    " + col + ")\n"
}

// ipBytes is what ip adds to the list of literals, separators inside it
// included: "a.b.c.d", "::ffff:a.b.c.d" or "v6".
func ipBytes(ip netip.Addr) int {
	if ip.Is4() {
		n := ipv4Len(ip)
		return 2*n + len(`"", "::ffff:"`)
	}
	var buf [64]byte // an IPv6 address without a zone is at most 45 bytes
	return len(ip.AppendTo(buf[:0])) + 2
}

func ipv4Len(ip netip.Addr) int {
	n := 3 // dots
	for _, b := range ip.As4() {
		switch {
		case b >= 100:
			n += 3
		case b >= 10:
			n += 2
		default:
			n++
		}
	}
	return n
}

const sep = ", "

// render writes the query for ips (sorted, distinct, unmapped); size is its
// exact length, as chunk computed it.
func (s shape) render(w window, ips []netip.Addr, size int) Query {
	b := make([]byte, 0, size)
	b = append(b, s.head...)
	for i, ip := range ips {
		if i > 0 {
			b = append(b, sep...)
		}
		b = appendIP(b, ip)
		if ip.Is4() {
			b = append(b, sep...)
			b = appendIP(b, netip.AddrFrom16(ip.As16()))
		}
	}
	b = append(b, s.tail...)
	return Query{Target: s.target, Catalog: s.catalog, Text: string(b), IPs: ips, Start: w.start, End: w.end}
}

// chunk cuts ips into as few queries as lim allows, in order.
func (s shape) chunk(w window, ips []netip.Addr, lim Limits) ([]Query, error) {
	fixed := len(s.head) + len(s.tail)
	var out []Query
	first, size := 0, fixed
	for i, ip := range ips {
		add := ipBytes(ip)
		if i > first {
			add += len(sep)
		}
		if i > first && (i-first == lim.MaxIPs || size+add > lim.MaxBytes) {
			out = append(out, s.render(w, ips[first:i], size))
			first, size = i, fixed
			add -= len(sep)
		}
		if size+add > lim.MaxBytes {
			return nil, fmt.Errorf("kql: a query for %s in %s is %d bytes, over the limit of %d", ip, s.target, size+add, lim.MaxBytes)
		}
		size += add
	}
	if first < len(ips) {
		out = append(out, s.render(w, ips[first:], size))
	}
	return out, nil
}

// Build turns groups of indicators into queries against t, as few as lim
// allows: groups with the same window share queries, and each window's
// distinct IPs are cut into chunks that keep both limits. Queries come out
// ordered by window, then by IP. Groups without IPs send nothing, so no
// groups (or only empty ones) give no query and no error.
//
// Build rejects a target the schema does not know, an invalid address or
// one with a zone, a window that is empty or outside Kusto's datetime
// range, negative limits, and limits too small for a single IP.
func Build(t Target, groups []Group, lim Limits) ([]Query, error) {
	return BuildIn("", t, groups, lim)
}

// BuildIn is Build against the named table catalogue: "sentinel" writes
// the queries for Log Analytics (TimeGenerated, Sentinel's columns, and
// the rewrite of IP columns that carry ports).
func BuildIn(catalog string, t Target, groups []Group, lim Limits) ([]Query, error) {
	lim, err := lim.resolve()
	if err != nil {
		return nil, err
	}
	if _, err := t.check(catalog); err != nil {
		return nil, err
	}
	byWindow := make(map[window][]netip.Addr)
	for gi, g := range groups {
		if len(g.IPs) == 0 {
			continue
		}
		w, err := normaliseWindow(g.Start, g.End)
		if err != nil {
			return nil, fmt.Errorf("group %d: %w", gi, err)
		}
		ips := byWindow[w]
		if ips == nil {
			ips = make([]netip.Addr, 0, len(g.IPs))
		}
		for _, ip := range g.IPs {
			if !ip.IsValid() || ip.Zone() != "" {
				return nil, fmt.Errorf("kql: group %d: %q is not an indicator address", gi, ip.String())
			}
			ips = append(ips, ip.Unmap())
		}
		byWindow[w] = ips
	}
	windows := make([]window, 0, len(byWindow))
	for w := range byWindow {
		windows = append(windows, w)
	}
	slices.SortFunc(windows, func(a, b window) int {
		return cmp.Or(a.start.Compare(b.start), a.end.Compare(b.end))
	})
	var out []Query
	for _, w := range windows {
		ips := byWindow[w]
		slices.SortFunc(ips, netip.Addr.Compare)
		ips = slices.Compact(ips)
		s, err := newShape(catalog, t, w)
		if err != nil {
			return nil, err
		}
		qs, err := s.chunk(w, ips, lim)
		if err != nil {
			return nil, err
		}
		out = append(out, qs...)
	}
	return out, nil
}

// ErrSingleIP is returned by Split for a query that covers one IP: it
// cannot get smaller.
var ErrSingleIP = errors.New("kql: query covers a single IP and cannot be split")

// Split halves the IPs of q (one the service rejected as too large) into
// two queries of the same shape, target and window; the first gets the
// lower half. lim is validated as in Build; halves of a query within lim
// are within it too. Calling Split again on a half goes on halving.
func Split(q Query, lim Limits) (Query, Query, error) {
	if _, err := lim.resolve(); err != nil {
		return Query{}, Query{}, err
	}
	if len(q.IPs) < 2 {
		return Query{}, Query{}, ErrSingleIP
	}
	w, err := normaliseWindow(q.Start, q.End)
	if err != nil {
		return Query{}, Query{}, err
	}
	s, err := newShape(q.Catalog, q.Target, w)
	if err != nil {
		return Query{}, Query{}, err
	}
	ips := make([]netip.Addr, len(q.IPs))
	for i, ip := range q.IPs {
		if !ip.IsValid() || ip.Zone() != "" {
			return Query{}, Query{}, fmt.Errorf("kql: %q is not an indicator address", ip.String())
		}
		ips[i] = ip.Unmap()
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	ips = slices.Compact(ips)
	if len(ips) < 2 {
		return Query{}, Query{}, ErrSingleIP
	}
	half := len(ips) / 2
	return s.render(w, ips[:half], s.size(ips[:half])), s.render(w, ips[half:], s.size(ips[half:])), nil
}

// size is the exact text length of the query for ips.
func (s shape) size(ips []netip.Addr) int {
	n := len(s.head) + len(s.tail)
	for i, ip := range ips {
		if i > 0 {
			n += len(sep)
		}
		n += ipBytes(ip)
	}
	return n
}
