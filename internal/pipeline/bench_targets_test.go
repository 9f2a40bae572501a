package pipeline_test

// BenchmarkTargets: 50 sweep targets (issue 12) against a lab of 50
// tenants, with the seed's hunts (the built-in ones). They must cost one
// Shodan collection and finish within 1.1 x the slowest target's own
// rate-limit floor.
//
//	go test -run '^$' -bench Targets -benchtime 1x ./internal/pipeline                            # the real limits: Shodan's 1 s, 45 calls a minute
//	go test -run '^$' -bench Targets -benchtime 1x ./internal/pipeline -args -targets.real=false  # scaled 10x: a stress test of the machine
//
// Each iteration measures (a) one target alone, tenant 0's, and (b) every
// tenant's target in one run, concurrently, each with its own credential
// and limiter. Both sweep the same indicators, so every target needs the
// same number of queries; MaxIPs is chosen so that this is about
// -targets.windows minute-windows of the per-tenant limit: every target is
// bound by its own rate limit. The floor is sweepRig.floor's: Shodan pages
// x interval, plus (calls - 1) / perMinute whole minutes of the target that
// made most calls. The lab's per-tenant limit remembers the last minute,
// so the benchmark waits a minute (timer stopped) between the two runs.

import (
	"flag"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
)

var (
	targetsN          = flag.Int("targets.n", 50, "BenchmarkTargets: sweep targets, one a lab tenant")
	targetsReal       = flag.Bool("targets.real", true, "BenchmarkTargets: the services' real limits (Shodan 1 request/s, 45 hunting calls/min); false scales them 10x (100 ms, 450/min)")
	targetsWindows    = flag.Float64("targets.windows", 2, "BenchmarkTargets: hunting calls of each target, in minute-windows of its limit (> 1: rate-limit bound)")
	targetsIndicators = flag.Int("targets.indicators", 4500, "BenchmarkTargets: fresh indicators to aim the world at")
	targetsEvents     = flag.Int("targets.events", 50000, "BenchmarkTargets: ordinary telemetry events")
	targetsContacts   = flag.Int("targets.contacts", 2000, "BenchmarkTargets: planted device-to-C2 contacts, split across the tenants")
)

// seedHunts are the hunts of a config without hunts: the enabled built-in
// ones.
func seedHunts() []config.Hunt {
	var hs []config.Hunt
	for _, h := range config.Builtins() {
		if h.Enabled {
			hs = append(hs, h)
		}
	}
	return hs
}

// tenantTruth is, for each of the first n tenants, the hits ("Table|ReportId")
// a sweep over [start, end) must store: the tenant's planted contacts
// (World.TenantContacts) in a swept column with a fresh indicator. Ordinary
// events never touch a C2 server, so these are all the hits.
func tenantTruth(w *lab.World, e expectation, n int, start, end time.Time) []map[string]bool {
	swept := map[kql.Target]map[netip.Addr]bool{}
	for t, ips := range e.targets {
		swept[t] = map[netip.Addr]bool{}
		for _, ip := range ips {
			swept[t][ip] = true
		}
	}
	out := make([]map[string]bool, n)
	for i := range n {
		out[i] = map[string]bool{}
		for _, c := range w.TenantContacts(i) {
			if swept[kql.Target{Table: c.Table, Column: c.Column}][c.ServerIP] && !c.Time.Before(start) && c.Time.Before(end) {
				out[i][fmt.Sprintf("%s|%d", c.Table, c.ReportID)] = true
			}
		}
	}
	return out
}

// checkTargetHits fails unless each target stored exactly its tenant's
// hits; it returns the fewest hits of a target.
func checkTargetHits(tb testing.TB, what string, r sweepResult, tenants []int, truth []map[string]bool) int {
	tb.Helper()
	fewest := math.MaxInt
	for _, i := range tenants {
		name := benchTarget(i)
		got := map[string]bool{}
		for _, k := range r.TargetHits[name] {
			if got[k] {
				tb.Errorf("%s: target %s stored hit %s twice", what, name, k)
			}
			got[k] = true
		}
		var missing, invented []string
		for k := range truth[i] {
			if !got[k] {
				missing = append(missing, k)
			}
		}
		for k := range got {
			if !truth[i][k] {
				invented = append(invented, k)
			}
		}
		if len(missing)+len(invented) > 0 {
			tb.Errorf("%s: target %s: %d hits, tenant has %d; missing %d %.5q, invented %d %.5q",
				what, name, len(got), len(truth[i]), len(missing), missing, len(invented), invented)
		}
		fewest = min(fewest, len(got))
	}
	for name := range r.TargetHits {
		if !slices.ContainsFunc(tenants, func(i int) bool { return benchTarget(i) == name }) {
			tb.Errorf("%s: hits of target %q, which was not swept", what, name)
		}
	}
	return fewest
}

