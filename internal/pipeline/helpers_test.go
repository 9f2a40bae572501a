package pipeline_test

// Shared fixtures of the pipeline's behaviour tests: a lab with short rate
// limits, clients pointed at it, a locked state store, and the ground
// truth a sweep of the lab's world must reproduce, computed from the
// world itself (World.Search, World.Hits, World.Contacts), never from the
// code under test.

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"c2sweep/internal/clock"
	"c2sweep/internal/config"
	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/shodan"
	"c2sweep/internal/source"
	shodansource "c2sweep/internal/source/shodan"
	"c2sweep/internal/store"
)

// viaShodan is the sources of a run whose hunts are Shodan searches
// through sc.
func viaShodan(sc *shodan.Client) map[string]source.Source {
	return map[string]source.Source{"shodan": shodansource.New(sc)}
}

// Short rates keep every test fast. The client's Shodan pace is wider than
// the lab's limit so that network jitter never provokes a 429 (whose
// retry waits a real second).
const (
	ptLabShodanRate   = 10 * time.Millisecond
	ptShodanInterval  = 25 * time.Millisecond
	ptHuntingPerMin   = 600
	ptLookback        = 30 * 24 * time.Hour
	ptOverlap         = time.Hour
	ptTick            = 100 * time.Nanosecond // Kusto's datetime resolution
	ptInjectionMarker = "DeviceInfo"
)

// ptClock is the lab's and the pipeline's clock: real time shifted by an
// offset, so that it advances (the lab's rate limits need that) yet can be
// moved days forward or back between runs.
type ptClock struct{ off atomic.Int64 }

func (c *ptClock) Sleep(ctx context.Context, d time.Duration) error { return clock.Real.Sleep(ctx, d) }
func (c *ptClock) After(d time.Duration) <-chan time.Time           { return clock.Real.After(d) }

func (c *ptClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())).UTC() }

// Set makes Now return t (and then advance with real time).
func (c *ptClock) Set(t time.Time) { c.off.Store(int64(time.Until(t))) }

// noWait is the real clock whose Sleep returns at once: retries in these
// tests do not wait.
type noWait struct{ clock.Clock }

func (noWait) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// shortSleep is the real clock with every wait cut to 60 ms at most.
type shortSleep struct{ clock.Clock }

func (c shortSleep) Sleep(ctx context.Context, d time.Duration) error {
	return c.Clock.Sleep(ctx, min(d, 60*time.Millisecond))
}

// ptLab is a running lab with a client that trusts it.
type ptLab struct {
	*lab.Lab
	client *http.Client
}

func ptStartLab(t testing.TB, o lab.Options) *ptLab {
	t.Helper()
	if o.ShodanRate == 0 {
		o.ShodanRate = ptLabShodanRate
	}
	if o.HuntingPerMinute == 0 {
		o.HuntingPerMinute = ptHuntingPerMin
	}
	l := labtest.Start(t, o)
	return &ptLab{Lab: l, client: labtest.Client(l)}
}

