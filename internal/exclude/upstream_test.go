package exclude_test

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/exclude"
)

func upstream(t *testing.T, name string) exclude.Upstream {
	for _, u := range exclude.Upstreams {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("no upstream %s", name)
	return exclude.Upstream{}
}

func strs(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, " ")
}

// Every embedded list has an upstream, and its upstream names the URLs the
// list's header records.
func TestUpstreamsCoverSnapshot(t *testing.T) {
	for _, l := range exclude.Builtin().Lists {
		u := upstream(t, l.Name)
		if u.Provider != l.Provider {
			t.Errorf("%s: provider %q, list says %q", l.Name, u.Provider, l.Provider)
		}
		for _, url := range u.URLs {
			if !strings.Contains(strings.Join(l.Upstream, " "), url) {
				t.Errorf("%s: upstream %s not in the list's header %v", l.Name, url, l.Upstream)
			}
		}
	}
}

func TestUpstreamParsers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bodies []string
		want   string
	}{
		{"cloudflare", []string{"173.245.48.0/20\n103.21.244.0/22\n", "2400:cb00::/32\n"}, "173.245.48.0/20 103.21.244.0/22 2400:cb00::/32"},
		{"akamai", []string{"# Akamai\n23.0.0.0/12\n\n", "2600:1400::/24\n"}, "23.0.0.0/12 2600:1400::/24"},
		{"fastly", []string{`{"addresses":["151.101.0.0/16"],"ipv6_addresses":["2a04:4e40::/32"]}`}, "151.101.0.0/16 2a04:4e40::/32"},
		{"amazon-cloudfront", []string{`{"syncToken":"1","createDate":"2026-11-30-10-00-00","prefixes":[
			{"ip_prefix":"13.32.0.0/15","region":"GLOBAL","service":"CLOUDFRONT"},
			{"ip_prefix":"3.5.140.0/22","region":"ap-northeast-2","service":"AMAZON"}],
			"ipv6_prefixes":[{"ipv6_prefix":"2600:9000::/28","service":"CLOUDFRONT"},{"ipv6_prefix":"2a05:d07a::/32","service":"S3"}]}`}, "13.32.0.0/15 2600:9000::/28"},
		{"azure-frontdoor", []string{`{"changeNumber":300,"values":[
			{"id":"AzureCloud","properties":{"addressPrefixes":["20.0.0.0/11"]}},
			{"id":"AzureFrontDoor.Frontend","properties":{"changeNumber":40,"addressPrefixes":["13.107.208.0/24","2620:1ec:4::/46"]}}]}`}, "13.107.208.0/24 2620:1ec:4::/46"},
		{"google-services", []string{
			`{"prefixes":[{"ipv4Prefix":"8.8.4.0/24"},{"ipv4Prefix":"34.0.0.0/15"},{"ipv6Prefix":"2001:4860::/32"}]}`,
			`{"prefixes":[{"ipv4Prefix":"34.0.0.0/16","service":"Google Cloud"},{"ipv6Prefix":"2001:4860:1000::/36"}]}`},
			"8.8.4.0/24 34.1.0.0/16 2001:4860::/36 2001:4860:2000::/35 2001:4860:4000::/34 2001:4860:8000::/33"},
	} {
		var bodies [][]byte
		for _, b := range tc.bodies {
			bodies = append(bodies, []byte(b))
		}
		got, err := upstream(t, tc.name).Parse(bodies)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if s := strs(got); s != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, s, tc.want)
		}
	}
	for name, body := range map[string]string{
		"cloudflare":      "173.245.48.1/20\n",
		"fastly":          `{"addresses":["nope"]}`,
		"azure-frontdoor": `{"values":[]}`,
		"google-services": `{"prefixes":[{"ipv4Prefix":"8.8.4.0/33"}]}`,
	} {
		bodies := [][]byte{[]byte(body)}
		if name == "google-services" {
			bodies = append(bodies, []byte(`{"prefixes":[]}`))
		}
		if _, err := upstream(t, name).Parse(bodies); !errors.Is(err, exclude.ErrRangeFile) {
			t.Errorf("%s %s: err %v", name, body, err)
		}
	}
}

