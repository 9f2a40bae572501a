package exclude

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// UserOperator is the operator of the user's own exclusions.
const UserOperator = "config"

// Range is what contains an excluded IP: the prefix and whose it is.
type Range struct {
	Prefix   netip.Prefix
	Name     string // the list's name ("cloudflare"), or "exclude" for the user's
	Operator string // "Cloudflare", or UserOperator
	Source   string // where the list comes from
	Date     time.Time
}

// Set answers which range contains an IP. It holds every prefix as sorted,
// non-overlapping intervals per address family, so a lookup is one binary
// search; where prefixes nest (a user CIDR inside a CDN range), the most
// specific one answers.
type Set struct {
	// IPv4 as parallel arrays of 32-bit bounds: the binary search runs
	// over one small contiguous slice.
	v4lo, v4hi []uint32
	v4rng      []int32
	// v4idx[k] is how many IPv4 intervals start below k<<16: a lookup
	// searches only the intervals of its /16, usually none or one.
	v4idx  []uint32
	v6     []interval
	ranges []Range
}

type interval struct {
	lo, hi u128
	rng    int32 // index into Set.ranges
}

// u128 is an address as a number: IPv4 in the low 32 bits.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }
func (a u128) inc() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}
func (a u128) dec() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

func addrNum(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// prefixBounds returns the first and last address of p as numbers.
func prefixBounds(p netip.Prefix) (lo, hi u128) {
	lo = addrNum(p.Addr())
	host := 32 - p.Bits()
	if p.Addr().Is6() {
		host = 128 - p.Bits()
	}
	switch {
	case host == 0:
		hi = lo
	case host < 64:
		hi = u128{lo.hi, lo.lo | (uint64(1)<<host - 1)}
	case host == 64:
		hi = u128{lo.hi, ^uint64(0)}
	default:
		hi = u128{lo.hi | (uint64(1)<<(host-64) - 1), ^uint64(0)}
	}
	return lo, hi
}

// ErrUserExclusion is the error of a config exclusion that is neither an IP
// nor a CIDR without host bits.
var ErrUserExclusion = errors.New("bad exclusion")

// ParseUser reads the user's exclusions: IPs ("203.0.113.7", a /32 or
// /128) and CIDRs ("203.0.113.0/24"). A CIDR with host bits set is an
// error naming the network it probably means.
func ParseUser(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if !strings.Contains(e, "/") {
			a, err := netip.ParseAddr(e)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%w %q: not an IP or CIDR", ErrUserExclusion, e)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("%w %q: not an IP or CIDR", ErrUserExclusion, e)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("%w %q: host bits set; did you mean %s?", ErrUserExclusion, e, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}

// NewSet builds the lookup from the lists (nil: none) and the user's
// prefixes.
func NewSet(lists []*List, user []netip.Prefix) *Set {
	s := &Set{}
	for _, l := range lists {
		for _, p := range l.Prefixes {
			s.ranges = append(s.ranges, Range{Prefix: p, Name: l.Name, Operator: l.Provider, Source: l.Source(), Date: l.Date})
		}
	}
	for _, p := range user {
		s.ranges = append(s.ranges, Range{Prefix: p, Name: "exclude", Operator: UserOperator, Source: "the config's exclude list"})
	}
	for _, iv := range s.build(true) {
		s.v4lo = append(s.v4lo, uint32(iv.lo.lo))
		s.v4hi = append(s.v4hi, uint32(iv.hi.lo))
		s.v4rng = append(s.v4rng, iv.rng)
	}
	s.v4idx = make([]uint32, 1<<16+1)
	j := 0
	for k := range s.v4idx {
		for j < len(s.v4lo) && uint64(s.v4lo[j]) < uint64(k)<<16 {
			j++
		}
		s.v4idx[k] = uint32(j)
	}
	s.v6 = s.build(false)
	return s
}

type entry struct {
	lo, hi u128
	bits   int
	rng    int32
}

// build turns the prefixes of one family into sorted disjoint intervals.
// CIDRs either nest or are disjoint, so a sweep in address order with a
// stack of the prefixes that are open paints each address with the
// innermost one.
func (s *Set) build(v4 bool) []interval {
	var es []entry
	for i, r := range s.ranges {
		if r.Prefix.Addr().Is4() != v4 {
			continue
		}
		lo, hi := prefixBounds(r.Prefix)
		es = append(es, entry{lo, hi, r.Prefix.Bits(), int32(i)})
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].lo != es[j].lo {
			return es[i].lo.less(es[j].lo)
		}
		return es[i].bits < es[j].bits
	})
	var out []interval
	var stack []entry
	var cursor u128
	done := false // cursor ran past the last address
	emit := func(lo, hi u128, rng int32) {
		if n := len(out); n > 0 && out[n-1].rng == rng && out[n-1].hi.inc() == lo {
			out[n-1].hi = hi
			return
		}
		out = append(out, interval{lo, hi, rng})
	}
	pop := func() {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if done || t.hi.less(cursor) {
			return
		}
		emit(cursor, t.hi, t.rng)
		if t.hi == (u128{^uint64(0), ^uint64(0)}) || v4 && t.hi == (u128{0, 1<<32 - 1}) {
			done = true
			return
		}
		cursor = t.hi.inc()
	}
	for _, e := range es {
		for len(stack) > 0 && stack[len(stack)-1].hi.less(e.lo) {
			pop()
		}
		if len(stack) > 0 && cursor.less(e.lo) {
			emit(cursor, e.lo.dec(), stack[len(stack)-1].rng)
		}
		cursor = e.lo
		stack = append(stack, e)
	}
	for len(stack) > 0 {
		pop()
	}
	return slices.Clip(out)
}

// Lookup returns the range that contains ip, the most specific one when
// several do, or nil. IPv4-mapped IPv6 addresses are looked up as IPv4. The
// range is the set's own: read it, do not change it.
func (s *Set) Lookup(ip netip.Addr) *Range {
	if ip.Is4() || ip.Is4In6() {
		b := ip.As16()
		x := binary.BigEndian.Uint32(b[12:])
		// The last interval starting at or before x: how many start at or
		// before x, which is between the counts below x's /16 and below
		// the next one.
		k := x >> 16
		lo, hi := int(s.v4idx[k]), int(s.v4idx[k+1])
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if x < s.v4lo[m] {
				hi = m
			} else {
				lo = m + 1
			}
		}
		if lo == 0 || s.v4hi[lo-1] < x {
			return nil
		}
		return &s.ranges[s.v4rng[lo-1]]
	}
	if !ip.Is6() {
		return nil
	}
	x := addrNum(ip)
	t := s.v6
	lo, hi := 0, len(t)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x.less(t[m].lo) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo == 0 || t[lo-1].hi.less(x) {
		return nil
	}
	return &s.ranges[t[lo-1].rng]
}

// Len is the number of prefixes in the set.
func (s *Set) Len() int { return len(s.ranges) }
