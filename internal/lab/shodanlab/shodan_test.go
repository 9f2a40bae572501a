package shodanlab_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/lab/shodanlab"
)

// shodanWorldNow anchors the worlds of these tests.
var shodanWorldNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// shodanBuiltinHunts are c2sweep's five built-in hunts.
var shodanBuiltinHunts = map[string]string{
	"CobaltStrikeJARM":        "ssl.jarm:" + lab.JARMCobaltStrike,
	"CobaltStrikeProductName": `product:"Cobalt Strike Beacon"`,
	"PoshC2":                  `ssl:"P18055077"`,
	"EmpireC2":                `product:"Empire C2"`,
	"DeimosC2":                "http.html_hash:-14029177",
}

// shodanClock is a settable clock, so the rate limit is tested without
// timing anything.
type shodanClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *shodanClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *shodanClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// shodanLab starts a lab on a settable clock.
func shodanLab(t *testing.T, o lab.Options) (*lab.Lab, *shodanClock) {
	t.Helper()
	clk := &shodanClock{t: shodanWorldNow}
	if o.Now == nil {
		o.Now = clk.Now
	}
	if o.World.Now.IsZero() {
		o.World.Now = shodanWorldNow
	}
	return labtest.Start(t, o), clk
}

type shodanAnswer struct {
	status int
	header http.Header
	body   []byte
}

// shodanGet calls the lab's Shodan with the lab's key (unless params sets
// one), after moving the clock past the rate limit.
func shodanGet(t *testing.T, l *lab.Lab, clk *shodanClock, path string, params url.Values) shodanAnswer {
	t.Helper()
	if clk != nil {
		clk.Add(2 * time.Second)
	}
	if params == nil {
		params = url.Values{}
	}
	if !params.Has("key") {
		params.Set("key", l.Creds.ShodanKey)
	}
	resp, err := l.HTTPClient().Get(l.URL + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return shodanAnswer{resp.StatusCode, resp.Header, b}
}

type searchEnvelope struct {
	Matches []map[string]any `json:"matches"`
	Total   int              `json:"total"`
	Facets  map[string][]struct {
		Count int `json:"count"`
		Value any `json:"value"`
	} `json:"facets"`
}

func decodeSearch(t *testing.T, a shodanAnswer) searchEnvelope {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var env searchEnvelope
	d := json.NewDecoder(bytes.NewReader(a.body))
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		t.Fatalf("decode: %v\n%.300s", err, a.body)
	}
	return env
}

