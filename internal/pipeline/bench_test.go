package pipeline_test

// BenchmarkFullSweep: a whole sweep of a large lab world (issue 3), against
// the floor the services' rate limits set.
//
//	go test -run '^$' -bench FullSweep ./internal/pipeline          # scaled limits
//	go test -run '^$' -bench FullSweep ./internal/pipeline -args -sweep.real \
//	    -sweep.indicators 2000 -sweep.hunts 10                     # Shodan's 1 s, 45 hunting calls a minute
//
// Scaled limits (the default) run the world 10 times faster: a Shodan
// request every 100 ms (lab and client alike) and 450 hunting calls a
// minute. 100 ms rather than less because the lab tolerates 5% of the
// interval of jitter between requests (50 ms at the real 1 s): at 50 ms
// that is 2.5 ms, which a GC pause in this process can eat.
//
// The floor is what the limits alone cost: a Shodan request every interval
// (the first, /api-info, is free of waiting, so P pages cost P intervals)
// plus, at n hunting calls over any sliding minute, a whole minute for
// each n calls after the first n: (calls - 1) / n minutes, rounded down.
// (The (calls - n) / n is that spread evenly; with a sliding
// window the 46th call waits the whole minute.) Everything else in the wall time (the lab
// answering, decoding, planning, SQLite, files) is overhead the sweep adds.

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/hunting"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/shodan"
	"c2sweep/internal/store"
)

var (
	sweepReal       = flag.Bool("sweep.real", false, "BenchmarkFullSweep: the services' real limits (Shodan 1 request/s, 45 hunting calls/min) instead of scaled ones")
	sweepInterval   = flag.Duration("sweep.interval", 100*time.Millisecond, "BenchmarkFullSweep: scaled gap between Shodan requests; the hunting limit scales with it (45 per minute x 1s/interval)")
	sweepIndicators = flag.Int("sweep.indicators", 20000, "BenchmarkFullSweep: fresh indicators to aim the world at")
	sweepHunts      = flag.Int("sweep.hunts", 50, "BenchmarkFullSweep: hunts (the 5 built-in ones plus generated ones)")
	sweepEvents     = flag.Int("sweep.events", 200000, "BenchmarkFullSweep: ordinary telemetry events")
	sweepContacts   = flag.Int("sweep.contacts", 2000, "BenchmarkFullSweep: planted device-to-C2 contacts")
	sweepMaxIPs     = flag.Int("sweep.maxips", 0, "BenchmarkFullSweep: indicators per KQL query (0: c2sweep's default)")
	sweepInProcess  = flag.Bool("sweep.inprocess", false, "BenchmarkFullSweep: run the client in the benchmark's process, next to the lab, instead of a process of its own")
	sweepMemProfile = flag.String("sweep.memprofile", "", "BenchmarkFullSweep: write the client's heap profile at its live-heap peak to this file")
)

// genFamily is a C2 framework the built-in hunts do not look for, with a
// fingerprint the lab's Shodan matcher understands (see
// internal/lab/shodan_world.go for the banners).
type genFamily struct{ name, query string }

var genFamilies = []genFamily{
	{"Sliver", `port:80,443,8888 "no-store, no-cache, must-revalidate"`},
	{"Mythic", "http.favicon.hash:1642653245"},
	{"Havoc", `ssl:"Havoc Framework"`},
	{"Covenant", "http.title:Covenant"},
	{"Metasploit", "product:Metasploit"},
	{"BruteRatel", "ssl.jarm:3fd3fd0003fd3fd21c3fd3fd3fd3fd703dc1bf20eb9604decefea997eabff7"},
}

// genASNs are the lab's hosting networks, most used first (AS20473 is two
// of its hosters).
var genASNs = []string{"AS20473", "AS14061", "AS24940", "AS16276", "AS16509", "AS63949", "AS45090",
	"AS37963", "AS9009", "AS51167", "AS8075", "AS45839", "AS210644"}

