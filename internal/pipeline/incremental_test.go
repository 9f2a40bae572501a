package pipeline_test

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"testing"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/store"
)

// withheldHunt names a hunt whose exclusive fresh indicators (named by no
// other hunt) had a contact within the lookback, while the other hunts
// still have several contacts: leaving it out of the first runs makes its
// indicators new later. "" when the world has none.
func withheldHunt(t testing.TB, w *lab.World, hunts []config.Hunt, now time.Time) string {
	tr := truthAt(t, w, hunts, now)
	for _, h := range hunts {
		others := map[netip.Addr]bool{}
		for _, o := range hunts {
			if o.Name != h.Name {
				for ip := range tr.fresh[o.Name] {
					others[ip] = true
				}
			}
		}
		own, rest := 0, 0
		for _, c := range w.Contacts {
			if c.Table != dne.Table || c.Old || c.Time.Before(now.Add(-ptLookback)) {
				continue
			}
			switch {
			case others[c.ServerIP]:
				rest++
			case tr.fresh[h.Name][c.ServerIP]:
				own++
			}
		}
		if own > 0 && rest >= 2 {
			return h.Name
		}
	}
	return ""
}

// failFirst fails the hunter's first call with an error of its own, as a
// query that fails for a reason the client does not retry.
type failFirst struct {
	hunting.Hunter
	calls  int
	failed []string // texts of the failed queries
}

func (f *failFirst) Hunt(ctx context.Context, req hunting.Request, schema func([]hunting.Column) error, row func(hunting.Row) error) (hunting.Stats, error) {
	f.calls++
	if f.calls == 1 {
		f.failed = append(f.failed, req.Query)
		return hunting.Stats{Attempts: 1}, errors.New("simulated hunting failure")
	}
	return f.Hunter.Hunt(ctx, req, schema, row)
}

var quotedLiteral = regexp.MustCompile(`"([^"]*)"`)

// queryIPs are the indicator addresses a query text names, unmapped.
func queryIPs(text string) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, m := range quotedLiteral.FindAllStringSubmatch(text, -1) {
		if ip, err := netip.ParseAddr(m[1]); err == nil {
			out[ip.Unmap()] = true
		}
	}
	return out
}

// windows sums the indicators of a run's queries by window start, checking
// that every query ends at the run's start and succeeded.
func windows(t *testing.T, run string, s *pipeline.Summary) map[time.Time]int {
	t.Helper()
	out := map[time.Time]int{}
	end := s.Started.Truncate(ptTick)
	for _, q := range s.Queries {
		if !q.End.Equal(end) {
			t.Errorf("%s: query window ends %s, want the run's start %s", run, q.End, end)
		}
		out[q.Start] += q.IPs
	}
	return out
}

