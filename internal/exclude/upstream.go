package exclude

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Upstream is where an operator publishes its ranges and how to read them:
// what `c2sweep exclusions update` fetches. Parse gets the bodies of URLs,
// in order.
type Upstream struct {
	Name     string // the list it refreshes: "cloudflare"
	Provider string
	Subset   string
	URLs     []string
	Parse    func(bodies [][]byte) ([]netip.Prefix, error)
}

// Upstreams are the operators' own lists (ranges/README.md, "Refresh").
var Upstreams = []Upstream{
	{Name: "cloudflare", Provider: "Cloudflare", Subset: "all: Cloudflare's published IP ranges (ips-v4 + ips-v6)",
		URLs: []string{"https://www.cloudflare.com/ips-v4", "https://www.cloudflare.com/ips-v6"}, Parse: parseLines},
	{Name: "fastly", Provider: "Fastly", Subset: "all: addresses and ipv6_addresses of Fastly's public IP list",
		URLs: []string{"https://api.fastly.com/public-ip-list"}, Parse: parseFastly},
	{Name: "amazon-cloudfront", Provider: "Amazon CloudFront", Subset: "service CLOUDFRONT of AWS's ip-ranges.json",
		URLs: []string{"https://ip-ranges.amazonaws.com/ip-ranges.json"}, Parse: parseCloudFront},
	{Name: "akamai", Provider: "Akamai", Subset: "Akamai's published Origin IP ACL CIDR list (a subset of its edge address space)",
		URLs: []string{"https://techdocs.akamai.com/property-manager/pdfs/akamai_ipv4_CIDRs.txt", "https://techdocs.akamai.com/property-manager/pdfs/akamai_ipv6_CIDRs.txt"}, Parse: parseLines},
	{Name: "azure-frontdoor", Provider: "Microsoft Azure Front Door", Subset: "service tag AzureFrontDoor.Frontend only",
		URLs: []string{"https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_Latest.json"}, Parse: parseAzureFrontDoor},
	{Name: "google-services", Provider: "Google (services / front ends)", Subset: "goog.json minus cloud.json (Google's own services, not Cloud customers)",
		URLs: []string{"https://www.gstatic.com/ipranges/goog.json", "https://www.gstatic.com/ipranges/cloud.json"}, Parse: parseGoogle},
}

// At returns the upstream's URLs with their origin replaced by base
// ("https://127.0.0.1:8443" becomes https://127.0.0.1:8443/www.cloudflare.com/ips-v4):
// the lab serves every operator under one address.
func (u Upstream) At(base string) ([]string, error) {
	b, err := url.Parse(base)
	if err != nil || b.Scheme != "https" || b.Host == "" {
		return nil, fmt.Errorf("%w: base %q is not an https URL", ErrRangeFile, base)
	}
	out := make([]string, len(u.URLs))
	for i, s := range u.URLs {
		o, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		out[i] = strings.TrimSuffix(b.String(), "/") + "/" + o.Host + o.EscapedPath()
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %q is not a CIDR", ErrRangeFile, s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%w: %s has host bits set", ErrRangeFile, s)
	}
	return p, nil
}

// parseLines reads plain text bodies, one CIDR a line; blank and # lines
// are skipped.
func parseLines(bodies [][]byte) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, b := range bodies {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			p, err := parsePrefix(line)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRangeFile, err)
		}
	}
	return out, nil
}