// sweepHuntsFor returns the five built-in hunts and n-5 generated ones.
// Generated hunts split each family by network: k hunts of a family are
// k-1 "fingerprint asn:X" hunts and one "fingerprint -asn:X ..." for the
// rest, so a family's servers are each found once. They sweep
// DeviceNetworkEvents and DeviceLogonEvents, as a config may ask.
func sweepHuntsFor(n int) []config.Hunt {
	hunts := config.Builtins()
	if n < len(hunts) {
		return hunts[:max(n, 1)]
	}
	per := make([]int, len(genFamilies))
	for i := range n - len(hunts) {
		per[i%len(genFamilies)]++
	}
	sweep := []kql.Target{kql.DefaultTarget, {Table: "DeviceLogonEvents", Column: "RemoteIP"}}
	for i, f := range genFamilies {
		k := min(per[i], len(genASNs)+1)
		for j := range k {
			h := hunts[0] // the built-in defaults: enabled, 7d, all pages
			h.Sweep = sweep
			h.Origin = "benchmark"
			switch {
			case k == 1:
				h.Name, h.Query = f.name, f.query
			case j < k-1:
				h.Name, h.Query = f.name+"-"+genASNs[j], f.query+" asn:"+genASNs[j]
			default:
				h.Name, h.Query = f.name+"-other", f.query+" -asn:"+strings.Join(genASNs[:k-1], " -asn:")
			}
			hunts = append(hunts, h)
		}
	}
	return hunts
}

// expectation is what a sweep of the world must do, computed from the
// world itself the way the lab's Shodan answers.
type expectation struct {
	fresh   map[string][]netip.Addr // by hunt
	all     map[netip.Addr]bool
	targets map[kql.Target][]netip.Addr
}

func expect(tb testing.TB, w *lab.World, hunts []config.Hunt, now time.Time) expectation {
	tb.Helper()
	e := expectation{fresh: map[string][]netip.Addr{}, all: map[netip.Addr]bool{}, targets: map[kql.Target][]netip.Addr{}}
	perTarget := map[kql.Target]map[netip.Addr]bool{}
	for _, h := range hunts {
		// Which banners a sweep keeps does not depend on how it asks
		// Shodan to drop stale ones (after:): the exact cut is local.
		since := now.Add(-time.Duration(h.MaxAge))
		bs, err := w.Search(h.Query)
		if err != nil {
			tb.Fatalf("hunt %s: %v", h.Name, err)
		}
		seen := map[netip.Addr]bool{}
		for _, b := range bs {
			ip, err := netip.ParseAddr(b.IPStr)
			if err != nil || b.Timestamp.Before(since) || seen[ip] {
				continue
			}
			seen[ip] = true
			e.fresh[h.Name] = append(e.fresh[h.Name], ip)
			e.all[ip] = true
			for _, t := range h.Sweep {
				if perTarget[t] == nil {
					perTarget[t] = map[netip.Addr]bool{}
				}
				perTarget[t][ip] = true
			}
		}
	}
	for t, ips := range perTarget {
		for ip := range ips {
			e.targets[t] = append(e.targets[t], ip)
		}
	}
	return e
}

// hits counts the events a sweep over [start, end) must report: rows whose
// column holds an indicator, plain or IPv4-mapped.
func (e expectation) hits(w *lab.World, start, end time.Time) int {
	n := 0
	for t, ips := range e.targets {
		var want []netip.Addr
		for _, ip := range ips {
			want = append(want, ip)
			if ip.Is4() {
				want = append(want, netip.AddrFrom16(ip.As16()))
			}
		}
		n += len(w.Hits(t.Table, t.Column, want, start, end))
	}
	return n
}

// sweepWorld sizes a world so that hunts find about `indicators` fresh
// servers: a first guess, then one correction from the count it gives.
func sweepWorld(tb testing.TB, hunts []config.Hunt, indicators, events, contacts int, now time.Time) lab.WorldConfig {
	tb.Helper()
	cfg := lab.WorldConfig{Seed: 1, Now: now, Servers: max(indicators*6/5, 20), Devices: max(events/100, 50), Events: events, Contacts: contacts}
	cfg.Banners = max(cfg.Servers/5, 200)
	// The Shodan side of a world does not depend on its telemetry: size it
	// with a token organisation.
	probe := func(servers int) int {
		c := cfg
		c.Servers, c.Events, c.Devices, c.Contacts = servers, 1, 1, 1
		return len(expect(tb, lab.NewWorld(c), hunts, now).all)
	}
	if got := probe(cfg.Servers); got > 0 {
		cfg.Servers = max(int(math.Round(float64(cfg.Servers)*float64(indicators)/float64(got))), 1)
	}
	return cfg
}

