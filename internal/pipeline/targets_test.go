package pipeline_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/loganalyticslab"
	"c2sweep/internal/pipeline"
)

// sentinelHunter is a Log Analytics client of the lab's workspace.
func (l *ptLab) sentinelHunter(t testing.TB) hunting.Hunter {
	t.Helper()
	h, err := hunting.NewSentinel(hunting.Options{BaseURL: l.URL, Credential: l.credential(t), HTTPClient: l.client,
		Workspace: loganalyticslab.Workspace, Clock: noWait{clock.Real}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// sentinelSweep is every Table.Column the lab planted contacts in.
func sentinelSweep(l *ptLab) []kql.Target {
	var ts []kql.Target
	for _, c := range loganalyticslab.Of(l.Lab).Contacts {
		if t := (kql.Target{Table: c.Table, Column: c.Column}); !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	return ts
}

// sentinelTruth counts the planted rows per table and server that a sweep
// of ips over [start, end] must find.
func sentinelTruth(l *ptLab, ips []netip.Addr, start, end time.Time) map[string]int {
	want := map[string]int{}
	for _, c := range loganalyticslab.Of(l.Lab).Contacts {
		if slices.Contains(ips, c.ServerIP) && !c.Time.Before(start) && !c.Time.After(end) {
			want[c.Table+" "+c.ServerIP.String()]++
		}
	}
	return want
}

func sentinelGot(hs []indicator.Hit) map[string]int {
	got := map[string]int{}
	for _, h := range hs {
		got[h.Table+" "+h.IP.String()]++
	}
	return got
}

// Two targets are swept with the same indicators from one collection:
// each gets the full set of its hits, named after it, and its own
// windows, so the next run finds nothing new in either.
func TestRunSweepsEveryTargetWithItsOwnWindowsAndHits(t *testing.T) {
	now := time.Now().UTC()
	seed := pickSeed(t, now, e2eWorld)
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}})
	hunts := ptHunts()
	st := ptTempStore(t)
	sc := l.shodanClient(t, nil)
	targets := []pipeline.Target{
		{Name: "contoso", Backend: "graph", Hunter: l.hunter(t, "graph", nil)},
		{Name: "fabrikam", Backend: "mde", Hunter: l.hunter(t, "mde", nil)},
	}
	shodanBefore := l.Calls()["shodan"]
	p := &pipeline.Pipeline{Sources: viaShodan(sc), Targets: targets, Store: st}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts})
	if s.Outcome != pipeline.OutcomeHits {
		t.Fatal(ptDescribe(s))
	}
	shodanCalls := l.Calls()["shodan"] - shodanBefore
	want := truthAt(t, l.World, hunts, s.Started).allHits()
	byTarget := map[string][]indicator.Hit{}
	for _, h := range s.NewHits {
		byTarget[h.Target] = append(byTarget[h.Target], h)
	}
	for _, tg := range targets {
		checkHits(t, tg.Name, byTarget[tg.Name], want)
	}
	if len(s.Targets) != 2 {
		t.Fatalf("%d target summaries, want 2", len(s.Targets))
	}
	for _, ts := range s.Targets {
		if ts.Outcome != "ok" || ts.NewHits != len(want) || ts.Queries == 0 {
			t.Errorf("target %s: %+v, want ok with %d new hits", ts.Name, ts, len(want))
		}
	}
	for _, q := range s.Queries {
		if q.Target != "contoso" && q.Target != "fabrikam" {
			t.Errorf("query of target %q", q.Target)
		}
	}
	ips := truthAt(t, l.World, hunts, s.Started).ips(dne)
	for _, name := range []string{"contoso", "fabrikam"} {
		last, err := st.LastSwept(context.Background(), indicator.WindowKey(name, dne.String()), ips)
		if err != nil {
			t.Fatal(err)
		}
		if len(last) != len(ips) {
			t.Errorf("target %s: %d of %d indicators have a window", name, len(last), len(ips))
		}
	}

	s2 := ptRun(t, &pipeline.Pipeline{Sources: viaShodan(sc), Targets: targets, Store: st}, pipeline.Options{Hunts: hunts})
	if s2.Outcome != pipeline.OutcomeNoHits || s2.Totals.NewHits != 0 {
		t.Errorf("second run: %s", ptDescribe(s2))
	}
	// One collection per run, however many targets.
	single := ptRun(t, &pipeline.Pipeline{Sources: viaShodan(sc), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}, pipeline.Options{Hunts: hunts})
	if single.Totals.ShodanCalls != s.Totals.ShodanCalls || shodanCalls != s.Totals.ShodanCalls {
		t.Errorf("two targets made %d Shodan calls (lab saw %d), one target %d", s.Totals.ShodanCalls, shodanCalls, single.Totals.ShodanCalls)
	}
}