func TestShodanWorldHunts(t *testing.T) {
	for _, seed := range []int64{0, 1, 7, 42, 1234} {
		w := lab.NewWorld(lab.WorldConfig{Seed: seed, Now: shodanWorldNow})
		injections := 0
		for name, q := range shodanBuiltinHunts {
			m, err := w.Search(q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// The sizing rule: one page per hunt, so the demo fits 1 rps.
			if len(m) == 0 || len(m) > 100 {
				t.Errorf("seed %d: hunt %s matches %d banners, want 1..100", seed, name, len(m))
			}
			for _, b := range m {
				if b.IPStr == lab.InjectionIPStr {
					injections++
					if name != "CobaltStrikeProductName" {
						t.Errorf("injection banner matched by %s", name)
					}
				}
			}
		}
		if injections != 1 {
			t.Errorf("seed %d: injection banner matched %d times, want exactly once", seed, injections)
		}
		var stale, fresh, v6 int
		for _, s := range w.Servers {
			age := shodanWorldNow.Sub(s.LastSeen)
			if s.Stale {
				stale++
				if age < 10*24*time.Hour || age > 60*24*time.Hour {
					t.Errorf("stale server %s last seen %v ago", s.IP, age)
				}
			} else {
				fresh++
				if age < 0 || age > 7*24*time.Hour {
					t.Errorf("fresh server %s last seen %v ago", s.IP, age)
				}
			}
			if s.IP.Is6() {
				v6++
			}
			if len(s.Banners) == 0 {
				t.Errorf("server %s has no banner", s.IP)
			}
			for _, b := range s.Banners {
				if b.Server != s || b.IP != s.IP || b.Timestamp.After(s.LastSeen) {
					t.Errorf("banner of %s inconsistent with its server", s.IP)
				}
			}
		}
		if len(w.Servers) != 60 || stale == 0 || fresh == 0 {
			t.Errorf("seed %d: %d servers, %d stale, %d fresh", seed, len(w.Servers), stale, fresh)
		}
		if seed == 42 && v6 == 0 {
			t.Errorf("seed %d: no IPv6 server", seed)
		}
		if !slices.IsSortedFunc(w.Banners, func(a, b *lab.Banner) int { return b.Timestamp.Compare(a.Timestamp) }) {
			t.Error("banners not newest first")
		}
	}
	// Deterministic: the same config gives the same bytes.
	a := lab.SearchResponse(lab.NewWorld(lab.WorldConfig{Seed: 9, Now: shodanWorldNow}).Banners, 0, false, nil)
	b := lab.SearchResponse(lab.NewWorld(lab.WorldConfig{Seed: 9, Now: shodanWorldNow}).Banners, 0, false, nil)
	if !bytes.Equal(a, b) {
		t.Error("same config, different world")
	}
}

// TestShodanBannerJSON checks that the world, as served, has every trap of
// the contract.
func TestShodanBannerJSON(t *testing.T) {
	var all []map[string]any
	for _, seed := range []int64{1, 2, 3} {
		w := lab.NewWorld(lab.WorldConfig{Seed: seed, Now: shodanWorldNow})
		body := lab.SearchResponse(w.Banners, len(w.Banners), false, nil)
		var env searchEnvelope
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&env); err != nil {
			t.Fatal(err)
		}
		all = append(all, env.Matches...)
		if !bytes.Contains(body, []byte(`"serial":1.`)) || !bytes.Contains(body, []byte(`e+37,`)) {
			t.Error("no huge serial served as a float literal")
		}
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$`)
	var noFrac, v6Only, negHash, nullTitle, v4 int
	for _, m := range all {
		ts, _ := m["timestamp"].(string)
		if !stamp.MatchString(ts) {
			t.Fatalf("timestamp %q", ts)
		}
		if !strings.Contains(ts, ".") {
			noFrac++
		}
		for _, k := range []string{"data", "hash", "hostnames", "domains", "port", "timestamp", "transport", "location", "_shodan", "asn", "org", "isp"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("banner lacks %s: %v", k, m)
			}
		}
		if _, ok := m["hash"].(json.Number); !ok {
			t.Fatalf("hash is %T", m["hash"])
		}
		if _, ok := m["ip"]; ok {
			v4++
			if _, err := m["ip"].(json.Number).Int64(); err != nil {
				t.Fatalf("ip %v", m["ip"])
			}
		}
		if _, ok := m["ipv6"]; ok {
			if _, ok := m["ip_str"]; !ok {
				v6Only++
			}
		}
		if asn, _ := m["asn"].(string); !strings.HasPrefix(asn, "AS") {
			t.Fatalf("asn %q", asn)
		}
		loc := m["location"].(map[string]any)
		if v, ok := loc["area_code"]; !ok || v != nil {
			t.Fatalf("area_code %v", v)
		}
		if h, ok := m["http"].(map[string]any); ok {
			if n, _ := h["html_hash"].(json.Number).Int64(); n < 0 {
				negHash++
			}
			if v, ok := h["title"]; ok && v == nil {
				nullTitle++
			}
		}
		if s, ok := m["ssl"].(map[string]any); ok {
			if j, _ := s["jarm"].(string); len(j) != 62 {
				t.Fatalf("jarm %q", j)
			}
		}
	}
	if noFrac == 0 || v6Only == 0 || negHash == 0 || nullTitle == 0 || v4 == 0 {
		t.Errorf("missing traps: no-fraction %d, ipv6 without ip_str %d, negative html_hash %d, null title %d, ipv4 %d",
			noFrac, v6Only, negHash, nullTitle, v4)
	}
}

func TestShodanQuery(t *testing.T) {
	w := lab.NewWorld(lab.WorldConfig{Seed: 3, Now: shodanWorldNow})
	count := func(q string) int {
		t.Helper()
		m, err := w.Search(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return len(m)
	}
	cs := count(`product:"Cobalt Strike Beacon"`)
	if n := count(`product:"cobalt strike beacon"`); n != cs {
		t.Errorf("product: not case-insensitive: %d vs %d", n, cs)
	}
	if n := count(`product:"Cobalt Strike Beacon" port:80`) + count(`product:"Cobalt Strike Beacon" -port:80`); n != cs {
		t.Errorf("negation does not split the set: %d vs %d", n, cs)
	}
	jarm := count("ssl.jarm:" + lab.JARMCobaltStrike)
	if n := count("ssl:146473198"); n != jarm {
		// Every Cobalt Strike TLS banner has the default keystore's serial.
		t.Errorf("ssl: on the serial: %d, ssl.jarm: %d", n, jarm)
	}
	if n := count("ssl.cert.serial:146473198"); n != jarm {
		t.Errorf("ssl.cert.serial: %d, want %d", n, jarm)
	}
	if n := count("ssl.cert.serial:0x8bb00ee"); n != jarm {
		t.Errorf("ssl.cert.serial in hex: %d, want %d", n, jarm)
	}
	if count(`ssl:"Major Cobalt Strike"`) != jarm {
		t.Error("ssl: on the subject")
	}
	if count("http.html_hash:-14029177") != count(`http.title:"Deimos C2"`) {
		t.Error("Deimos by hash and by title differ")
	}
	if count("http.favicon.hash:-1447395633") != count("http.html_hash:-14029177") {
		t.Error("Deimos favicon")
	}
	if count("port:80,443") != count("port:80")+count("port:443") {
		t.Error("port: list")
	}
	if count("cobaltstrike") == 0 && count("Cobalt") == 0 {
		t.Error("plain words match nothing")
	}
	if count(`"Welcome to nginx"`) == 0 {
		t.Error("quoted phrase")
	}
	// after:/before: split the world at a day boundary.
	day := shodanWorldNow.AddDate(0, 0, -3).Format("02/01/2006")
	if count("port:80 after:"+day)+count("port:80 before:"+day) != count("port:80") {
		t.Error("after:/before: do not split the set")
	}
	if count("port:80 after:"+shodanWorldNow.AddDate(0, 0, 1).Format("02/01/2006")) != 0 {
		t.Error("after: tomorrow")
	}
	b := w.Banners[5]
	if m, _ := w.Search("hash:" + shodanItoa(int(b.Hash))); !slices.Contains(m, b) {
		t.Error("hash:")
	}
	for _, bad := range []string{``, `   `, `product:"Cobalt`, `ssl:"x" "y`, `foo:bar`, `port:eighty`, `after:2026-01-01`, `ssl.cert.serial:zz`, `product:`, `-`, `port:80"`} {
		if _, err := w.Search(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := w.Search("2a01:4f8::1"); err != nil {
		t.Errorf("an IPv6 address as a plain word: %v", err)
	}
}

func shodanItoa(n int) string { return strconv.Itoa(n) }

func TestShodanEndpoints(t *testing.T) {
	l, clk := shodanLab(t, lab.Options{World: lab.WorldConfig{Seed: 5, Servers: 800, Banners: 400}})
	info := func() map[string]any {
		a := shodanGet(t, l, clk, "/api-info", nil)
		var m map[string]any
		if a.status != 200 || json.Unmarshal(a.body, &m) != nil {
			t.Fatalf("api-info: %d %s", a.status, a.body)
		}
		return m
	}
	m := info()
	for _, k := range []string{"scan_credits", "usage_limits", "plan", "https", "unlocked", "query_credits", "monitored_ips", "unlocked_left", "telnet"} {
		if _, ok := m[k]; !ok {
			t.Errorf("api-info lacks %s", k)
		}
	}
	if m["query_credits"].(float64) != 100000 || m["plan"] != "stream-100" {
		t.Errorf("api-info %v", m)
	}

	// A filtered search: newest first, 100 a page, every page, then empty.
	q := `product:"Cobalt Strike Beacon"`
	want, _ := l.World.Search(q)
	if len(want) <= shodanlab.PageSize {
		t.Fatalf("the world has %d matches: download would not page", len(want))
	}
	if len(want) <= 100 {
		t.Fatalf("world too small to page: %d", len(want))
	}
	var got []string
	for page := 1; ; page++ {
		env := decodeSearch(t, shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {q}, "page": {shodanItoa(page)}}))
		if env.Total != len(want) {
			t.Fatalf("total %d, want %d", env.Total, len(want))
		}
		if len(env.Matches) > 100 {
			t.Fatalf("page %d has %d matches", page, len(env.Matches))
		}
		if len(env.Matches) == 0 {
			break
		}
		for _, m := range env.Matches {
			ip := shodanStr(m["ip_str"])
			if ip == "" {
				ip = shodanStr(m["ipv6"])
			}
			got = append(got, m["timestamp"].(string)+" "+ip)
			if _, ok := m["http"].(map[string]any)["html"]; ok {
				t.Fatal("minify (the default) kept http.html")
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d matches over all pages, want %d", len(got), len(want))
	}
	for i, b := range want {
		if w := b.TimestampString() + " " + b.IPStr; got[i] != w {
			t.Fatalf("match %d: %q, want %q", i, got[i], w)
		}
	}
	pages := (len(want) + 99) / 100
	// pages+1 filtered searches (the last one empty), each 1 credit.
	if c := info()["query_credits"].(float64); c != float64(100000-pages-1) {
		t.Errorf("credits %v after %d filtered searches", c, pages+1)
	}
	before := shodanlab.Credits(l)
	// No filter, page 1: free. Page 2: 1 credit. Count: free.
	decodeSearch(t, shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {"nginx"}}))
	if shodanlab.Credits(l) != before {
		t.Error("unfiltered page 1 was charged")
	}
	decodeSearch(t, shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {"nginx"}, "page": {"2"}}))
	if shodanlab.Credits(l) != before-1 {
		t.Error("page 2 was not charged")
	}
	env := decodeSearch(t, shodanGet(t, l, clk, "/shodan/host/count", url.Values{"query": {q}, "facets": {"port,country:3"}}))
	if env.Total != len(want) || len(env.Matches) != 0 || env.Matches == nil {
		t.Errorf("count: total %d, %d matches", env.Total, len(env.Matches))
	}
	if len(env.Facets["port"]) == 0 || len(env.Facets["country"]) > 3 {
		t.Errorf("facets %v", env.Facets)
	}
	if shodanlab.Credits(l) != before-1 {
		t.Error("count was charged")
	}
	// minify=false keeps the html.
	env = decodeSearch(t, shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {"http.html_hash:-14029177"}, "minify": {"false"}}))
	if _, ok := env.Matches[0]["http"].(map[string]any)["html"]; !ok {
		t.Error("minify=false dropped http.html")
	}

	// Host: v4 and v6, and 404 for an unknown address.
	var v4, v6 *lab.Server
	for _, s := range l.World.Servers {
		if s.IP.Is4() && v4 == nil {
			v4 = s
		}
		if s.IP.Is6() && v6 == nil {
			v6 = s
		}
	}
	for _, s := range []*lab.Server{v4, v6} {
		if s == nil {
			t.Fatal("no v4 or no v6 server in the world")
		}
		a := shodanGet(t, l, clk, "/shodan/host/"+s.IP.String(), nil)
		var h struct {
			IPStr string           `json:"ip_str"`
			Ports []int            `json:"ports"`
			Data  []map[string]any `json:"data"`
		}
		if a.status != 200 || json.Unmarshal(a.body, &h) != nil {
			t.Fatalf("host %s: %d %s", s.IP, a.status, a.body)
		}
		if h.IPStr != s.IP.String() || len(h.Data) != len(s.Banners) || len(h.Ports) == 0 {
			t.Errorf("host %s: %s, %d banners, want %d", s.IP, h.IPStr, len(h.Data), len(s.Banners))
		}
	}
	for _, ip := range []string{"192.0.2.1", "2001:db8:dead::1", "not-an-ip", url.PathEscape(lab.InjectionIPStr)} {
		a := shodanGet(t, l, clk, "/shodan/host/"+ip, nil)
		if a.status != 404 || string(a.body) != `{"error":"No information available for that IP."}` {
			t.Errorf("host %s: %d %s", ip, a.status, a.body)
		}
	}
}