// sweepRig is a lab and the clients of one sweep against it, set to the
// limits being measured.
type sweepRig struct {
	lab       *lab.Lab
	hunts     []config.Hunt
	interval  time.Duration // least gap between Shodan requests
	perMinute int           // hunting calls a minute
	maxIPs    int
}

// newSweepRig starts a lab of the world with the given limits and tenants
// (0: one).
func newSweepRig(tb testing.TB, world lab.WorldConfig, hunts []config.Hunt, interval time.Duration, perMinute, maxIPs, tenants int) *sweepRig {
	tb.Helper()
	l := labtest.Start(tb, lab.Options{World: world, ShodanRate: interval, HuntingPerMinute: perMinute, ShodanCredits: 1_000_000, Tenants: tenants})
	return &sweepRig{lab: l, hunts: hunts, interval: interval, perMinute: perMinute, maxIPs: maxIPs}
}

// sweepResult is one measured sweep. It travels as JSON from a client
// process to the benchmark.
type sweepResult struct {
	Sum     *pipeline.Summary
	Wall    time.Duration
	Started time.Time
	Pages   int
	Calls   int // hunting HTTP calls, every target's
	// SlowestCalls are the hunting calls of the target that made most
	// (0: Calls, one target).
	SlowestCalls int
	ShodanCalls  int    // Shodan requests, /api-info included
	Throttled    int    // 429s from Shodan and the hunting API
	HeapPeak     uint64 // HeapInuse
	LivePeak     uint64 // live heap
	GoPeak       uint64 // memory the Go runtime holds (the rest of the RSS is SQLite's and the binary's)
	MaxRSS       uint64 // the client process's peak resident set, when it ran alone
	// TargetHits are, by target, the hits the run stored ("Table|ReportId"),
	// when the client swept targets (sweepClient.Tenants).
	TargetHits map[string][]string
}

// floor is the time the rate limits alone impose on r: P pages after
// /api-info take P intervals; hunting calls over a sliding minute of n
// take a minute for every n after the first n (call k, from 0, cannot go
// before minute k/n): (calls-1)/n whole minutes. Targets are swept
// concurrently, each with its own limit: the slowest target's calls count.
func (g *sweepRig) floor(r sweepResult) time.Duration {
	f := time.Duration(r.Pages) * g.interval
	if calls := cmp.Or(r.SlowestCalls, r.Calls); calls > 0 {
		f += time.Duration((calls-1)/g.perMinute) * time.Minute
	}
	return f
}