func checkWindows(t *testing.T, run string, s *pipeline.Summary, want map[time.Time]int) {
	t.Helper()
	got := windows(t, run, s)
	for start, n := range want {
		if n == 0 {
			delete(want, start)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: windows %v, want %v", run, got, want)
		return
	}
	for start, n := range want {
		if got[start] != n {
			t.Errorf("%s: %d indicators from %s, want %d (windows %v)", run, got[start], start, n, got)
		}
	}
}

// Incremental sweeps (issue 4): a second run on the same state reports
// nothing new and reads only from the first run's end (minus the overlap);
// telemetry logged after a run is found by the next, alone; a new
// indicator gets the full lookback; a failed query moves nothing forward.
//
// Time is the lab's and the pipeline's shared clock. The world's
// telemetry is fixed at T0; a run at R < T0 sees only events before R (the
// APIs cap the window at their now), so moving the clock forward makes
// events "arrive" between runs.
func TestRunIncrementalSweeps(t *testing.T) {
	t0 := time.Now().UTC()
	hunts := ptHunts()
	seed := pickSeed(t, t0, func(w *lab.World) bool { return withheldHunt(t, w, hunts, t0) != "" })
	clk := &ptClock{}
	world := lab.WorldConfig{Seed: seed, Now: t0}
	l := ptStartLab(t, lab.Options{World: world, Now: clk.Now})
	withheld := withheldHunt(t, l.World, hunts, t0)
	var first []config.Hunt // every hunt but the withheld one
	for _, h := range hunts {
		if h.Name != withheld {
			first = append(first, h)
		}
	}

	// R1 is just before the latest event the first hunts can find.
	probe := truthAt(t, l.World, first, t0)
	var late lab.Event
	for _, w := range probe.hits(dne, probe.ips(dne), t0.Add(-ptLookback), t0) {
		if w.E.Time.After(late.Time) {
			late = w.E
		}
	}
	r1 := late.Time.Add(-10 * time.Minute)
	for _, c := range l.World.Contacts {
		if c.Time.After(r1) && !c.Time.After(r1.Add(5*time.Minute)) {
			t.Fatalf("precondition: a contact at %s lies between the first two runs", c.Time)
		}
	}

	st := ptTempStore(t)
	sc := l.shodanClient(t, nil)
	run := func(at time.Time, hs []config.Hunt, h hunting.Hunter, lim kql.Limits) *pipeline.Summary {
		t.Helper()
		clk.Set(at)
		p := &pipeline.Pipeline{Sources: viaShodan(sc), Hunter: h, Store: st, Clock: clk}
		return ptRun(t, p, pipeline.Options{Hunts: hs, API: "graph", Limits: lim})
	}
	reported := map[string]bool{}
	report := func(s *pipeline.Summary) {
		for _, h := range s.NewHits {
			reported[hitKey(h)] = true
		}
	}

	// Run 1: the full lookback; the late event has not happened yet.
	s1 := run(r1, first, l.hunter(t, "graph", nil), kql.Limits{})
	tr1 := truthAt(t, l.World, first, s1.Started)
	want1 := tr1.allHits()
	if _, early := want1[eventKey(late)]; len(want1) == 0 || early {
		t.Fatalf("precondition: run 1 should find hits, and not the late event (%d hits)", len(want1))
	}
	checkHits(t, "run 1", s1.NewHits, want1)
	checkWindows(t, "run 1", s1, map[time.Time]int{s1.Started.Add(-ptLookback).Truncate(ptTick): len(tr1.ips(dne))})
	report(s1)
	end1 := s1.Started.Truncate(ptTick)

	// Run 2, minutes later on the same world and state: nothing new, and
	// it reads only from run 1's end minus the overlap.
	s2 := run(s1.Started.Add(5*time.Minute), first, l.hunter(t, "graph", nil), kql.Limits{})
	if s2.Outcome != pipeline.OutcomeNoHits || s2.Totals.NewHits != 0 || len(s2.NewHits) != 0 {
		t.Errorf("run 2: %s, %d new hits listed; want none", ptDescribe(s2), len(s2.NewHits))
	}
	tr2 := truthAt(t, l.World, first, s2.Started)
	checkWindows(t, "run 2", s2, map[time.Time]int{end1.Add(-ptOverlap): len(tr2.ips(dne))})
	if n := len(tr2.hits(dne, tr2.ips(dne), end1.Add(-ptOverlap), s2.Started)); s2.Totals.Hits != n {
		t.Errorf("run 2 saw %d hits in its window, want %d (re-read, not new)", s2.Totals.Hits, n)
	}
	end2 := s2.Started.Truncate(ptTick)

	// Run 3, after T0, with every hunt: the late event is the one new hit
	// of the known indicators, read from run 2's end; the withheld hunt's
	// indicators are new and get the full lookback.
	s3 := run(t0.Add(time.Minute), hunts, l.hunter(t, "graph", nil), kql.Limits{})
	tr3 := truthAt(t, l.World, hunts, s3.Started)
	swept := map[netip.Addr]bool{}
	for _, ip := range append(tr1.ips(dne), tr2.ips(dne)...) {
		swept[ip] = true
	}
	var known, fresh []netip.Addr
	for _, ip := range tr3.ips(dne) {
		if swept[ip] {
			known = append(known, ip)
		} else {
			fresh = append(fresh, ip)
		}
	}
	newIPHits := tr3.hits(dne, fresh, s3.Started.Add(-ptLookback), s3.Started)
	if len(fresh) == 0 || len(newIPHits) == 0 {
		t.Fatalf("precondition: hunt %s should bring new indicators with hits (%d indicators, %d hits)", withheld, len(fresh), len(newIPHits))
	}
	window3 := tr3.hits(dne, known, end2.Add(-ptOverlap), s3.Started)
	knownNew := ptMinus(window3, reported)
	if _, ok := knownNew[eventKey(late)]; !ok || len(knownNew) != len(tr3.hits(dne, known, end2, s3.Started)) {
		t.Fatalf("precondition: the late event should be new in run 3 (%d new from known indicators)", len(knownNew))
	}
	for k, w := range newIPHits {
		window3[k] = w
	}
	checkHits(t, "run 3", s3.NewHits, ptMinus(window3, reported))
	if s3.Totals.Hits != len(window3) {
		t.Errorf("run 3 saw %d hits in its windows, want %d", s3.Totals.Hits, len(window3))
	}
	checkWindows(t, "run 3", s3, map[time.Time]int{
		end2.Add(-ptOverlap):                         len(known),
		s3.Started.Add(-ptLookback).Truncate(ptTick): len(fresh),
	})
	report(s3)
	end3 := s3.Started.Truncate(ptTick)
	allIPs := tr3.ips(dne)

	// Run 4: the hunting API answers 5xx to every call. The run fails and
	// nothing moves forward.
	bad := ptStartLab(t, lab.Options{World: world, Now: clk.Now, Faults: lab.Faults{Rate5xx: 1, Only: "graph"}})
	s4 := run(s3.Started.Add(2*time.Hour), hunts, bad.hunter(t, "graph", func(o *hunting.Options) { o.MaxRetries = 2 }), kql.Limits{})
	if s4.Outcome != pipeline.OutcomeFailed || s4.Totals.Queries == 0 || s4.Totals.QueriesFailed != s4.Totals.Queries || len(s4.NewHits) != 0 {
		t.Errorf("run 4: %s", ptDescribe(s4))
	}
	if got, want := bad.Calls()["graph"], 3*s4.Totals.Queries; got != want {
		t.Errorf("run 4: %d calls to the failing API, want %d (3 attempts a query)", got, want)
	}
	last, err := st.LastSwept(context.Background(), indicator.WindowKey(indicator.DefaultTarget, dne.String()), allIPs)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range allIPs {
		if !last[ip].Equal(end3) {
			t.Errorf("after the failed run, %s was last swept to %s, want %s", ip, last[ip], end3)
		}
	}
	runs, err := st.Runs(context.Background(), 1)
	if err != nil || len(runs) != 1 || runs[0].Outcome != store.OutcomeFailed {
		t.Errorf("the failed run is recorded as %+v (%v)", runs, err)
	}

	// Run 5 covers the gap: every indicator is read from run 3's end. One
	// of its queries fails (an error the client does not retry): only the
	// indicators of the others move forward.
	ff := &failFirst{Hunter: l.hunter(t, "graph", nil)}
	s5 := run(s4.Started.Add(time.Hour), hunts, ff, kql.Limits{MaxIPs: 8})
	checkWindows(t, "run 5", s5, map[time.Time]int{end3.Add(-ptOverlap): len(allIPs)})
	if s5.Outcome != pipeline.OutcomePartial || s5.Totals.QueriesFailed != 1 || len(s5.Queries) < 2 || len(ff.failed) != 1 {
		t.Fatalf("run 5: %s, %d queries", ptDescribe(s5), len(s5.Queries))
	}
	tr5 := truthAt(t, l.World, hunts, s5.Started)
	failedIPs := queryIPs(ff.failed[0])
	var okIPs []netip.Addr
	for _, ip := range allIPs {
		if !failedIPs[ip] {
			okIPs = append(okIPs, ip)
		}
	}
	checkHits(t, "run 5", s5.NewHits, ptMinus(tr5.hits(dne, okIPs, end3.Add(-ptOverlap), s5.Started), reported))
	report(s5)
	end5 := s5.Started.Truncate(ptTick)
	if last, err = st.LastSwept(context.Background(), indicator.WindowKey(indicator.DefaultTarget, dne.String()), allIPs); err != nil {
		t.Fatal(err)
	}
	for _, ip := range allIPs {
		want := end5
		if failedIPs[ip] {
			want = end3
		}
		if !last[ip].Equal(want) {
			t.Errorf("after run 5, %s (failed query: %v) was last swept to %s, want %s", ip, failedIPs[ip], last[ip], want)
		}
	}

	// Run 6: the failed query's indicators are read from run 3's end, the
	// others from run 5's.
	s6 := run(s5.Started.Add(time.Hour), hunts, l.hunter(t, "graph", nil), kql.Limits{})
	checkWindows(t, "run 6", s6, map[time.Time]int{
		end3.Add(-ptOverlap): len(failedIPs),
		end5.Add(-ptOverlap): len(allIPs) - len(failedIPs),
	})
	tr6 := truthAt(t, l.World, hunts, s6.Started)
	window6 := tr6.hits(dne, okIPs, end5.Add(-ptOverlap), s6.Started)
	for k, w := range tr6.hits(dne, sortedAddrs(failedIPs), end3.Add(-ptOverlap), s6.Started) {
		window6[k] = w
	}
	checkHits(t, "run 6", s6.NewHits, ptMinus(window6, reported))
	if s6.Totals.Hits != len(window6) || len(s6.Errors) != 0 {
		t.Errorf("run 6: %s; want %d hits in its windows", ptDescribe(s6), len(window6))
	}

	// Across all runs, every event the windows covered was reported once.
	all, err := st.Hits(context.Background(), store.HitFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, h := range all {
		stored = append(stored, hitKey(h.Hit))
	}
	slices.Sort(stored)
	var keys []string
	for k := range reported {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(stored, keys) {
		t.Errorf("the state holds hits %v\nreported %v", stored, keys)
	}
}