func shodanStr(v any) string { s, _ := v.(string); return s }

func TestShodanErrors(t *testing.T) {
	l, clk := shodanLab(t, lab.Options{ShodanCredits: 1})
	// Bad or missing key: nginx's HTML 401.
	for _, key := range []string{"", "wrong", l.Creds.ShodanKey + "x"} {
		a := shodanGet(t, l, clk, "/api-info", url.Values{"key": {key}})
		if a.status != 401 || !strings.HasPrefix(string(a.body), "<html>") || !strings.Contains(string(a.body), "401 Unauthorized") {
			t.Errorf("key %q: %d %s", key, a.status, a.body)
		}
	}
	// Invalid queries: the timed-out-or-invalid error with status 200, no charge.
	for _, q := range []string{`product:"Cobalt`, "nosuchfilter:1", "", "port:x"} {
		a := shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {q}})
		if a.status != 200 || string(a.body) != `{"error":"The search request timed out or your query was invalid."}` {
			t.Errorf("query %q: %d %s", q, a.status, a.body)
		}
	}
	for _, p := range []string{"0", "-1", "two"} {
		a := shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {"port:80"}, "page": {p}})
		if a.status != 200 || !strings.Contains(string(a.body), `"error"`) {
			t.Errorf("page %q: %d %s", p, a.status, a.body)
		}
	}
	// One credit: the first filtered search passes, the second is refused.
	decodeSearch(t, shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {"port:443"}}))
	a := shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {"port:443"}})
	if a.status != 401 || string(a.body) != `{"error":"Insufficient query credits, please upgrade your API plan or wait for the monthly limit to reset"}` {
		t.Errorf("no credits: %d %s", a.status, a.body)
	}
	// Free requests still work.
	decodeSearch(t, shodanGet(t, l, clk, "/shodan/host/count", url.Values{"query": {"port:443"}}))
	decodeSearch(t, shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {"nginx"}}))

	// Rate limit: a second request at the same instant is refused, exactly.
	shodanGet(t, l, clk, "/api-info", nil)
	a = shodanGet(t, l, nil, "/api-info", nil)
	if a.status != 429 || a.header.Get("Retry-After") != "0" ||
		string(a.body) != `{"error":"Request rate limit reached (1 request/ second). Please wait a second before trying again and slow down your API calls."}` {
		t.Errorf("rate limit: %d %v %s", a.status, a.header, a.body)
	}
	// Within the slack (50 ms at 1 s) it passes; the limit is per key, so a
	// wrong key is answered 401, not 429.
	clk.Add(960 * time.Millisecond)
	if a = shodanGet(t, l, nil, "/api-info", nil); a.status != 200 {
		t.Errorf("after 960ms: %d", a.status)
	}
	if a = shodanGet(t, l, nil, "/api-info", url.Values{"key": {"other"}}); a.status != 401 {
		t.Errorf("other key: %d", a.status)
	}
	clk.Add(900 * time.Millisecond)
	if a = shodanGet(t, l, nil, "/api-info", nil); a.status != 429 {
		t.Errorf("after 900ms: %d", a.status)
	}
}