// run performs one full sweep with a fresh state database, as a first run
// does: every indicator gets the full lookback. The client runs in this
// process, next to the lab.
func (g *sweepRig) run(tb testing.TB, dir string) sweepResult {
	tb.Helper()
	r, err := runSweep(context.Background(), g.client(dir), g.lab.HTTPClient())
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// client is what a sweep's client needs to know of the rig.
func (g *sweepRig) client(dir string) sweepClient {
	return sweepClient{URL: g.lab.URL, CAFile: g.lab.CAFile, Creds: g.lab.Creds, Hunts: len(g.hunts),
		Interval: g.interval, PerMinute: g.perMinute, MaxIPs: g.maxIPs, Dir: dir}
}

// benchTarget names the sweep target of the lab's tenant i.
func benchTarget(i int) string { return fmt.Sprintf("tenant%02d", i) }

// runSweep is one sweep by a client of the lab at c.URL, with a new state
// database in c.Dir.
func runSweep(ctx context.Context, c sweepClient, hc *http.Client) (sweepResult, error) {
	var r sweepResult
	sc, err := shodan.New(shodan.Options{BaseURL: c.URL, Key: c.Creds.ShodanKey, HTTPClient: hc, Interval: c.Interval})
	if err != nil {
		return r, err
	}
	// Each target signs in to its own tenant with its own credential and
	// keeps its own limiter, as `run` builds them.
	hunter := func(tn lab.Tenant) (hunting.Hunter, error) {
		cred, err := hunting.NewCredential(hunting.AuthOptions{Method: "secret", TenantID: tn.TenantID, ClientID: tn.ClientID,
			ClientSecret: tn.ClientSecret, AuthorityHost: c.URL + "/", HTTPClient: hc})
		if err != nil {
			return nil, err
		}
		return hunting.NewGraph(hunting.Options{BaseURL: c.URL, Credential: cred, HTTPClient: hc, PerMinute: c.PerMinute}), nil
	}
	st, err := store.Open(ctx, filepath.Join(c.Dir, "state.db"), store.Options{})
	if err != nil {
		return r, err
	}
	defer st.Close()
	if err := st.Lock(ctx, false); err != nil {
		return r, err
	}
	p := &pipeline.Pipeline{Sources: viaShodan(sc), Store: st}
	if c.Tenants == nil {
		if p.Hunter, err = hunter(lab.Tenant{TenantID: c.Creds.TenantID, ClientID: c.Creds.ClientID, ClientSecret: c.Creds.ClientSecret}); err != nil {
			return r, err
		}
	}
	for _, i := range c.Tenants {
		if i < 0 || i >= len(c.Creds.Tenants) {
			return r, fmt.Errorf("no tenant %d in a lab of %d", i, len(c.Creds.Tenants))
		}
		h, err := hunter(c.Creds.Tenants[i])
		if err != nil {
			return r, err
		}
		p.Targets = append(p.Targets, pipeline.Target{Name: benchTarget(i), Backend: "graph", Hunter: h})
	}
	o := pipeline.Options{Hunts: sweepHuntsFor(c.Hunts), API: "graph", Limits: kql.Limits{MaxIPs: c.MaxIPs},
		OutDir: filepath.Join(c.Dir, "results"), Command: "bench"}

	peak := newHeapSampler()
	start := time.Now()
	sum, err := p.Run(ctx, o)
	wall := time.Since(start)
	inuse, live, held := peak.stop()
	if err != nil {
		return r, fmt.Errorf("run: %w", err)
	}
	if len(sum.Errors) > 0 {
		return r, fmt.Errorf("run %s with errors: %s", sum.Outcome, strings.Join(sum.Errors, "; "))
	}
	r = sweepResult{Sum: sum, Wall: wall, Started: start, Calls: sum.Totals.HuntingCalls, ShodanCalls: sum.Totals.ShodanCalls,
		HeapPeak: inuse, LivePeak: live, GoPeak: held, Throttled: sum.Totals.Throttled + sc.Stats().RateLimited}
	for _, h := range sum.Hunts {
		r.Pages += h.Pages
	}
	for _, t := range sum.Targets {
		r.SlowestCalls = max(r.SlowestCalls, t.Calls)
	}
	if c.Tenants != nil {
		hits, err := st.RunHits(ctx, sum.RunID)
		if err != nil {
			return r, err
		}
		r.TargetHits = map[string][]string{}
		for _, h := range hits {
			r.TargetHits[h.Target] = append(r.TargetHits[h.Target], h.Table+"|"+h.ReportID)
		}
	}
	return r, nil
}

// check compares a sweep with what the world says it must find.
func (g *sweepRig) check(tb testing.TB, e expectation, r sweepResult) {
	tb.Helper()
	s := r.Sum
	if s.Totals.Indicators != len(e.all) {
		tb.Errorf("%d indicators, want %d", s.Totals.Indicators, len(e.all))
	}
	for _, h := range s.Hunts {
		if want := max(1, (h.Total+99)/100); h.Pages != want {
			tb.Errorf("hunt %s: %d pages for %d matches, want %d", h.Name, h.Pages, h.Total, want)
		}
		if h.Fresh != len(e.fresh[h.Name]) {
			tb.Errorf("hunt %s: %d fresh indicators, want %d", h.Name, h.Fresh, len(e.fresh[h.Name]))
		}
		if h.Truncated {
			tb.Errorf("hunt %s stopped before its last page", h.Name)
		}
	}
	lookback := 30 * 24 * time.Hour
	// A run of tenants' targets finds each tenant's part of the world
	// (checkTargetHits); one default target finds all of it.
	if want := e.hits(g.lab.World, r.Started.Add(-lookback), r.Started.Add(time.Hour)); r.TargetHits == nil && (s.Totals.Hits != want || s.Totals.NewHits != want) {
		tb.Errorf("%d hits (%d new), the world has %d", s.Totals.Hits, s.Totals.NewHits, want)
	}
	// Every query fits the limits: as few calls as the chunking allows,
	// for each target.
	maxIPs := g.maxIPs
	if maxIPs <= 0 {
		maxIPs = kql.DefaultMaxIPs
	}
	want := 0
	for _, ips := range e.targets {
		want += (len(ips) + maxIPs - 1) / maxIPs
	}
	want *= max(1, len(s.Targets))
	if s.Totals.Queries != want {
		tb.Errorf("%d hunting queries, want %d", s.Totals.Queries, want)
	}
	if calls := g.lab.Calls(); r.Calls > calls["graph"] {
		tb.Errorf("summary counts %d hunting calls, the lab answered %d", r.Calls, calls["graph"])
	}
}

// heapSampler records, while a sweep runs, the largest heap in use
// (HeapInuse: objects, garbage not yet collected included, plus the unused
// part of their spans) and the largest live heap (what the last GC marked).
type heapSampler struct {
	done              chan struct{}
	wg                sync.WaitGroup
	inuse, live, held uint64
}

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/gc/heap/live:bytes",
	"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes"}