// A target whose sign-in is refused fails alone, before any Shodan
// credit is spent; the others are swept and the run is partial.
func TestRunTargetThatCannotSignInFailsAlone(t *testing.T) {
	now := time.Now().UTC()
	seed := pickSeed(t, now, e2eWorld)
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}})
	hunts := ptHunts()
	bad := l.hunter(t, "graph", func(o *hunting.Options) {
		cred, err := hunting.NewCredential(l.auth("not-the-secret"))
		if err != nil {
			t.Fatal(err)
		}
		o.Credential = cred
	})
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Store: ptTempStore(t), Targets: []pipeline.Target{
		{Name: "broken", Backend: "graph", Hunter: bad},
		{Name: "good", Backend: "graph", Hunter: l.hunter(t, "graph", nil)},
	}}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts})
	if s.Outcome != pipeline.OutcomePartial {
		t.Fatalf("outcome %s, want partial: %s", s.Outcome, ptDescribe(s))
	}
	if b := s.Targets[0]; b.Outcome != "failed" || !strings.Contains(b.Error, "AADSTS7000215") || b.Queries != 0 {
		t.Errorf("broken target: %+v", b)
	}
	if g := s.Targets[1]; g.Outcome != "ok" || g.NewHits == 0 {
		t.Errorf("good target: %+v", g)
	}
	if !slices.ContainsFunc(s.Errors, func(e string) bool { return strings.HasPrefix(e, "target broken: ") }) {
		t.Errorf("errors do not name the target: %q", s.Errors)
	}
	for _, h := range s.NewHits {
		if h.Target != "good" {
			t.Fatalf("hit of target %q", h.Target)
		}
	}

	// Every target refused: the run cannot run, and spends no credit.
	before := l.Calls()["shodan"]
	p = &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Store: ptTempStore(t), Targets: []pipeline.Target{{Name: "broken", Backend: "graph", Hunter: bad}}}
	if _, err := p.Run(context.Background(), pipeline.Options{Hunts: hunts}); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("every target refused: error %v", err)
	}
	if n := l.Calls()["shodan"] - before; n != 0 {
		t.Errorf("%d Shodan calls after every sign-in failed", n)
	}
}

// A Sentinel target finds the planted firewall, VM, sign-in, Office and
// IIS rows; an answer cut with a PartialError is split, never committed.
func TestRunSentinelTargetFindsThePlantedRows(t *testing.T) {
	now := time.Now().UTC()
	seed := pickSeed(t, now, e2eWorld)
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}})
	hunts := ptHunts()
	// Two rows at most an answer: every query with more is cut and split.
	loganalyticslab.Of(l.Lab).SetLimits(2, 0)
	target := pipeline.Target{Name: "contoso-sentinel", Backend: "sentinel", Catalog: "sentinel", MaxRows: hunting.SentinelMaxRows,
		Hunter: l.sentinelHunter(t), Sweep: sentinelSweep(l)}
	st := ptTempStore(t)
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Targets: []pipeline.Target{target}, Store: st}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts})
	tr := truthAt(t, l.World, hunts, s.Started)
	want := sentinelTruth(l, tr.allIPs(), s.Started.Add(-ptLookback), s.Started)
	if len(want) == 0 {
		t.Fatal("the lab planted no Sentinel rows for this world's indicators")
	}
	got := sentinelGot(s.NewHits)
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d hits, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if want[k] == 0 {
			t.Errorf("%s: %d hits, want none", k, n)
		}
	}
	split := 0
	for _, q := range s.Queries {
		if q.Split {
			split++
		}
		if q.Rows > 2 && q.Error == "" {
			t.Errorf("a cut answer of %d rows was kept", q.Rows)
		}
	}
	if split == 0 {
		t.Error("no query was split after a PartialError")
	}
	for _, h := range s.NewHits {
		if h.Target != "contoso-sentinel" || h.ReportID == "" {
			t.Errorf("hit %+v: want its target and the row's _ItemId", h)
		}
	}
}