func TestShodanError200Fault(t *testing.T) {
	l, clk := shodanLab(t, lab.Options{Faults: lab.Faults{Error200Rate: 1}})
	a := shodanGet(t, l, clk, "/shodan/host/search", url.Values{"query": {"port:80"}})
	if a.status != 200 || string(a.body) != `{"error":"The search request timed out or your query was invalid."}` {
		t.Errorf("%d %s", a.status, a.body)
	}
	if shodanlab.Credits(l) != 100000 {
		t.Error("a failed search was charged")
	}
}

// TestShodanRealRate runs the default 1 s limit on the real clock.
func TestShodanRealRate(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	first := time.Now()
	if a := shodanGet(t, l, nil, "/api-info", nil); a.status != 200 {
		t.Fatalf("first: %d", a.status)
	}
	if a := shodanGet(t, l, nil, "/api-info", nil); a.status != 429 && time.Since(first) < 900*time.Millisecond {
		t.Fatalf("second at once: %d", a.status)
	}
	time.Sleep(time.Until(first.Add(time.Second)))
	if a := shodanGet(t, l, nil, "/api-info", nil); a.status != 200 {
		t.Fatalf("after a second: %d %s", a.status, a.body)
	}
}

// shodanPython finds a Python that can import the official client.
func shodanPython() string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil {
			if exec.Command(path, "-c", "import shodan, shodan.__main__").Run() == nil {
				return path
			}
		}
	}
	return ""
}