func readHeap() (inuse, live uint64) {
	inuse, live, _ = readMemory()
	return inuse, live
}

// readMemory adds to readHeap the memory the Go runtime holds from the
// system (heap, stacks, its own structures), returned pages excluded.
func readMemory() (inuse, live, held uint64) {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64() - s[4].Value.Uint64()
}

func newHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	h.inuse, h.live, h.held = readMemory()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			inuse, live, held := readMemory()
			h.inuse, h.live, h.held = max(h.inuse, inuse), max(h.live, live), max(h.held, held)
			select {
			case <-h.done:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() (inuse, live, held uint64) {
	close(h.done)
	h.wg.Wait()
	return h.inuse, h.live, h.held
}

// maxRSS is the process's peak resident set in bytes: the benchmark's own,
// lab world included (and the client, with -sweep.inprocess).
func maxRSS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Maxrss) * 1024 // kilobytes on Linux
}

func BenchmarkFullSweep(b *testing.B) {
	interval := *sweepInterval
	perMinute := int(math.Ceil(45 * float64(time.Second) / float64(interval)))
	if *sweepReal {
		interval, perMinute = time.Second, 45
	}
	hunts := sweepHuntsFor(*sweepHunts)
	now := time.Now().UTC()
	world := sweepWorld(b, hunts, *sweepIndicators, *sweepEvents, *sweepContacts, now)
	g := newSweepRig(b, world, hunts, interval, perMinute, *sweepMaxIPs, 0)
	e := expect(b, g.lab.World, hunts, now)
	runtime.GC()
	_, base := readHeap()
	b.Logf("world: %d servers, %d banners, %d events, %d contacts; %d hunts, %d fresh indicators; Shodan every %s, hunting %d calls/min",
		len(g.lab.World.Servers), len(g.lab.World.Banners), len(g.lab.World.Events), len(g.lab.World.Contacts), len(hunts), len(e.all), interval, perMinute)

	var wall, floor time.Duration
	var last sweepResult
	var peak, live, held, rss uint64
	throttled := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		var r sweepResult
		if *sweepInProcess {
			r = g.run(b, dir)
		} else {
			r = g.runClientProcess(b, dir, *sweepMemProfile)
		}
		b.StopTimer()
		g.check(b, e, r)
		wall += r.Wall
		floor += g.floor(r)
		throttled += r.Throttled
		peak, live, held, rss = max(peak, r.HeapPeak), max(live, r.LivePeak), max(held, r.GoPeak), max(rss, r.MaxRSS)
		last = r
		t := r.Sum.Timing
		b.Logf("run %d: wall %.2fs, floor %.2fs (shodan %.2fs, hunting %.2fs, output %.2fs), %d pages, %d hunting calls, %d hits, %d 429s; client: max RSS %.1f MB, Go runtime %.1f MB, heap in use %.1f MB, live %.1f MB",
			i+1, r.Wall.Seconds(), g.floor(r).Seconds(), t.ShodanSec, t.HuntingSec, t.OutputSec, r.Pages, r.Calls, r.Sum.Totals.Hits, r.Throttled,
			float64(r.MaxRSS)/(1<<20), float64(r.GoPeak)/(1<<20), float64(r.HeapPeak)/(1<<20), float64(r.LivePeak)/(1<<20))
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "wall-s")
	b.ReportMetric(floor.Seconds()/n, "floor-s")
	b.ReportMetric(wall.Seconds()/floor.Seconds(), "wall/floor")
	b.ReportMetric(float64(last.Pages), "shodan-pages")
	b.ReportMetric(float64(last.Calls), "hunting-calls")
	b.ReportMetric(float64(throttled)/n, "429s")
	b.ReportMetric(float64(last.Sum.Totals.Indicators), "indicators")
	b.ReportMetric(float64(last.Sum.Totals.Hits), "hits")
	b.ReportMetric(float64(peak)/(1<<20), "MB-heap-peak")
	b.ReportMetric(float64(live)/(1<<20), "MB-live-peak")
	b.ReportMetric(float64(held)/(1<<20), "MB-go-peak")
	b.ReportMetric(float64(base)/(1<<20), "MB-live-lab")
	if !*sweepInProcess {
		b.ReportMetric(float64(rss)/(1<<20), "MB-client-maxrss")
	}
	b.ReportMetric(maxRSS()/(1<<20), "MB-bench-maxrss")
	if throttled > 0 {
		b.Errorf("%d 429s: the sweep went faster than the limits allow", throttled)
	}
}

