package shodan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/indicator"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/lab/shodanlab"
)

var worldNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// sleepClock is a clock whose Sleep a test replaces.
type sleepClock struct {
	clock.Clock
	sleep func(ctx context.Context, d time.Duration) error
}

func (c sleepClock) Sleep(ctx context.Context, d time.Duration) error { return c.sleep(ctx, d) }

// recorder notes when (on the clock) each request left the client.
type recorder struct {
	next http.RoundTripper
	now  func() time.Time
	mu   sync.Mutex
	at   []time.Time
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.at = append(r.at, r.now())
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

type env struct {
	lab *lab.Lab
	clk *clock.Fake
	rec *recorder
	c   *Client
	log *bytes.Buffer
}

// newEnv starts a lab on a fake clock and a client of it. mutate may
// change the client's options.
func newEnv(t *testing.T, lo lab.Options, mutate func(*Options)) *env {
	t.Helper()
	clk := clock.NewFake(worldNow)
	if lo.Now == nil {
		lo.Now = clk.Now
	}
	lo.World.Now = worldNow
	l := labtest.Start(t, lo)
	hc := l.HTTPClient()
	rec := &recorder{next: hc.Transport, now: clk.Now}
	hc.Transport = rec
	var buf bytes.Buffer
	o := Options{BaseURL: l.URL, Key: l.Creds.ShodanKey, HTTPClient: hc, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mutate != nil {
		mutate(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{l, clk, rec, c, &buf}
}

const csQuery = `product:"Cobalt Strike Beacon"`

func TestSearchAllPages(t *testing.T) {
	e := newEnv(t, lab.Options{World: lab.WorldConfig{Seed: 4, Servers: 900, Banners: 300}}, nil)
	want, err := e.lab.World.Search(csQuery)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) <= 2*PageSize {
		t.Fatalf("world too small: %d", len(want))
	}
	var got []Banner
	pages := 0
	err = e.c.SearchAll(context.Background(), csQuery, 0, func(n int, p *Page) error {
		pages++
		if n != pages || p.Total != len(want) {
			t.Errorf("page %d (#%d), total %d", n, pages, p.Total)
		}
		got = append(got, p.Matches...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if wantPages := (len(want) + PageSize - 1) / PageSize; pages != wantPages {
		t.Errorf("%d pages, want %d", pages, wantPages)
	}
	if len(got) != len(want) {
		t.Fatalf("%d banners, want %d", len(got), len(want))
	}
	for i, b := range want {
		if got[i].IPStr != b.IPStr && got[i].IPv6 != b.IP.String() {
			t.Fatalf("banner %d: %s/%s, want %s", i, got[i].IPStr, got[i].IPv6, b.IPStr)
		}
		if !got[i].Timestamp.Equal(b.Timestamp) || got[i].Port != b.Port {
			t.Fatalf("banner %d: %v:%d, want %v:%d", i, got[i].Timestamp, got[i].Port, b.Timestamp, b.Port)
		}
	}
	// Paced, never by luck: every gap at least the interval, no 429.
	for i := 1; i < len(e.rec.at); i++ {
		if gap := e.rec.at[i].Sub(e.rec.at[i-1]); gap < time.Second {
			t.Errorf("request %d only %v after the previous one", i, gap)
		}
	}
	if s := e.c.Stats(); s.RateLimited != 0 || s.Requests != pages {
		t.Errorf("stats %+v", s)
	}
	if c := shodanlab.Credits(e.lab); c != 100000-pages {
		t.Errorf("credits %d after %d filtered pages", c, pages)
	}
	// maxPages, and fn's error, stop the walk.
	pages = 0
	if err := e.c.SearchAll(context.Background(), csQuery, 2, func(int, *Page) error { pages++; return nil }); err != nil || pages != 2 {
		t.Errorf("maxPages 2: %d pages, %v", pages, err)
	}
	stop := errors.New("stop")
	if err := e.c.SearchAll(context.Background(), csQuery, 0, func(int, *Page) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn error: %v", err)
	}
	// An empty hunt is one page.
	pages = 0
	if err := e.c.SearchAll(context.Background(), "port:1", 0, func(_ int, p *Page) error { pages++; return nil }); err != nil || pages != 1 {
		t.Errorf("empty hunt: %d pages, %v", pages, err)
	}
}

func TestAPIInfoCountHost(t *testing.T) {
	e := newEnv(t, lab.Options{World: lab.WorldConfig{Seed: 42}}, nil)
	ctx := context.Background()
	info, err := e.c.APIInfo(ctx)
	if err != nil || info.QueryCredits != 100000 || info.Plan != "stream-100" || !bool(info.Unlocked) || info.UsageLimits.QueryCredits != -1 {
		t.Fatalf("%+v %v", info, err)
	}
	want, _ := e.lab.World.Search("ssl.jarm:" + lab.JARMCobaltStrike)
	n, err := e.c.Count(ctx, "ssl.jarm:"+lab.JARMCobaltStrike)
	if err != nil || n != len(want) {
		t.Errorf("count %d %v, want %d", n, err, len(want))
	}
	if info, _ := e.c.APIInfo(ctx); info.QueryCredits != 100000 {
		t.Error("count cost a credit")
	}
	var v6 *lab.Server
	for _, s := range e.lab.World.Servers {
		if s.IP.Is6() {
			v6 = s
			break
		}
	}
	h, err := e.c.Host(ctx, v6.IP)
	if err != nil || h.IPStr != v6.IP.String() || len(h.Data) != len(v6.Banners) {
		t.Errorf("host %s: %+v %v", v6.IP, h, err)
	}
	if _, err := e.c.Host(ctx, netip.MustParseAddr("192.0.2.77")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown host: %v", err)
	}
}

func TestDecodeWorld(t *testing.T) {
	// Every banner of several worlds, as served, decodes and converts.
	e := newEnv(t, lab.Options{World: lab.WorldConfig{Seed: 8, Servers: 600, Banners: 50}}, nil)
	skips := indicator.Skips{}
	var set indicator.Set
	var v6Fallback, noFrac, hugeSerial int
	byID := map[string]*lab.Banner{}
	for _, b := range e.lab.World.Banners {
		byID[b.ID] = b
	}
	err := e.c.SearchAll(context.Background(), "product:"+`"Cobalt Strike Beacon"`, 0, func(_ int, p *Page) error {
		if p.Undecodable != 0 {
			t.Errorf("%d undecodable banners", p.Undecodable)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"port:443,8443,50050,31337,7443,40056,4443,3790", "port:80,8080,4444,8888"} {
		err := e.c.SearchAll(context.Background(), q, 0, func(_ int, p *Page) error {
			for i := range p.Matches {
				b := &p.Matches[i]
				lb := byID[b.Shodan.ID]
				if lb == nil {
					t.Fatalf("unknown banner id %q", b.Shodan.ID)
				}
				ip, sg, err := b.Sighting("Hunt")
				if lb.IPStr == lab.InjectionIPStr {
					if SkipReason(err) != SkipInvalidIP {
						t.Errorf("injection banner: %v", err)
					}
					skips.Add(SkipReason(err))
					continue
				}
				if err != nil {
					t.Fatalf("banner %s: %v", lb.IPStr, err)
				}
				if ip != lb.IP || !sg.LastSeen.Equal(lb.Timestamp) || sg.LastSeen.Location() != time.UTC || sg.Port != lb.Port || sg.ASN != lb.ASN || sg.Country != lb.Location.CountryCode {
					t.Fatalf("banner %s: %v %+v", lb.IPStr, ip, sg)
				}
				set.Add(ip, sg)
				if b.IPStr == "" && b.IPv6 != "" {
					v6Fallback++
				}
				if lb.NoFraction {
					noFrac++
				}
				if lb.SSL != nil {
					if string(b.SSL.Cert.Serial) != lb.SSL.Cert.SerialLiteral {
						t.Fatalf("serial %q, want %q", b.SSL.Cert.Serial, lb.SSL.Cert.SerialLiteral)
					}
					if strings.Contains(lb.SSL.Cert.SerialLiteral, "e+") {
						hugeSerial++
					}
					if b.SSL.JARM != lb.SSL.JARM || b.SSL.Cert.Subject["CN"] == "" {
						t.Fatalf("ssl %+v", b.SSL)
					}
				}
				if lb.HTTP != nil && b.HTTP.HTMLHash != int64(lb.HTTP.HTMLHash) {
					t.Fatalf("html_hash %d, want %d", b.HTTP.HTMLHash, lb.HTTP.HTMLHash)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if skips[SkipInvalidIP] != 1 || v6Fallback == 0 || noFrac == 0 || hugeSerial == 0 || set.Len() == 0 {
		t.Errorf("skips %v, ipv6 fallbacks %d, no-fraction %d, huge serials %d, ips %d", skips, v6Fallback, noFrac, hugeSerial, set.Len())
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("5xx", func(t *testing.T) {
		e := newEnv(t, lab.Options{Faults: lab.Faults{Rate5xx: 0.3}, World: lab.WorldConfig{Seed: 1, Servers: 500}}, nil)
		// The lab draws faults from a fixed seed: enough calls meet some.
		for range 10 {
			if err := e.c.SearchAll(ctx, csQuery, 0, func(int, *Page) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if s := e.c.Stats(); s.Retries == 0 || s.RateLimited != 0 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("drop", func(t *testing.T) {
		e := newEnv(t, lab.Options{Faults: lab.Faults{DropRate: 0.3}}, nil)
		for range 20 {
			if _, err := e.c.Count(ctx, csQuery); err != nil {
				t.Fatal(err)
			}
		}
		if e.c.Stats().Retries == 0 {
			t.Error("no retry")
		}
	})
	t.Run("429", func(t *testing.T) {
		e := newEnv(t, lab.Options{}, nil)
		// Someone else spends this key's second just before us.
		resp, err := e.lab.HTTPClient().Get(e.lab.URL + "/api-info?key=" + e.lab.Creds.ShodanKey)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, err := e.c.Count(ctx, csQuery); err != nil {
			t.Fatal(err)
		}
		if s := e.c.Stats(); s.RateLimited != 1 || s.Requests != 2 {
			t.Errorf("stats %+v", s)
		}
		var longest time.Duration
		for _, d := range e.clk.Slept() {
			longest = max(longest, d)
		}
		if longest < time.Second {
			t.Errorf("waited %v after a 429 with Retry-After: 0, want >= 1s", longest)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// The first attempt hangs; the retry goes through.
		e := newEnv(t, lab.Options{}, func(o *Options) {
			o.RequestTimeout = 50 * time.Millisecond
			o.HTTPClient.Transport = &hangFirst{next: o.HTTPClient.Transport}
		})
		if _, err := e.c.Count(ctx, csQuery); err != nil {
			t.Fatal(err)
		}
		if e.c.Stats().Retries != 1 {
			t.Errorf("stats %+v", e.c.Stats())
		}
	})
	t.Run("error200", func(t *testing.T) {
		e := newEnv(t, lab.Options{Faults: lab.Faults{Error200Rate: 1}}, nil)
		_, err := e.c.Search(ctx, csQuery, 1)
		if !errors.Is(err, ErrQuery) || !strings.Contains(err.Error(), "timed out or your query was invalid") {
			t.Errorf("%v", err)
		}
		if s := e.c.Stats(); s.Requests != 2 {
			t.Errorf("error with status 200 tried %d times, want 2", s.Requests)
		}
	})
}

type hangFirst struct {
	next http.RoundTripper
	once sync.Once
}

func (h *hangFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	first := false
	h.once.Do(func() { first = true })
	if first {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return h.next.RoundTrip(r)
}

func TestAPIErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, lab.Options{ShodanCredits: 1}, func(o *Options) { o.Key = "wrong-key-0123456789" })
	_, err := e.c.APIInfo(ctx)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "Shodan rejected the API key") || strings.Contains(err.Error(), "hint:") {
		t.Errorf("bad key: %v", err)
	}
	if e.c.Stats().Requests != 1 {
		t.Error("a 401 was retried")
	}
	good, _ := New(Options{BaseURL: e.lab.URL, Key: e.lab.Creds.ShodanKey, HTTPClient: e.lab.HTTPClient(), Clock: e.clk})
	if _, err := good.Search(ctx, "port:443", 1); err != nil {
		t.Fatal(err)
	}
	_, err = good.Search(ctx, "port:443", 1)
	if !errors.Is(err, ErrNoCredits) || errors.Is(err, ErrUnauthorized) {
		t.Errorf("no credits: %v", err)
	}
	if _, err := good.Search(ctx, `product:"unbalanced`, 1); !errors.Is(err, ErrQuery) {
		t.Errorf("bad query: %v", err)
	}
}

// TestKeyNeverLeaks forces every error path and looks for the key in the
// error text and the log.
func TestKeyNeverLeaks(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, e *env, key string, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("key in error: %v", err)
		}
		if strings.Contains(e.log.String(), key) {
			t.Errorf("key in log: %s", e.log)
		}
		if !strings.Contains(e.log.String(), "key=REDACTED") {
			t.Errorf("log lacks the redacted URL: %s", e.log)
		}
	}
	t.Run("bad key", func(t *testing.T) {
		e := newEnv(t, lab.Options{}, func(o *Options) { o.Key = "BADKEYbadkey0123456789" })
		_, err := e.c.APIInfo(ctx)
		check(t, e, "BADKEYbadkey0123456789", err)
	})
	t.Run("5xx exhausted", func(t *testing.T) {
		e := newEnv(t, lab.Options{Faults: lab.Faults{Rate5xx: 1}}, nil)
		_, err := e.c.Search(ctx, csQuery, 1)
		if !errors.Is(err, ErrUnavailable) || e.c.Stats().Requests != 5 {
			t.Errorf("%v after %d requests", err, e.c.Stats().Requests)
		}
		check(t, e, e.lab.Creds.ShodanKey, err)
	})
	t.Run("dropped connection", func(t *testing.T) {
		e := newEnv(t, lab.Options{Faults: lab.Faults{DropRate: 1}}, func(o *Options) { o.MaxRetries = 1 })
		_, err := e.c.Count(ctx, csQuery)
		check(t, e, e.lab.Creds.ShodanKey, err)
	})
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t, lab.Options{Faults: lab.Faults{Latency: time.Second}}, func(o *Options) {
			o.MaxRetries = 1
			o.RequestTimeout = 30 * time.Millisecond
		})
		_, err := e.c.Count(ctx, csQuery)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("timeout: %v", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("not a net timeout: %v", err)
		}
		check(t, e, e.lab.Creds.ShodanKey, err)
	})
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		e := newEnv(t, lab.Options{}, func(o *Options) { o.BaseURL = "https://" + addr; o.MaxRetries = -1 })
		_, err = e.c.APIInfo(ctx)
		check(t, e, e.lab.Creds.ShodanKey, err)
		if !strings.Contains(err.Error(), "key=REDACTED") {
			t.Errorf("url not shown redacted: %v", err)
		}
	})
	t.Run("bad json", func(t *testing.T) {
		e := newEnv(t, lab.Options{}, func(o *Options) { o.HTTPClient.Transport = garbage{} })
		_, err := e.c.Search(ctx, csQuery, 1)
		if !errors.Is(err, ErrBadResponse) {
			t.Errorf("%v", err)
		}
		check(t, e, e.lab.Creds.ShodanKey, err)
	})
	t.Run("ctx cancel", func(t *testing.T) {
		e := newEnv(t, lab.Options{Faults: lab.Faults{Rate5xx: 1}}, nil)
		cctx, cancel := context.WithCancel(ctx)
		e.c.clock = sleepClock{e.clk, func(ctx context.Context, d time.Duration) error { cancel(); return e.clk.Sleep(ctx, d) }}
		_, err := e.c.Search(cctx, csQuery, 1)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v", err)
		}
		check(t, e, e.lab.Creds.ShodanKey, err)
	})
}

// garbage answers 200 with a body that is not JSON, echoing the URL as a
// broken proxy might.
type garbage struct{}

func (garbage) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r,
		Body: io.NopCloser(strings.NewReader(`{"matches":[` + r.URL.String()))}, nil
}

// TestConcurrentPace shares one client among goroutines: their requests
// get distinct slots exactly Interval apart. The client's clock stands
// still and its Sleep only records, so the test times nothing.
func TestConcurrentPace(t *testing.T) {
	e := newEnv(t, lab.Options{ShodanRate: time.Nanosecond, Now: time.Now}, nil)
	var mu sync.Mutex
	var waits []time.Duration
	e.c.clock = sleepClock{e.clk, func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}}
	const goroutines, each = 4, 3
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if _, err := e.c.Count(context.Background(), csQuery); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(waits)
	// The first request goes at once; the others wait 1s, 2s, ... 11s.
	if len(waits) != goroutines*each-1 {
		t.Fatalf("%d waits: %v", len(waits), waits)
	}
	for i, d := range waits {
		if d != time.Duration(i+1)*time.Second {
			t.Fatalf("waits %v: slot %d is %v", waits, i+1, d)
		}
	}
}

func TestQueryHelpers(t *testing.T) {
	for q, want := range map[string]bool{
		`product:"Cobalt Strike Beacon"`: true,
		"ssl.jarm:07d14":                 true,
		"nginx":                          false,
		`"a:b phrase"`:                   false,
		"2a01:4f8::1":                    false,
		"-port:80":                       true,
		"":                               false,
	} {
		if got := HasFilter(q); got != want {
			t.Errorf("HasFilter(%q) = %v", q, got)
		}
	}
	since := time.Date(2026, 11, 20, 23, 30, 0, 0, time.FixedZone("X", -2*3600))
	if got := WithAfter(`product:"Empire C2"`, since); got != `product:"Empire C2" after:21/11/2026` {
		t.Errorf("WithAfter: %q", got)
	}
	if got := WithAfter("port:80 after:01/01/2026", since); got != "port:80 after:01/01/2026" {
		t.Errorf("WithAfter kept two after: %q", got)
	}
	if got := WithAfter(`ssl:"after:x"`, since); !strings.HasSuffix(got, " after:21/11/2026") {
		t.Errorf("WithAfter fooled by a quoted value: %q", got)
	}
}

func TestLoadKey(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SHODAN_API_KEY", "")
	if _, _, err := LoadKey(); !errors.Is(err, ErrNoKey) || strings.Contains(err.Error(), "hint:") {
		t.Errorf("no key: %v", err)
	}
	old := filepath.Join(home, ".shodan", "api_key")
	os.MkdirAll(filepath.Dir(old), 0o700)
	os.WriteFile(old, []byte("oldkey\n"), 0o600)
	if k, src, err := LoadKey(); k != "oldkey" || src != old || err != nil {
		t.Errorf("old file: %q %q %v", k, src, err)
	}
	cur := filepath.Join(home, ".config", "shodan", "api_key")
	os.MkdirAll(filepath.Dir(cur), 0o700)
	os.WriteFile(cur, []byte("  newkey \n"), 0o600)
	if k, src, _ := LoadKey(); k != "newkey" || src != cur {
		t.Errorf("config file: %q %q", k, src)
	}
	t.Setenv("SHODAN_API_KEY", " envkey\n")
	if k, src, _ := LoadKey(); k != "envkey" || src != "SHODAN_API_KEY" {
		t.Errorf("env: %q %q", k, src)
	}
}

func TestTolerantDecoding(t *testing.T) {
	body := `{"total": 3, "matches": [
	 {"ip_str": "203.0.113.9", "port": 443, "timestamp": "2021-11-05T16:53:17", "hash": -5,
	  "ssl": {"jarm": "x", "cert": {"serial": 1.9585926715947384e+37, "expired": "True", "subject": {"CN": "a", "OU": ["b", "c"]}}},
	  "http": {"title": null, "html_hash": -14029177}, "location": {"city": null, "latitude": null}},
	 {"ipv6": "2a01:4f8::1", "port": "eighty", "timestamp": "2021-11-05T16:53:17.462372"},
	 {"ipv6": "2a01:4f8::1", "port": 80, "timestamp": "2021-11-05T16:53:17.462372", "ssl": {"cert": {"serial": 12345678901234567890123, "expired": 1}}},
	 {"ip_str": "10.0.0.1", "port": 80, "timestamp": "yesterday"}
	]}`
	p, err := DecodePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if p.Undecodable != 1 || len(p.Matches) != 3 || p.Total != 3 {
		t.Fatalf("%+v", p)
	}
	a := p.Matches[0]
	if a.SSL.Cert.Serial != "1.9585926715947384e+37" || !a.SSL.Cert.Expired || a.SSL.Cert.Subject["OU"] != "b, c" || a.HTTP.HTMLHash != -14029177 {
		t.Errorf("%+v", a.SSL)
	}
	if ip, sg, err := a.Sighting("H"); err != nil || ip.String() != "203.0.113.9" || !sg.LastSeen.Equal(time.Date(2021, 11, 5, 16, 53, 17, 0, time.UTC)) {
		t.Errorf("%v %v %v", ip, sg, err)
	}
	b := p.Matches[1]
	if ip, sg, err := b.Sighting("H"); err != nil || ip.String() != "2a01:4f8::1" || sg.LastSeen.Nanosecond() != 462372000 {
		t.Errorf("%v %v %v", ip, sg, err)
	}
	if !b.SSL.Cert.Expired || b.SSL.Cert.Serial != "12345678901234567890123" {
		t.Errorf("%+v", b.SSL.Cert)
	}
	if _, _, err := p.Matches[2].Sighting("H"); SkipReason(err) != SkipBadTimestamp {
		t.Errorf("bad timestamp: %v", err)
	}
}

// BenchmarkDecodePage decodes a realistic 100-banner page, served once by
// the lab from its world (unminified, as `shodan download` gets it).
func BenchmarkDecodePage(b *testing.B) {
	w := lab.NewWorld(lab.WorldConfig{Seed: 1, Now: worldNow, Servers: 400, Banners: 400, Devices: 1, Events: 1, Contacts: 1})
	matches, err := w.Search("port:80,443,8443,8080")
	if err != nil || len(matches) < 100 {
		b.Fatalf("%d matches, %v", len(matches), err)
	}
	body := lab.SearchResponse(matches[:100], len(matches), false, nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := DecodePage(body)
		if err != nil || len(p.Matches) != 100 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "banners/s")
}

// TestPaceFromWrite: pacing counts from when a request was written, not
// from the slot it was given. The client's Sleep overshoots once (a late
// wake-up, or a slow TLS handshake between slot and write); a server on
// the same fake clock must still see every gap at least Interval, with no
// request squeezed in after the late one.
func TestPaceFromWrite(t *testing.T) {
	clk := clock.NewFake(worldNow)
	var mu sync.Mutex
	var seen []time.Time
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, clk.Now())
		mu.Unlock()
		io.WriteString(w, `{"matches": [], "total": 7}`)
	}))
	t.Cleanup(srv.Close)
	const interval = time.Second
	const late = 700 * time.Millisecond
	overshot := false
	sleep := func(ctx context.Context, d time.Duration) error {
		if !overshot {
			overshot = true
			d += late
		}
		return clk.Sleep(ctx, d)
	}
	c, err := New(Options{BaseURL: srv.URL, Key: "k", HTTPClient: srv.Client(), Interval: interval, Clock: sleepClock{clk, sleep}})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if n, err := c.Count(context.Background(), "port:1"); err != nil || n != 7 {
			t.Fatalf("count %d, %v", n, err)
		}
	}
	if !overshot || len(seen) != 4 {
		t.Fatalf("overshot %v, %d requests", overshot, len(seen))
	}
	if gap := seen[1].Sub(seen[0]); gap != interval+late {
		t.Errorf("the late request came %v after the first, want %v", gap, interval+late)
	}
	for i := 2; i < len(seen); i++ {
		if gap := seen[i].Sub(seen[i-1]); gap < interval {
			t.Errorf("request %d came %v after the previous one, want >= %v (times %v)", i, gap, interval, seen)
		}
	}
}

// TestLyingTotal: Shodan's total never makes SearchAll page without end,
// even with no page budget; the pages actually returned decide.
func TestLyingTotal(t *testing.T) {
	ctx := context.Background()
	world := lab.WorldConfig{Seed: 4, Servers: 900, Banners: 300}
	walk := func(e *env) (pages, banners int, err error) {
		err = e.c.SearchAll(ctx, csQuery, 0, func(n int, p *Page) error {
			pages++
			banners += len(p.Matches)
			if pages > 50 {
				return errors.New("pages without end")
			}
			return nil
		})
		return
	}
	for _, total := range []int{-1, 0, 1_000_000_000} {
		t.Run(fmt.Sprint("total=", total), func(t *testing.T) {
			e := newEnv(t, lab.Options{World: world, Faults: lab.Faults{ShodanTotal: &total}}, nil)
			want, err := e.lab.World.Search(csQuery)
			if err != nil || len(want)%PageSize == 0 || len(want) < 2*PageSize {
				t.Fatalf("world: %d matches, %v", len(want), err)
			}
			pages, banners, err := walk(e)
			// Every page is read (a negative or zero total does not stop at
			// page 1) and the short last page ends the walk (a huge total
			// does not ask for the empty page after it).
			if wantPages := len(want)/PageSize + 1; err != nil || pages != wantPages || banners != len(want) || e.c.Stats().Requests != wantPages {
				t.Errorf("%d pages (want %d), %d banners (want %d), %d requests: %v", pages, wantPages, banners, len(want), e.c.Stats().Requests, err)
			}
		})
	}
	t.Run("loop", func(t *testing.T) {
		// A server whose pages never run out: every page is page 1.
		e := newEnv(t, lab.Options{World: world, Faults: lab.Faults{ShodanLoop: true}}, nil)
		pages, _, err := walk(e)
		if err != nil || pages != 1 || e.c.Stats().Requests != 2 {
			t.Errorf("%d pages, %d requests: %v", pages, e.c.Stats().Requests, err)
		}
	})
}

func TestPlainHTTPRefused(t *testing.T) {
	for _, u := range []string{"http://api.shodan.io", "http://127.0.0.1:8080", "ftp://x"} {
		if _, err := New(Options{BaseURL: u, Key: "k"}); err == nil || !strings.Contains(err.Error(), "not an https URL") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// TestPaceFromAnswer: a server that reads a request late (busy, or the
// network held it) stamps it late; the next request must still reach it
// Interval after that stamp. The client paces from the first byte of the
// previous answer, which the server can only send after its stamp. Pacing
// from the write left the server a gap shorter by the delay (a 429).
func TestPaceFromAnswer(t *testing.T) {
	clk := clock.NewFake(worldNow)
	var mu sync.Mutex
	var seen []time.Time
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if len(seen)%2 == 0 {
			clk.Advance(300 * time.Millisecond) // this one sat in the server's queue
		}
		seen = append(seen, clk.Now())
		mu.Unlock()
		io.WriteString(w, `{"matches": [], "total": 7}`)
	}))
	t.Cleanup(srv.Close)
	const interval = time.Second
	c, err := New(Options{BaseURL: srv.URL, Key: "k", HTTPClient: srv.Client(), Interval: interval, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := c.Count(context.Background(), "port:1"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < len(seen); i++ {
		if gap := seen[i].Sub(seen[i-1]); gap < interval {
			t.Errorf("request %d reached the server %v after the previous one, want >= %v", i, gap, interval)
		}
	}
}