// An empty workspace answers 204: no rows, not an error.
func TestRunSentinelEmptyWorkspaceIsNoRows(t *testing.T) {
	now := time.Now().UTC()
	seed := pickSeed(t, now, e2eWorld)
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}})
	h, err := hunting.NewSentinel(hunting.Options{BaseURL: l.URL, Credential: l.credential(t), HTTPClient: l.client,
		Workspace: loganalyticslab.EmptyWorkspace, Clock: noWait{clock.Real}})
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Store: ptTempStore(t),
		Targets: []pipeline.Target{{Name: "empty", Backend: "sentinel", Catalog: "sentinel", Hunter: h, Sweep: sentinelSweep(l)}}}
	s := ptRun(t, p, pipeline.Options{Hunts: ptHunts()})
	if s.Outcome != pipeline.OutcomeNoHits || s.Totals.QueriesFailed != 0 || s.Totals.Queries == 0 {
		t.Errorf("empty workspace: %s", ptDescribe(s))
	}
}

// tenantHunter is a Graph client of the lab signed in to tenant i's app
// with a credential and limiter of its own.
func (l *ptLab) tenantHunter(t testing.TB, i int) hunting.Hunter {
	t.Helper()
	tn := l.Creds.Tenants[i]
	return l.hunter(t, "graph", func(o *hunting.Options) {
		a := l.auth(tn.ClientSecret)
		a.TenantID, a.ClientID = tn.TenantID, tn.ClientID
		cred, err := hunting.NewCredential(a)
		if err != nil {
			t.Fatal(err)
		}
		o.Credential = cred
	})
}

// tenantHits splits wanted hits by the tenant of the event's device.
func tenantHits(w *lab.World, wanted map[string]wantHit, tenants int) []map[string]wantHit {
	out := make([]map[string]wantHit, tenants)
	for i := range out {
		out[i] = map[string]wantHit{}
	}
	for k, h := range wanted {
		out[int(h.E.Device)%tenants][k] = h
	}
	return out
}

// Three targets, each a tenant of the lab with its own app: each finds
// exactly its tenant's hits, and the indicators are collected once.
func TestRunTargetsOfThreeTenants(t *testing.T) {
	const tenants = 3
	now := time.Now().UTC()
	hunts := ptHunts()
	seed := pickSeed(t, now, func(w *lab.World) bool {
		for _, hs := range tenantHits(w, truthAt(t, w, hunts, now).allHits(), tenants) {
			if len(hs) == 0 {
				return false
			}
		}
		return true
	})
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}, Tenants: tenants})
	var targets []pipeline.Target
	for i := range tenants {
		targets = append(targets, pipeline.Target{Name: fmt.Sprintf("tenant%d", i), Backend: "graph", Hunter: l.tenantHunter(t, i)})
	}
	before := l.Calls()["shodan"]
	s := ptRun(t, &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Targets: targets, Store: ptTempStore(t)}, pipeline.Options{Hunts: hunts})
	if s.Outcome != pipeline.OutcomeHits {
		t.Fatal(ptDescribe(s))
	}
	// One collection: as many Shodan calls as a run of one target.
	n := l.Calls()["shodan"] - before
	before = l.Calls()["shodan"]
	ptRun(t, &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Targets: targets[:1], Store: ptTempStore(t)}, pipeline.Options{Hunts: hunts})
	if one := l.Calls()["shodan"] - before; n != s.Totals.ShodanCalls || n != one {
		t.Errorf("three targets: the lab answered %d Shodan calls, the summary counts %d; one target: %d", n, s.Totals.ShodanCalls, one)
	}
	want := tenantHits(l.World, truthAt(t, l.World, hunts, s.Started).allHits(), tenants)
	byTarget := map[string][]indicator.Hit{}
	for _, h := range s.NewHits {
		byTarget[h.Target] = append(byTarget[h.Target], h)
	}
	for i, tg := range targets {
		checkHits(t, tg.Name, byTarget[tg.Name], want[i])
		// The lab's own account of the tenant agrees.
		contacts := 0
		for _, c := range l.World.TenantContacts(i) {
			if _, ok := want[i][fmt.Sprintf("%s|%d", c.Table, c.ReportID)]; ok {
				contacts++
			}
		}
		if contacts != len(want[i]) {
			t.Errorf("target %s: %d of its %d hits are its tenant's contacts", tg.Name, contacts, len(want[i]))
		}
		if ts := s.Targets[i]; ts.Name != tg.Name || ts.Outcome != "ok" || ts.NewHits != len(want[i]) {
			t.Errorf("target %s: %+v, want ok with %d new hits", tg.Name, ts, len(want[i]))
		}
	}
}
