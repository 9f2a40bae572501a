package exclude_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/exclude"
	"c2sweep/internal/lab"
)

func TestBuiltinSnapshot(t *testing.T) {
	s := exclude.Builtin()
	if want := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC); !s.Built.Equal(want) {
		t.Errorf("built %v, want %v", s.Built, want)
	}
	v4, v6 := 0, 0
	for _, l := range s.Lists {
		if l.Provider == "" || len(l.Upstream) == 0 || l.Date.IsZero() || l.Source() == "" {
			t.Errorf("%s: no provider, source or date: %+v", l.Name, l)
		}
		for _, p := range l.Prefixes {
			if p.Addr().Is4() {
				v4++
			} else {
				v6++
			}
		}
	}
	// The totals of ranges/README.md.
	if len(s.Lists) != 6 || v4 != 635 || v6 != 246 {
		t.Errorf("%d lists, %d IPv4 and %d IPv6 prefixes; want 6, 635, 246", len(s.Lists), v4, v6)
	}
}

func TestLookupBuiltin(t *testing.T) {
	set := exclude.NewSet(exclude.Builtin().Lists, nil)
	for ip, want := range map[string]string{
		"104.16.0.1":            "Cloudflare",
		"::ffff:104.16.0.1":     "Cloudflare",
		"198.41.255.255":        "Cloudflare",
		"2606:4700::1":          "Cloudflare",
		"151.101.1.69":          "Fastly",
		"13.32.0.1":             "Amazon CloudFront",
		"8.8.8.8":               "Google (services / front ends)",
		"23.0.0.1":              "Akamai",
		"1.1.1.1":               "", // Cloudflare's resolver is not in its published CDN ranges
		"198.41.128.0":          "Cloudflare",
		"198.41.127.255":        "",
		"127.0.0.1":             "",
		"2001:db8::1":           "",
		"159.89.10.10":          "",
		"ffff:ffff:ffff:ffff::": "",
	} {
		r := set.Lookup(netip.MustParseAddr(ip))
		ok := r != nil
		if ok != (want != "") || ok && r.Operator != want {
			t.Errorf("%s: %q %v, want %q", ip, r.Operator, ok, want)
		}
		if ok && (!r.Prefix.Contains(netip.MustParseAddr(ip).Unmap()) || r.Source == "" || r.Date.IsZero()) {
			t.Errorf("%s: range %+v does not contain it or has no source/date", ip, r)
		}
	}
	if set.Lookup(netip.Addr{}) != nil {
		t.Error("the zero address is excluded")
	}
}

// linear is the obvious answer: the longest prefix that contains ip.
func linear(ranges []netip.Prefix, ip netip.Addr) (netip.Prefix, bool) {
	var best netip.Prefix
	for _, p := range ranges {
		if p.Contains(ip) && (!best.IsValid() || p.Bits() > best.Bits()) {
			best = p
		}
	}
	return best, best.IsValid()
}