func (l *ptLab) shodanClient(t testing.TB, mod func(*shodan.Options)) *shodan.Client {
	t.Helper()
	o := shodan.Options{BaseURL: l.URL, Key: l.Creds.ShodanKey, HTTPClient: l.client, Interval: ptShodanInterval}
	if mod != nil {
		mod(&o)
	}
	c, err := shodan.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (l *ptLab) auth(secret string) hunting.AuthOptions {
	return hunting.AuthOptions{Method: "secret", TenantID: l.Creds.TenantID, ClientID: l.Creds.ClientID,
		ClientSecret: secret, AuthorityHost: l.URL + "/", HTTPClient: l.client}
}

func (l *ptLab) credential(t testing.TB) azcore.TokenCredential {
	t.Helper()
	cred, err := hunting.NewCredential(l.auth(l.Creds.ClientSecret))
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// hunter returns a Graph or MDE client of the lab with a fresh credential.
// Retries do not sleep: the tests' faults would otherwise cost seconds.
func (l *ptLab) hunter(t testing.TB, api string, mod func(*hunting.Options)) hunting.Hunter {
	t.Helper()
	o := hunting.Options{BaseURL: l.URL, Credential: l.credential(t), HTTPClient: l.client, PerMinute: ptHuntingPerMin,
		Clock: noWait{clock.Real}}
	if mod != nil {
		mod(&o)
	}
	switch api {
	case "graph":
		return hunting.NewGraph(o)
	case "mde":
		return hunting.NewMDE(o)
	}
	t.Fatalf("unknown api %q", api)
	return nil
}

// ptOpenStore opens (creating) a state database and takes the run lock.
func ptOpenStore(t testing.TB, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Lock(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	return st
}

func ptTempStore(t testing.TB) *store.Store {
	return ptOpenStore(t, filepath.Join(t.TempDir(), "state.db"))
}

// ptHunts are the enabled built-in hunts, as `run` uses them without a config.
func ptHunts() []config.Hunt { return config.Default().EnabledHunts() }

func ptRun(t testing.TB, p *pipeline.Pipeline, o pipeline.Options) *pipeline.Summary {
	t.Helper()
	s, err := p.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return s
}

// ---- ground truth ----

// truth is what a sweep of a world must find, computed from the world.
type truth struct {
	w     *lab.World
	hunts []config.Hunt
	now   time.Time
	// fresh names, per hunt, the valid IPs of the banners the hunt's query
	// matches that Shodan saw within the hunt's max age.
	fresh map[string]map[netip.Addr]bool
	// invalid counts, per hunt, matched banners whose ip_str is no address.
	invalid map[string]int
	// stale names, per hunt, the IPs only seen before the max age.
	stale map[string]map[netip.Addr]bool
}

func truthAt(t testing.TB, w *lab.World, hunts []config.Hunt, now time.Time) *truth {
	t.Helper()
	tr := &truth{w: w, hunts: hunts, now: now, fresh: map[string]map[netip.Addr]bool{},
		invalid: map[string]int{}, stale: map[string]map[netip.Addr]bool{}}
	for _, h := range hunts {
		bs, err := w.Search(h.Query)
		if err != nil {
			// An invalid query finds nothing.
			continue
		}
		since := now.Add(-time.Duration(h.MaxAge))
		fresh, seen := map[netip.Addr]bool{}, map[netip.Addr]bool{}
		for _, b := range bs {
			ip, err := netip.ParseAddr(b.IPStr)
			if err != nil {
				tr.invalid[h.Name]++
				continue
			}
			ip = ip.Unmap()
			seen[ip] = true
			if h.MaxAge <= 0 || !b.Timestamp.Before(since) {
				fresh[ip] = true
			}
		}
		stale := map[netip.Addr]bool{}
		for ip := range seen {
			if !fresh[ip] {
				stale[ip] = true
			}
		}
		tr.fresh[h.Name], tr.stale[h.Name] = fresh, stale
	}
	return tr
}

// sweeps reports whether hunt h sweeps target tg.
func huntSweeps(h config.Hunt, tg kql.Target) bool { return slices.Contains(h.Sweep, tg) }

// ips returns the sorted fresh IPs of the hunts that sweep tg.
func (tr *truth) ips(tg kql.Target) []netip.Addr {
	set := map[netip.Addr]bool{}
	for _, h := range tr.hunts {
		if huntSweeps(h, tg) {
			for ip := range tr.fresh[h.Name] {
				set[ip] = true
			}
		}
	}
	return sortedAddrs(set)
}

// allIPs is every fresh IP of every hunt.
func (tr *truth) allIPs() []netip.Addr {
	set := map[netip.Addr]bool{}
	for _, f := range tr.fresh {
		for ip := range f {
			set[ip] = true
		}
	}
	return sortedAddrs(set)
}

// huntsOf names, sorted, the hunts sweeping tg that found ip fresh.
func (tr *truth) huntsOf(ip netip.Addr, tg kql.Target) []string {
	var out []string
	for _, h := range tr.hunts {
		if huntSweeps(h, tg) && tr.fresh[h.Name][ip.Unmap()] {
			out = append(out, h.Name)
		}
	}
	sort.Strings(out)
	return out
}

// want is one hit a sweep must report.
type wantHit struct {
	E     lab.Event
	Hunts []string
}

// hits returns the events of target tg for ips within [start, end], keyed
// as hitKey, attributed to the hunts that name their IP.
func (tr *truth) hits(tg kql.Target, ips []netip.Addr, start, end time.Time) map[string]wantHit {
	out := map[string]wantHit{}
	for _, e := range tr.w.Hits(tg.Table, tg.Column, withMapped(ips), start, end.Add(time.Nanosecond)) {
		out[eventKey(e)] = wantHit{E: e, Hunts: tr.huntsOf(e.IP, tg)}
	}
	return out
}

// allHits is the full-lookback answer of every target the hunts sweep.
func (tr *truth) allHits() map[string]wantHit {
	out := map[string]wantHit{}
	for _, tg := range tr.targets() {
		for k, v := range tr.hits(tg, tr.ips(tg), tr.now.Add(-ptLookback), tr.now) {
			out[k] = v
		}
	}
	return out
}

// targets lists the distinct targets of the hunts.
func (tr *truth) targets() []kql.Target {
	var ts []kql.Target
	for _, h := range tr.hunts {
		for _, tg := range h.Sweep {
			if !slices.Contains(ts, tg) {
				ts = append(ts, tg)
			}
		}
	}
	return ts
}

// withMapped adds the ::ffff: form of every IPv4 address: Defender logs
// both, and World.Hits matches the logged text exactly.
func withMapped(ips []netip.Addr) []netip.Addr {
	out := slices.Clone(ips)
	for _, ip := range ips {
		if ip.Is4() {
			out = append(out, netip.AddrFrom16(ip.As16()))
		}
	}
	return out
}

func sortedAddrs(set map[netip.Addr]bool) []netip.Addr {
	out := make([]netip.Addr, 0, len(set))
	for ip := range set {
		out = append(out, ip)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// Report ids are unique across the lab's telemetry: with the table they
// name an event.
func eventKey(e lab.Event) string   { return e.Table + "|" + strconv.FormatInt(e.ReportID, 10) }
func hitKey(h indicator.Hit) string { return h.Table + "|" + h.ReportID }

// byKey indexes hits, failing on a hit reported twice.
func byKey(t testing.TB, hs []indicator.Hit) map[string]indicator.Hit {
	t.Helper()
	out := map[string]indicator.Hit{}
	for _, h := range hs {
		k := hitKey(h)
		if _, dup := out[k]; dup {
			t.Errorf("hit %s reported twice in one run", k)
		}
		out[k] = h
	}
	return out
}

// checkHits asserts that got holds exactly the wanted events, each on the
// right IP and attributed to exactly the right hunts.
func checkHits(t testing.TB, what string, got []indicator.Hit, wanted map[string]wantHit) {
	t.Helper()
	g := byKey(t, got)
	for k, w := range wanted {
		h, ok := g[k]
		if !ok {
			t.Errorf("%s: missing hit %s (%s %s at %s)", what, k, w.E.Table, w.E.IP, w.E.Time.Format(time.RFC3339))
			continue
		}
		if h.IP != w.E.IP.Unmap() {
			t.Errorf("%s: hit %s: IP %s, want %s", what, k, h.IP, w.E.IP.Unmap())
		}
		if !h.Timestamp.Equal(w.E.Time) {
			t.Errorf("%s: hit %s: time %s, want %s", what, k, h.Timestamp, w.E.Time)
		}
		if !slices.Equal(h.Hunts, w.Hunts) {
			t.Errorf("%s: hit %s (%s): hunts %v, want %v", what, k, h.IP, h.Hunts, w.Hunts)
		}
	}
	for k, h := range g {
		if _, ok := wanted[k]; !ok {
			t.Errorf("%s: unexpected hit %s (%s %s at %s, hunts %v)", what, k, h.Table, h.IP, h.Timestamp.Format(time.RFC3339), h.Hunts)
		}
	}
}

// minus returns the wanted hits whose keys are not in seen.
func ptMinus(w map[string]wantHit, seen map[string]bool) map[string]wantHit {
	out := map[string]wantHit{}
	for k, v := range w {
		if !seen[k] {
			out[k] = v
		}
	}
	return out
}

// huntedFrameworks are those the built-in hunts fingerprint.
var huntedFrameworks = []string{"Cobalt Strike", "PoshC2", "Empire", "Deimos"}

// pickSeed returns the first seed whose world (at now) satisfies ok, so
// that a test's preconditions hold whatever the generator's details.
func pickSeed(t testing.TB, now time.Time, ok func(*lab.World) bool) int64 {
	t.Helper()
	for seed := int64(1); seed <= 200; seed++ {
		if ok(lab.NewWorld(lab.WorldConfig{Seed: seed, Now: now})) {
			return seed
		}
	}
	t.Fatal("no seed in 1..200 gives a world with this test's preconditions")
	return 0
}

// queriesFor returns the summary's queries of target tg.
func queriesFor(s *pipeline.Summary, tg kql.Target) []*pipeline.QuerySummary {
	var out []*pipeline.QuerySummary
	for _, q := range s.Queries {
		if q.Column == tg.String() {
			out = append(out, q)
		}
	}
	return out
}

func huntSummary(t testing.TB, s *pipeline.Summary, name string) *pipeline.HuntSummary {
	t.Helper()
	for _, h := range s.Hunts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no hunt %s in the summary", name)
	return nil
}

// describe is a short account of a summary for failure messages.
func ptDescribe(s *pipeline.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "outcome %s, totals %+v", s.Outcome, s.Totals)
	for _, e := range s.Errors {
		fmt.Fprintf(&b, "\n  error: %s", e)
	}
	return b.String()
}