func BenchmarkTargets(b *testing.B) {
	interval, perMinute := 100*time.Millisecond, 450
	if *targetsReal {
		interval, perMinute = time.Second, 45
	}
	n := *targetsN
	if n < 1 || *targetsWindows <= 1 {
		b.Fatalf("-targets.n %d, -targets.windows %g: want at least 1 target and more than one window", n, *targetsWindows)
	}
	hunts := seedHunts()
	now := time.Now().UTC()
	world := sweepWorld(b, hunts, *targetsIndicators, *targetsEvents, *targetsContacts, now)
	g := newSweepRig(b, world, hunts, interval, perMinute, 0, n)
	e := expect(b, g.lab.World, hunts, now)
	// Every target sweeps every indicator: calls = ceil(indicators / MaxIPs)
	// per target, at most windows x perMinute.
	calls := int(*targetsWindows * float64(perMinute))
	queries := 0
	for _, ips := range e.targets {
		queries += len(ips)
	}
	g.maxIPs = max(1, (queries+calls-1)/calls)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	b.Logf("world: %d servers, %d banners, %d events, %d contacts, %d tenants; %d hunts, %d fresh indicators, %d a query; Shodan every %s, hunting %d calls/min a tenant",
		len(g.lab.World.Servers), len(g.lab.World.Banners), len(g.lab.World.Events), len(g.lab.World.Contacts), n, len(hunts), len(e.all), g.maxIPs, interval, perMinute)

	// sweep runs the targets of tenants in a client process and checks it
	// against the world.
	sweep := func(what string, tenants []int) (sweepResult, int, int) {
		c := g.client(b.TempDir())
		c.Tenants = tenants
		before := g.lab.Calls()["shodan"]
		r := runClientProcess(b, c)
		shodanSeen := g.lab.Calls()["shodan"] - before
		if r.ShodanCalls != shodanSeen {
			b.Errorf("%s: the summary counts %d Shodan calls, the lab answered %d", what, r.ShodanCalls, shodanSeen)
		}
		g.check(b, e, r)
		lookback := 30 * 24 * time.Hour
		start, end := r.Started.Add(-lookback), r.Started.Add(time.Hour)
		truth := tenantTruth(g.lab.World, e, n, start, end)
		total := 0
		for _, t := range truth {
			total += len(t)
		}
		if want := e.hits(g.lab.World, start, end); total != want || total == 0 {
			b.Fatalf("the tenants' contacts give %d hits, the world's events %d", total, want)
		}
		fewest := checkTargetHits(b, what, r, tenants, truth)
		for _, ts := range r.Sum.Targets {
			if ts.Outcome != "ok" || ts.Calls != ts.Queries {
				b.Errorf("%s: target %s: %s, %d calls for %d queries (%s)", what, ts.Name, ts.Outcome, ts.Calls, ts.Queries, ts.Error)
			}
		}
		if r.Throttled > 0 {
			b.Errorf("%s: %d 429s: the sweep went faster than the limits allow", what, r.Throttled)
		}
		t := r.Sum.Timing
		b.Logf("%s: wall %.2fs, floor %.2fs (shodan %.2fs, hunting %.2fs, output %.2fs), %d pages, %d Shodan calls, %d hunting calls (%d the slowest target), %d hits (%d the fewest of a target), %d 429s; client: max RSS %.1f MB, heap in use %.1f MB, live %.1f MB",
			what, r.Wall.Seconds(), g.floor(r).Seconds(), t.ShodanSec, t.HuntingSec, t.OutputSec, r.Pages, r.ShodanCalls, r.Calls, r.SlowestCalls,
			r.Sum.Totals.Hits, fewest, r.Throttled, float64(r.MaxRSS)/(1<<20), float64(r.HeapPeak)/(1<<20), float64(r.LivePeak)/(1<<20))
		return r, shodanSeen, fewest
	}
	// quiet waits, timer stopped, until the lab's per-tenant windows have
	// forgotten a run that ended at end.
	quiet := func(end time.Time) {
		b.StopTimer()
		time.Sleep(time.Until(end.Add(time.Minute + time.Second)))
		b.StartTimer()
	}

	var one, many sweepResult
	var wallOne, floorOne, wallMany, floorMany time.Duration
	var peak, live, rss uint64
	throttled, fewest := 0, math.MaxInt
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			quiet(many.Started.Add(many.Wall))
		}
		var shodanOne, shodanMany, f int
		one, shodanOne, _ = sweep("one target", []int{0})
		quiet(one.Started.Add(one.Wall))
		many, shodanMany, f = sweep(fmt.Sprintf("%d targets", n), all)
		b.StopTimer()
		if shodanMany != shodanOne || many.ShodanCalls != one.ShodanCalls {
			b.Errorf("%d targets made %d Shodan calls (the lab saw %d), one target %d (the lab saw %d): want one collection",
				n, many.ShodanCalls, shodanMany, one.ShodanCalls, shodanOne)
		}
		if len(many.Sum.Targets) != n {
			b.Errorf("%d target summaries, want %d", len(many.Sum.Targets), n)
		}
		wallOne += one.Wall
		floorOne += g.floor(one)
		wallMany += many.Wall
		floorMany += g.floor(many)
		throttled += one.Throttled + many.Throttled
		fewest = min(fewest, f)
		peak, live, rss = max(peak, many.HeapPeak), max(live, many.LivePeak), max(rss, many.MaxRSS)
		b.StartTimer()
	}
	b.StopTimer()
	runtime.GC()
	nf := float64(b.N)
	b.ReportMetric(wallMany.Seconds()/nf, "wall-s")
	b.ReportMetric(floorMany.Seconds()/nf, "floor-s")
	b.ReportMetric(wallMany.Seconds()/floorMany.Seconds(), "wall/floor")
	b.ReportMetric(wallOne.Seconds()/floorOne.Seconds(), "wall/floor-one")
	b.ReportMetric(float64(one.ShodanCalls), "shodan-calls-one")
	b.ReportMetric(float64(many.ShodanCalls), "shodan-calls")
	b.ReportMetric(float64(many.SlowestCalls), "calls/target")
	b.ReportMetric(float64(many.Calls), "hunting-calls")
	b.ReportMetric(float64(throttled)/nf, "429s")
	b.ReportMetric(float64(many.Sum.Totals.Hits), "hits")
	b.ReportMetric(float64(fewest), "hits-fewest-target")
	b.ReportMetric(float64(rss)/(1<<20), "MB-client-maxrss")
	b.ReportMetric(float64(peak)/(1<<20), "MB-heap-peak")
	b.ReportMetric(float64(live)/(1<<20), "MB-live-peak")
}