// The interval table answers as a loop over every prefix would, with user
// prefixes nested in, around and equal to CDN ranges, and at the ends of
// the address space.
func TestLookupMatchesLinear(t *testing.T) {
	s := exclude.Builtin()
	userSets := [][]string{
		nil,
		{"104.16.5.0/24", "104.16.5.7", "104.0.0.0/8", "103.21.244.0/22", "2606:4700:10::/48", "203.0.113.9"},
		{"0.0.0.0/0", "::/0", "255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0/1"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, us := range userSets {
		user, err := exclude.ParseUser(us)
		if err != nil {
			t.Fatal(err)
		}
		set := exclude.NewSet(s.Lists, user)
		var all []netip.Prefix
		for _, l := range s.Lists {
			all = append(all, l.Prefixes...)
		}
		all = append(all, user...)
		var probes []netip.Addr
		for _, p := range all {
			// Each prefix's ends and their neighbours.
			probes = append(probes, p.Addr(), p.Addr().Prev(), lastAddr(p), lastAddr(p).Next())
		}
		for i := 0; i < 20000; i++ {
			probes = append(probes, randomAddr(rng, all))
		}
		for _, ip := range probes {
			if !ip.IsValid() {
				continue
			}
			want, wok := linear(all, ip)
			got := set.Lookup(ip)
			if (got != nil) != wok || got != nil && got.Prefix != want {
				t.Fatalf("user %v: %s: got %v, want %v %v", us, ip, got, want, wok)
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// randomAddr is an address near one of the prefixes, or anywhere.
func randomAddr(rng *rand.Rand, near []netip.Prefix) netip.Addr {
	if rng.IntN(2) == 0 {
		p := near[rng.IntN(len(near))]
		b := p.Addr().AsSlice()
		for i := max(p.Bits()-2, 0); i < len(b)*8; i++ {
			if rng.IntN(2) == 0 {
				b[i/8] ^= 0x80 >> (i % 8)
			}
		}
		a, _ := netip.AddrFromSlice(b)
		return a
	}
	if rng.IntN(5) == 0 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
}

func TestUserExclusions(t *testing.T) {
	user, err := exclude.ParseUser([]string{"203.0.113.7", " 198.51.100.0/24 ", "2001:db8::/32", "::ffff:192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	set := exclude.NewSet(exclude.Builtin().Lists, user)
	for _, ip := range []string{"203.0.113.7", "198.51.100.200", "2001:db8::5", "192.0.2.1"} {
		if r := set.Lookup(netip.MustParseAddr(ip)); r == nil || r.Operator != exclude.UserOperator {
			t.Errorf("%s: %+v, want the config's exclusion", ip, r)
		}
	}
	if set.Lookup(netip.MustParseAddr("203.0.113.8")) != nil {
		t.Error("203.0.113.8 excluded by a single-IP exclusion of .7")
	}
	for _, bad := range []string{"203.0.113.7/24", "example.com", "10.0.0.0/33", "fe80::1%eth0", ""} {
		if _, err := exclude.ParseUser([]string{bad}); !errors.Is(err, exclude.ErrUserExclusion) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	if _, err := exclude.ParseUser([]string{"203.0.113.7/24"}); err == nil || !strings.Contains(err.Error(), "203.0.113.0/24") {
		t.Errorf("host bits: %v does not name the network", err)
	}
}

func TestStale(t *testing.T) {
	s := exclude.Builtin()
	if w := s.Stale(s.Built.Add(89 * 24 * time.Hour)); w != nil {
		t.Errorf("89 days: %v", w)
	}
	w := s.Stale(s.Built.Add(91 * 24 * time.Hour))
	if w == nil || !strings.Contains(w.Error(), "91 days") || !strings.Contains(w.Error(), "exclusions update") {
		t.Errorf("91 days: %v", w)
	}
}

const header = "# provider: P\n# upstream: https://example.org/ips\n# fetched: 2026-11-30T10:00:00Z\n"

func TestParseListStrict(t *testing.T) {
	if _, err := exclude.ParseList("ok", strings.NewReader(header+"# count: ipv4=2 ipv6=1 total=3\n10.0.0.0/8\n11.0.0.0/8\n2001:db8::/32\n")); err != nil {
		t.Fatalf("valid: %v", err)
	}
	for name, in := range map[string]string{
		"host bits":     header + "10.0.0.1/8\n",
		"not canonical": header + "2001:DB8::/32\n",
		"not a CIDR":    header + "10.0.0.1\n",
		"unsorted":      header + "11.0.0.0/8\n10.0.0.0/8\n",
		"nested":        header + "10.0.0.0/8\n10.1.0.0/16\n",
		"duplicate":     header + "10.0.0.0/8\n10.0.0.0/8\n",
		"v4 after v6":   header + "2001:db8::/32\n10.0.0.0/8\n",
		"count":         header + "# count: ipv4=2 ipv6=0 total=2\n10.0.0.0/8\n",
		"no provider":   "# upstream: u\n# fetched: 2026-11-30T10:00:00Z\n10.0.0.0/8\n",
		"no upstream":   "# provider: P\n# fetched: 2026-11-30T10:00:00Z\n10.0.0.0/8\n",
		"no date":       "# provider: P\n# upstream: u\n10.0.0.0/8\n",
		"bad date":      "# provider: P\n# upstream: u\n# fetched: yesterday\n10.0.0.0/8\n",
		"empty":         header,
		"bare comment":  header + "# just a comment\n10.0.0.0/8\n",
		"header late":   header + "10.0.0.0/8\n# note: x\n",
	} {
		if _, err := exclude.ParseList(name, strings.NewReader(in)); !errors.Is(err, exclude.ErrRangeFile) {
			t.Errorf("%s: err %v, want ErrRangeFile", name, err)
		}
	}
}

// Every embedded list survives a write and a read unchanged: an update
// writes refreshed lists in the same format.
func TestWriteToRoundTrip(t *testing.T) {
	for _, l := range exclude.Builtin().Lists {
		var b bytes.Buffer
		if _, err := l.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		back, err := exclude.ParseList(l.Name, &b)
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		if !reflect.DeepEqual(back, l) {
			t.Errorf("%s: round trip changed the list:\n%+v\n%+v", l.Name, back, l)
		}
	}
}

// The lab's catalog servers behind CDNs have addresses the CDN publishes.
func TestLabCDNServersAreExcluded(t *testing.T) {
	set := exclude.NewSet(exclude.Builtin().Lists, nil)
	w := lab.NewWorld(lab.WorldConfig{Seed: 1})
	n := 0
	for _, s := range w.CatalogServers {
		r := set.Lookup(s.IP)
		if s.CDN != "" {
			n++
			if r == nil || r.Operator != s.CDN {
				t.Errorf("%s server %s behind %s: lookup %+v", s.Framework, s.IP, s.CDN, r)
			}
		}
	}
	if n == 0 {
		t.Error("no lab server behind a CDN")
	}
}

func FuzzParseList(f *testing.F) {
	for _, n := range []string{"cloudflare", "fastly", "akamai"} {
		data, err := os.ReadFile("ranges/" + n + ".txt")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(header + "10.0.0.0/8\n2001:db8::/32\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := exclude.ParseList("fuzz", bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, exclude.ErrRangeFile) {
				t.Fatalf("error %v is not ErrRangeFile", err)
			}
			return
		}
		// A list that parses is strict: masked, sorted, disjoint; it writes
		// back to a file that parses to the same prefixes, and every
		// prefix's first address is found in it.
		var b bytes.Buffer
		l.WriteTo(&b)
		back, err := exclude.ParseList("fuzz", &b)
		if err != nil {
			t.Fatalf("written list does not parse: %v\n%s", err, b.String())
		}
		if !reflect.DeepEqual(back.Prefixes, l.Prefixes) {
			t.Fatalf("round trip changed the prefixes")
		}
		set := exclude.NewSet([]*exclude.List{l}, nil)
		for _, p := range l.Prefixes {
			if p != p.Masked() {
				t.Fatalf("%s has host bits", p)
			}
			if r := set.Lookup(p.Addr()); r == nil || r.Prefix != p {
				t.Fatalf("%s: lookup %+v", p, r)
			}
		}
	})
}