// TestShodanPythonCLI runs the official Shodan CLI (Debian python3-shodan)
// against the lab: info, count, search and download.
func TestShodanPythonCLI(t *testing.T) {
	py := shodanPython()
	if py == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-shodan is not installed (apt-get install -y python3-shodan); CI must run this test")
		}
		t.Skip("python3-shodan not installed")
	}
	// 500 servers give more than a page of Cobalt Strike banners, so search
	// shows one full page and download walks a second one.
	l, _ := shodanLab(t, lab.Options{ShodanRate: 20 * time.Millisecond, Now: time.Now, World: lab.WorldConfig{Seed: 11, Servers: 500, Banners: 100}})
	home := t.TempDir()
	wrapper, _ := filepath.Abs("testdata/shodan_cli.py")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(py, append([]string{wrapper}, args...)...)
		cmd.Dir = home
		cmd.Env = append(os.Environ(), "HOME="+home, "SHODAN_API_URL="+l.URL, "REQUESTS_CA_BUNDLE="+l.CAFile,
			"SHODAN_CLI_RATE=20", "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("Error")) {
			t.Fatalf("shodan %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if bytes.Contains(out, []byte(l.Creds.ShodanKey)) && args[0] != "init" {
			t.Errorf("shodan %s printed the key", args[0])
		}
		return string(out)
	}
	run("init", l.Creds.ShodanKey)
	if out := run("info"); !strings.Contains(out, "Query credits available: 100000") {
		t.Errorf("info: %s", out)
	}
	q := `product:"Cobalt Strike Beacon"`
	want, _ := l.World.Search(q)
	if len(want) <= shodanlab.PageSize {
		t.Fatalf("the world has %d matches: download would not page", len(want))
	}
	if out := strings.TrimSpace(run("count", q)); out != shodanItoa(len(want)) {
		t.Errorf("count: %q, want %d", out, len(want))
	}
	out := run("search", "--fields", "ip_str,port", "--separator", ",", q)
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != min(len(want), 100) {
		t.Errorf("search printed %d lines, want %d", n, min(len(want), 100))
	}
	if !strings.Contains(out, lab.InjectionIPStr) {
		t.Error("search did not show the injection banner")
	}
	run("download", "--limit", "1000", "cs", q)
	f, err := os.Open(filepath.Join(home, "cs.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(want) {
		t.Errorf("download wrote %d banners, want %d", len(lines), len(want))
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["_shodan"] == nil {
			t.Fatalf("download line: %v %.200s", err, line)
		}
	}
}

