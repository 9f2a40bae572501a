package exclude_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/exclude"
)

func TestCurrentFallsBackToBuiltin(t *testing.T) {
	b := exclude.Builtin()
	for _, dir := range []string{"", filepath.Join(t.TempDir(), "missing")} {
		s, err := exclude.Current(dir)
		if err != nil || !s.Built.Equal(b.Built) || len(s.Lists) != len(b.Lists) {
			t.Errorf("Current(%q): %v", dir, err)
		}
	}
	// A directory an update wrote is read; a broken one is an error, not
	// a silent fall back.
	dir := t.TempDir()
	s := exclude.Builtin()
	s.Built = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if err := s.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	got, err := exclude.Current(dir)
	if err != nil || !got.Built.Equal(s.Built) {
		t.Fatalf("Current(written): %v %v", got, err)
	}
	for _, l := range s.Lists {
		g := got.List(l.Name)
		if g == nil || !slices.Equal(g.Prefixes, l.Prefixes) || !g.Date.Equal(l.Date) || g.Source() != l.Source() {
			t.Errorf("%s does not round-trip", l.Name)
		}
	}
	os.WriteFile(filepath.Join(dir, "fastly.txt"), []byte("not a range file\n"), 0o644)
	if _, err := exclude.Current(dir); !errors.Is(err, exclude.ErrRangeFile) || !strings.Contains(err.Error(), dir) {
		t.Errorf("broken dir: %v", err)
	}
}

// Update keeps the current list of an upstream that fails or shrinks, and
// dates the snapshot now only when every list was refreshed.
func TestUpdateKeepsFailedLists(t *testing.T) {
	cur := exclude.Builtin()
	now := time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC)
	bodies := map[string]string{ // url -> body; absent: fetch fails
		"https://www.cloudflare.com/ips-v4":                                       "104.16.0.0/13\n104.24.0.0/14\n173.245.48.0/20\n103.21.244.0/22\n103.22.200.0/22\n103.31.4.0/22\n108.162.192.0/18\n131.0.72.0/22\n141.101.64.0/18\n162.158.0.0/15\n172.64.0.0/13\n188.114.96.0/20\n190.93.240.0/20\n197.234.240.0/22\n198.41.128.0/17\n",
		"https://www.cloudflare.com/ips-v6":                                       "2400:cb00::/32\n2606:4700::/32\n2803:f800::/32\n2405:b500::/32\n2405:8100::/32\n2a06:98c0::/29\n2c0f:f248::/32\n",
		"https://techdocs.akamai.com/property-manager/pdfs/akamai_ipv4_CIDRs.txt": "23.0.0.0/12\n",
		"https://techdocs.akamai.com/property-manager/pdfs/akamai_ipv6_CIDRs.txt": "",
	}
	var asked []string
	fetch := func(_ context.Context, url string) ([]byte, error) {
		asked = append(asked, url)
		b, ok := bodies[url]
		if !ok {
			return nil, errors.New("connection refused")
		}
		return []byte(b), nil
	}
	ups := []exclude.Upstream{upstream(t, "cloudflare"), upstream(t, "akamai"), upstream(t, "fastly")}
	next, outs := exclude.Update(context.Background(), cur, ups, "", fetch, now)
	if len(outs) != 3 || outs[0].Err != nil || outs[1].Err == nil || outs[2].Err == nil {
		t.Fatalf("outcomes: %+v", outs)
	}
	if !errors.Is(outs[1].Err, exclude.ErrShrunk) || !strings.Contains(outs[2].Err.Error(), "connection refused") {
		t.Errorf("akamai %v, fastly %v", outs[1].Err, outs[2].Err)
	}
	if cf := next.List("cloudflare"); cf == nil || !cf.Date.Equal(now) || len(cf.Prefixes) != 22 {
		t.Errorf("cloudflare not refreshed: %+v", cf)
	}
	for _, name := range []string{"akamai", "fastly"} {
		if next.List(name) != cur.List(name) {
			t.Errorf("%s: the current list was not kept", name)
		}
	}
	if !next.Built.Equal(cur.Built) {
		t.Errorf("a partial update dated the snapshot %s", next.Built)
	}
	// Against the lab, every URL is under base (the first failing ends the list).
	asked = nil
	exclude.Update(context.Background(), cur, ups[:1], "https://127.0.0.1:9", fetch, now)
	if len(asked) != 1 || asked[0] != "https://127.0.0.1:9/www.cloudflare.com/ips-v4" {
		t.Errorf("with a base: %v", asked)
	}
	// Every list refreshed: dated now.
	next, _ = exclude.Update(context.Background(), cur, ups[:1], "", fetch, now)
	if got := next.Built.Format(time.DateOnly); got != "2027-03-04" {
		t.Errorf("a full update built %s", got)
	}
}
