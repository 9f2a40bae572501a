package exclude_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"c2sweep/internal/exclude"
)

// BenchmarkLookup1M checks 1,000,000 random IPs (90% IPv4, 10% IPv6; about
// a third near a CDN prefix) against every embedded range and five user
// CIDRs: one op is the whole million.
func BenchmarkLookup1M(b *testing.B) {
	s := exclude.Builtin()
	user, _ := exclude.ParseUser([]string{"104.16.5.0/24", "203.0.113.0/24", "198.51.100.7", "2001:db8::/32", "10.0.0.0/8"})
	set := exclude.NewSet(s.Lists, user)
	var all []netip.Prefix
	for _, l := range s.Lists {
		all = append(all, l.Prefixes...)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	ips := make([]netip.Addr, 1_000_000)
	for i := range ips {
		switch r := rng.IntN(30); {
		case r < 10:
			ips[i] = randomAddr(rng, all) // near a range, either family
		case r < 28:
			ips[i] = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		default:
			var a [16]byte
			a[0], a[1] = 0x20, byte(rng.IntN(16))
			for j := 2; j < 16; j++ {
				a[j] = byte(rng.Uint32())
			}
			ips[i] = netip.AddrFrom16(a)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	excluded := 0
	for b.Loop() {
		excluded = 0
		for _, ip := range ips {
			if set.Lookup(ip) != nil {
				excluded++
			}
		}
	}
	b.ReportMetric(float64(excluded), "excluded")
}

// BenchmarkNewSet builds the lookup from every embedded range.
func BenchmarkNewSet(b *testing.B) {
	s := exclude.Builtin()
	for b.Loop() {
		exclude.NewSet(s.Lists, nil)
	}
}