// A silenced framework disappears from searches and counts, and comes back.
func TestShodanSilence(t *testing.T) {
	l, clk := shodanLab(t, lab.Options{World: lab.WorldConfig{Seed: 5}})
	total := func(path, q string) int {
		return decodeSearch(t, shodanGet(t, l, clk, path, url.Values{"query": {q}})).Total
	}
	const q2 = `"X-Havoc: true"`
	before, remcos := total("/shodan/host/count", q2), total("/shodan/host/search", `product:"Remcos Pro RAT Trojan"`)
	if before == 0 || remcos != 1 {
		t.Fatalf("world has %d Havoc banners and %d Remcos", before, remcos)
	}
	shodanlab.Silence(l, "havoc", "Remcos")
	if n := total("/shodan/host/count", q2); n != 0 {
		t.Errorf("silenced Havoc: count %d", n)
	}
	if n := total("/shodan/host/search", `product:"Remcos Pro RAT Trojan"`); n != 0 {
		t.Errorf("silenced Remcos: search %d", n)
	}
	if n := total("/shodan/host/search", "ssl:multiplayer"); n == 0 {
		t.Error("Sliver silenced too")
	}
	shodanlab.Silence(l)
	if n := total("/shodan/host/count", q2); n != before {
		t.Errorf("after Silence(): %d, want %d", n, before)
	}
}