func prefixes(ss ...[]string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		for _, x := range s {
			p, err := parsePrefix(x)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func oneJSON(bodies [][]byte, v any) error {
	if len(bodies) != 1 {
		return fmt.Errorf("%w: want one document, got %d", ErrRangeFile, len(bodies))
	}
	if err := json.Unmarshal(bodies[0], v); err != nil {
		return fmt.Errorf("%w: %v", ErrRangeFile, err)
	}
	return nil
}

func parseFastly(bodies [][]byte) ([]netip.Prefix, error) {
	var doc struct {
		V4 []string `json:"addresses"`
		V6 []string `json:"ipv6_addresses"`
	}
	if err := oneJSON(bodies, &doc); err != nil {
		return nil, err
	}
	return prefixes(doc.V4, doc.V6)
}

func parseCloudFront(bodies [][]byte) ([]netip.Prefix, error) {
	var doc struct {
		V4 []struct {
			Prefix  string `json:"ip_prefix"`
			Service string `json:"service"`
		} `json:"prefixes"`
		V6 []struct {
			Prefix  string `json:"ipv6_prefix"`
			Service string `json:"service"`
		} `json:"ipv6_prefixes"`
	}
	if err := oneJSON(bodies, &doc); err != nil {
		return nil, err
	}
	var ss []string
	for _, p := range doc.V4 {
		if p.Service == "CLOUDFRONT" {
			ss = append(ss, p.Prefix)
		}
	}
	for _, p := range doc.V6 {
		if p.Service == "CLOUDFRONT" {
			ss = append(ss, p.Prefix)
		}
	}
	return prefixes(ss)
}

func parseAzureFrontDoor(bodies [][]byte) ([]netip.Prefix, error) {
	var doc struct {
		Values []struct {
			ID         string `json:"id"`
			Properties struct {
				AddressPrefixes []string `json:"addressPrefixes"`
			} `json:"properties"`
		} `json:"values"`
	}
	if err := oneJSON(bodies, &doc); err != nil {
		return nil, err
	}
	for _, v := range doc.Values {
		if v.ID == "AzureFrontDoor.Frontend" {
			return prefixes(v.Properties.AddressPrefixes)
		}
	}
	return nil, fmt.Errorf("%w: no AzureFrontDoor.Frontend service tag", ErrRangeFile)
}

// parseGoogle reads goog.json and cloud.json and returns the addresses of
// the first not in the second, as CIDRs: Google's own services.
func parseGoogle(bodies [][]byte) ([]netip.Prefix, error) {
	if len(bodies) != 2 {
		return nil, fmt.Errorf("%w: want goog.json and cloud.json", ErrRangeFile)
	}
	var sets [2][]netip.Prefix
	for i, b := range bodies {
		var doc struct {
			Prefixes []struct {
				V4 string `json:"ipv4Prefix"`
				V6 string `json:"ipv6Prefix"`
			} `json:"prefixes"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRangeFile, err)
		}
		for _, p := range doc.Prefixes {
			s := p.V4 + p.V6
			if s == "" {
				continue
			}
			x, err := parsePrefix(s)
			if err != nil {
				return nil, err
			}
			sets[i] = append(sets[i], x)
		}
	}
	return Subtract(sets[0], sets[1]), nil
}

type span struct{ lo, hi u128 }

// spans returns the prefixes of one family as sorted, merged intervals.
func spans(ps []netip.Prefix, v4 bool) []span {
	var out []span
	for _, p := range ps {
		if p.Addr().Is4() == v4 {
			lo, hi := prefixBounds(p)
			out = append(out, span{lo, hi})
		}
	}
	slices.SortFunc(out, func(a, b span) int {
		if a.lo == b.lo {
			return 0
		}
		if a.lo.less(b.lo) {
			return -1
		}
		return 1
	})
	var m []span
	for _, s := range out {
		// Overlapping or adjacent spans merge.
		if n := len(m); n > 0 && (!m[n-1].hi.less(s.lo) || m[n-1].hi.inc() == s.lo) {
			if m[n-1].hi.less(s.hi) {
				m[n-1].hi = s.hi
			}
			continue
		}
		m = append(m, s)
	}
	return m
}

// Subtract returns the addresses in a and not in b as the fewest CIDRs,
// IPv4 then IPv6, each ascending.
func Subtract(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, v4 := range []bool{true, false} {
		bs := spans(b, v4)
		for _, s := range spans(a, v4) {
			cur, covered := s.lo, false
			for _, x := range bs {
				if x.hi.less(cur) || s.hi.less(x.lo) {
					continue
				}
				if cur.less(x.lo) {
					out = appendCIDRs(out, cur, x.lo.dec(), v4)
				}
				if !x.hi.less(s.hi) {
					covered = true // the rest of s is in b
					break
				}
				cur = x.hi.inc()
			}
			if !covered {
				out = appendCIDRs(out, cur, s.hi, v4)
			}
		}
	}
	return out
}

// appendCIDRs appends the fewest CIDRs that cover lo..hi exactly.
func appendCIDRs(out []netip.Prefix, lo, hi u128, v4 bool) []netip.Prefix {
	width := 128
	if v4 {
		width = 32
	}
	for !hi.less(lo) {
		// The largest block aligned at lo that ends at or before hi.
		host := trailingZeros(lo, width)
		for host > 0 && hi.less(blockEnd(lo, host)) {
			host--
		}
		out = append(out, netip.PrefixFrom(numAddr(lo, v4), width-host))
		end := blockEnd(lo, host)
		if end == (u128{^uint64(0), ^uint64(0)}) || v4 && end.lo == 1<<32-1 {
			break
		}
		lo = end.inc()
	}
	return out
}

func trailingZeros(a u128, width int) int {
	n := 128
	if a.lo != 0 {
		n = bits.TrailingZeros64(a.lo)
	} else if a.hi != 0 {
		n = 64 + bits.TrailingZeros64(a.hi)
	}
	return min(n, width)
}

// blockEnd is the last address of the block of 2^host addresses at lo.
func blockEnd(lo u128, host int) u128 {
	switch {
	case host == 0:
		return lo
	case host < 64:
		return u128{lo.hi, lo.lo | (1<<host - 1)}
	case host == 64:
		return u128{lo.hi, ^uint64(0)}
	case host == 128:
		return u128{^uint64(0), ^uint64(0)}
	}
	return u128{lo.hi | (1<<(host-64) - 1), ^uint64(0)}
}

func numAddr(a u128, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte{byte(a.lo >> 24), byte(a.lo >> 16), byte(a.lo >> 8), byte(a.lo)})
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(a.hi >> (56 - 8*i))
		b[8+i] = byte(a.lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

// ErrShrunk is the refusal to replace a list with an empty or much smaller
// one: an operator's outage must not switch exclusion off.
var ErrShrunk = errors.New("refreshed list much smaller than the current one")

// Refresh makes the new version of a list from what its upstream returned:
// nested and duplicate prefixes are dropped (the outer one covers them),
// the rest sorted, IPv4 first. It refuses an empty list or one with fewer
// than half the prefixes of old (nil: no old list).
func Refresh(u Upstream, old *List, got []netip.Prefix, fetched time.Time) (*List, error) {
	ps := normalize(got)
	if len(ps) == 0 || old != nil && len(ps)*2 < len(old.Prefixes) {
		n := 0
		if old != nil {
			n = len(old.Prefixes)
		}
		return nil, fmt.Errorf("%w: %s has %d prefixes, the current list %d; keeping the current one", ErrShrunk, u.Name, len(ps), n)
	}
	return &List{Name: u.Name, Provider: u.Provider, Subset: u.Subset, Upstream: slices.Clone(u.URLs),
		Date: fetched.UTC().Truncate(time.Second), Prefixes: ps}, nil
}

// normalize sorts prefixes (IPv4 first, ascending, broader first) and
// drops those inside another.
func normalize(ps []netip.Prefix) []netip.Prefix {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if a.Addr().Is4() != b.Addr().Is4() {
			if a.Addr().Is4() {
				return -1
			}
			return 1
		}
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Addr().Is4() == p.Addr().Is4() && out[n-1].Overlaps(p) {
			continue // sorted broader first: p lies inside out[n-1]
		}
		out = append(out, p)
	}
	return out
}