// Subtract leaves exactly the addresses of a not in b, as masked, sorted,
// disjoint CIDRs no two of which could be one.
func TestSubtractProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	rnd := func(v4 bool) netip.Prefix {
		if v4 {
			a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
			p, _ := a.Prefix(14 + rng.IntN(19))
			return p
		}
		var b [16]byte
		b[0], b[1], b[15] = 0x20, 0x01, byte(rng.IntN(256))
		b[14] = byte(rng.IntN(4))
		p, _ := netip.AddrFrom16(b).Prefix(110 + rng.IntN(19))
		return p
	}
	in := func(ps []netip.Prefix, ip netip.Addr) bool {
		for _, p := range ps {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	for i := 0; i < 300; i++ {
		var a, b []netip.Prefix
		for j := 0; j < 1+rng.IntN(6); j++ {
			a = append(a, rnd(rng.IntN(3) > 0))
		}
		for j := 0; j < rng.IntN(6); j++ {
			b = append(b, rnd(rng.IntN(3) > 0))
		}
		got := exclude.Subtract(a, b)
		for j, p := range got {
			if p != p.Masked() {
				t.Fatalf("%s not masked", p)
			}
			if j > 0 {
				q := got[j-1]
				if q.Addr().Is4() == p.Addr().Is4() && (q.Overlaps(p) || !q.Addr().Less(p.Addr())) {
					t.Fatalf("%s then %s: not sorted and disjoint", q, p)
				}
				if q.Bits() == p.Bits() && q.Addr().Is4() == p.Addr().Is4() {
					if parent, _ := q.Addr().Prefix(q.Bits() - 1); parent.Contains(p.Addr()) {
						t.Fatalf("%s and %s should be %s", q, p, parent)
					}
				}
			}
		}
		for k := 0; k < 400; k++ {
			ip := rnd(rng.IntN(3) > 0).Addr()
			if k%2 == 0 && len(a) > 0 {
				ip = a[rng.IntN(len(a))].Addr()
			}
			if want := in(a, ip) && !in(b, ip); in(got, ip) != want {
				t.Fatalf("a %v b %v: %s in result %v, want %v (%v)", a, b, ip, in(got, ip), want, got)
			}
		}
	}
	if got := strs(exclude.Subtract([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, []netip.Prefix{netip.MustParsePrefix("128.0.0.0/1")})); got != "0.0.0.0/1" {
		t.Errorf("0/0 minus 128/1: %s", got)
	}
	if got := strs(exclude.Subtract([]netip.Prefix{netip.MustParsePrefix("::/0")}, nil)); got != "::/0" {
		t.Errorf("::/0: %s", got)
	}
}

func TestRefresh(t *testing.T) {
	u := upstream(t, "cloudflare")
	old := &exclude.List{Prefixes: make([]netip.Prefix, 8)}
	fetched := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	got := []netip.Prefix{
		netip.MustParsePrefix("2400:cb00::/32"), netip.MustParsePrefix("104.16.0.0/13"), netip.MustParsePrefix("104.16.0.0/16"),
		netip.MustParsePrefix("103.21.244.0/22"), netip.MustParsePrefix("103.21.244.0/22"), netip.MustParsePrefix("173.245.48.0/20"),
	}
	l, err := exclude.Refresh(u, old, got, fetched)
	if err != nil {
		t.Fatal(err)
	}
	if s := strs(l.Prefixes); s != "103.21.244.0/22 104.16.0.0/13 173.245.48.0/20 2400:cb00::/32" {
		t.Errorf("refreshed: %s", s)
	}
	var b strings.Builder
	l.WriteTo(&b)
	back, err := exclude.ParseList(l.Name, strings.NewReader(b.String()))
	if err != nil || !back.Date.Equal(fetched) || back.Provider != "Cloudflare" {
		t.Errorf("written refreshed list: %v %+v\n%s", err, back, b.String())
	}
	if _, err := exclude.Refresh(u, old, got[:3], fetched); !errors.Is(err, exclude.ErrShrunk) {
		t.Errorf("2 prefixes for 8: %v", err)
	}
	if _, err := exclude.Refresh(u, nil, nil, fetched); !errors.Is(err, exclude.ErrShrunk) {
		t.Errorf("empty: %v", err)
	}
}

func TestUpstreamAt(t *testing.T) {
	urls, err := upstream(t, "cloudflare").At("https://127.0.0.1:8443/")
	if err != nil || strings.Join(urls, " ") != "https://127.0.0.1:8443/www.cloudflare.com/ips-v4 https://127.0.0.1:8443/www.cloudflare.com/ips-v6" {
		t.Errorf("%v %v", urls, err)
	}
	if _, err := upstream(t, "cloudflare").At("http://127.0.0.1:8080"); err == nil {
		t.Error("an http:// base was accepted")
	}
}