// TestFullSweepBench runs the benchmark's sweep on a small world with
// short limits: every page fetched, every indicator and hit of the world
// found, queries as few as the chunking allows, nothing throttled by the
// lab's hunting limit. It keeps the benchmark honest without timing it.
func TestFullSweepBench(t *testing.T) {
	hunts := sweepHuntsFor(12)
	if len(hunts) != 12 || !slices.ContainsFunc(hunts, func(h config.Hunt) bool { return strings.Contains(h.Query, "-asn:") }) {
		t.Fatalf("generated hunts: %d, want 12 with a rest-of-networks hunt", len(hunts))
	}
	now := time.Now().UTC()
	world := sweepWorld(t, hunts, 400, 20000, 200, now)
	// 150 indicators a query: several queries a target.
	g := newSweepRig(t, world, hunts, 5*time.Millisecond, 45, 150, 0)
	e := expect(t, g.lab.World, hunts, now)
	if n := len(e.all); n < 300 || n > 500 {
		t.Fatalf("world sized for 400 indicators has %d", n)
	}
	if e.hits(g.lab.World, now.Add(-30*24*time.Hour), now.Add(time.Hour)) == 0 {
		t.Fatal("the world has no hit to find")
	}
	r := g.run(t, t.TempDir())
	g.check(t, e, r)
	if r.Sum.Totals.Throttled != 0 {
		t.Errorf("%d hunting 429s", r.Sum.Totals.Throttled)
	}
	// The floor: pages x interval, plus a whole minute for each n hunting
	// calls after the first n.
	if f := g.floor(r); f != time.Duration(r.Pages)*5*time.Millisecond || r.Calls > 45 {
		t.Errorf("floor %s for %d pages and %d calls", f, r.Pages, r.Calls)
	}
	limits := &sweepRig{interval: time.Second, perMinute: 45}
	if f := limits.floor(sweepResult{Pages: 200, Calls: 90}); f != 200*time.Second+time.Minute {
		t.Errorf("floor of 200 pages and 90 calls at 1 s, 45/min: %s, want 4m20s", f)
	}
	if f := limits.floor(sweepResult{Pages: 3, Calls: 45}); f != 3*time.Second {
		t.Errorf("floor of 3 pages and 45 calls at 1 s, 45/min: %s, want 3s", f)
	}
	if f := limits.floor(sweepResult{Pages: 3, Calls: 46}); f != 63*time.Second {
		t.Errorf("floor of 3 pages and 46 calls at 1 s, 45/min: %s, want 1m3s", f)
	}
	t.Logf("%d indicators, %d pages, %d hunting calls, %d hits, %d 429s, wall %s, floor %s, timing %+v",
		r.Sum.Totals.Indicators, r.Pages, r.Calls, r.Sum.Totals.Hits, r.Throttled, r.Wall, g.floor(r), r.Sum.Timing)
}
