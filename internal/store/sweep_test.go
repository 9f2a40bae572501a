package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

func newStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), opts)
	mustLock(t, s)
	return s
}

var (
	ipA  = netip.MustParseAddr("198.51.100.7")
	ipB  = netip.MustParseAddr("2001:db8::c2")
	ipC  = netip.MustParseAddr("192.0.2.44")
	tgt  = "DeviceNetworkEvents.RemoteIP"
	tgt2 = "DeviceLogonEvents.RemoteIP"
)

func TestIncrementalWindows(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	run := mustRun(t, s)
	ips := []netip.Addr{ipA, ipB}

	last, err := s.LastSwept(ctx, tgt, ips)
	if err != nil || len(last) != 0 {
		t.Fatalf("fresh store: %v %v; want nothing swept", last, err)
	}
	end1 := t0.Add(-time.Minute)
	hits := []indicator.Hit{
		testHit(ipA, "ws1", "11", t0.Add(-48*time.Hour), "CobaltStrikeJARM"),
		testHit(ipB, "ws2", "12", t0.Add(-2*time.Hour), "PoshC2", "CobaltStrikeJARM"),
	}
	fresh, err := s.CommitSweep(ctx, run, tgt, ips, end1, hits)
	if err != nil || len(fresh) != 2 {
		t.Fatalf("first commit: %d fresh, %v", len(fresh), err)
	}
	if fresh[0].ID == 0 || fresh[0].RunID != run || !fresh[0].FirstReported.Equal(t0) {
		t.Errorf("stored hit %+v", fresh[0])
	}
	// IPv4-mapped lookups find the IPv4 window, keyed as asked.
	mapped := netip.AddrFrom16(ipA.As16())
	last, err = s.LastSwept(ctx, tgt, []netip.Addr{ipA, ipB, ipC, mapped})
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 3 || !last[ipA].Equal(end1) || !last[ipB].Equal(end1) || !last[mapped].Equal(end1) {
		t.Errorf("after commit: %v", last)
	}
	if _, ok := last[ipC]; ok {
		t.Errorf("never-swept IP has a window")
	}
	if other, _ := s.LastSwept(ctx, tgt2, ips); len(other) != 0 {
		t.Errorf("windows leak across targets: %v", other)
	}

	// A failed sweep is not committed: a bad hit fails the whole commit
	// and nothing of it is kept.
	end2 := t0
	bad := append(slices.Clone(hits), indicator.Hit{Table: "DeviceNetworkEvents"}, testHit(ipC, "ws3", "13", t0, "EmpireC2"))
	if _, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA, ipB, ipC}, end2, bad); err == nil {
		t.Fatal("commit with an invalid hit succeeded")
	}
	last, _ = s.LastSwept(ctx, tgt, []netip.Addr{ipA, ipB, ipC})
	if len(last) != 2 || !last[ipA].Equal(end1) {
		t.Errorf("failed sweep moved windows: %v", last)
	}
	// A cancelled context is a failed sweep too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.CommitSweep(cctx, run, tgt, []netip.Addr{ipC}, end2, bad[3:]); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled commit: %v", err)
	}
	if all, _ := s.Hits(ctx, HitFilter{}); len(all) != 2 {
		t.Errorf("failed sweeps stored hits: %d", len(all))
	}

	// The same events again (next day's overlap) are not new; the window
	// moves on.
	run2 := mustRun(t, s)
	again := slices.Clone(hits)
	again[0].Hunts = []string{"CobaltStrikeJARM"}
	fresh, err = s.CommitSweep(ctx, run2, tgt, ips, end2, again)
	if err != nil || len(fresh) != 0 {
		t.Fatalf("re-commit: %d fresh, %v; want 0", len(fresh), err)
	}
	last, _ = s.LastSwept(ctx, tgt, ips)
	if !last[ipA].Equal(end2) {
		t.Errorf("window not moved: %v", last[ipA])
	}
	// An older end never moves a window back.
	if _, err := s.CommitSweep(ctx, run2, tgt, ips, end1, nil); err != nil {
		t.Fatal(err)
	}
	if last, _ = s.LastSwept(ctx, tgt, ips); !last[ipA].Equal(end2) {
		t.Errorf("window moved back to %v", last[ipA])
	}
	// A hit whose event differs only in time is a new event; duplicates
	// within one batch count once.
	h3 := testHit(ipA, "ws1", "11", t0.Add(-47*time.Hour), "CobaltStrikeJARM")
	fresh, err = s.CommitSweep(ctx, run2, tgt, ips, end2, []indicator.Hit{h3, h3})
	if err != nil || len(fresh) != 1 {
		t.Fatalf("new event: %d fresh, %v", len(fresh), err)
	}
	if got, _ := s.RunHits(ctx, run2); len(got) != 1 || got[0].ID != fresh[0].ID {
		t.Errorf("RunHits(run2) = %v", got)
	}
}

func TestCommitNeedsLockAndRun(t *testing.T) {
	ctx := context.Background()
	s := openT(t, filepath.Join(t.TempDir(), "state.db"), Options{})
	if _, err := s.BeginRun(ctx, RunInfo{}); !errors.Is(err, ErrNotLocked) {
		t.Errorf("BeginRun without lock: %v", err)
	}
	if _, err := s.CommitSweep(ctx, 1, tgt, nil, t0, nil); !errors.Is(err, ErrNotLocked) {
		t.Errorf("CommitSweep without lock: %v", err)
	}
	mustLock(t, s)
	// Hits must belong to a recorded run.
	if _, err := s.CommitSweep(ctx, 42, tgt, []netip.Addr{ipA}, t0, []indicator.Hit{testHit(ipA, "d", "1", t0, "x")}); err == nil {
		t.Error("commit for an unknown run succeeded")
	}
}

func TestHitsRoundTripAndFilters(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{KeepRows: true})
	run1 := mustRun(t, s)
	h1 := testHit(ipA, "WS1.corp", "1", t0.Add(-3*time.Hour), "CobaltStrikeJARM")
	h1.Row = map[string]any{"RemotePort": json.Number("443"), "Big": json.Number("19585926715947384000000000000000000000"), "DeviceName": "WS1.corp"}
	h2 := testHit(ipB, "ws2", "2", t0.Add(-2*time.Hour), "PoshC2")
	h2.Timestamp = h2.Timestamp.Add(123 * time.Nanosecond) // sub-microsecond precision kept
	if _, err := s.CommitSweep(ctx, run1, tgt, []netip.Addr{ipA, ipB}, t0, []indicator.Hit{h1, h2}); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.Add(24 * time.Hour) }
	run2 := mustRun(t, s)
	h3 := testHit(ipA, "ws3", "3", t0.Add(20*time.Hour), "PoshC2", "CobaltStrikeJARM")
	if _, err := s.CommitSweep(ctx, run2, tgt, []netip.Addr{ipA}, t0.Add(24*time.Hour), []indicator.Hit{h3}); err != nil {
		t.Fatal(err)
	}

	all, err := s.Hits(ctx, HitFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].ReportID != "3" || all[1].ReportID != "2" || all[2].ReportID != "1" {
		t.Fatalf("not newest first: %v", reports(all))
	}
	got := all[2]
	want1 := h1
	want1.Target = indicator.DefaultTarget // a hit without one is the default target's
	if got.Hit.Key() != want1.Key() || got.Account != h1.Account || got.Command != h1.Command || got.Port != 443 ||
		got.Column != "RemoteIP" || got.Row["Big"] != json.Number("19585926715947384000000000000000000000") {
		t.Errorf("round trip: %+v", got)
	}
	if !all[1].Timestamp.Equal(h2.Timestamp) {
		t.Errorf("timestamp precision lost: %v vs %v", all[1].Timestamp, h2.Timestamp)
	}
	for name, c := range map[string]struct {
		f    HitFilter
		want []string
	}{
		"hunt":           {HitFilter{Hunt: "CobaltStrikeJARM"}, []string{"3", "1"}},
		"device nocase":  {HitFilter{Device: "ws1.CORP"}, []string{"1"}},
		"since":          {HitFilter{Since: t0.Add(-150 * time.Minute)}, []string{"3", "2"}},
		"reported since": {HitFilter{ReportedSince: t0.Add(time.Hour)}, []string{"3"}},
		"new in run":     {HitFilter{NewInRun: run1}, []string{"2", "1"}},
		"limit":          {HitFilter{Limit: 1}, []string{"3"}},
		"combined":       {HitFilter{Hunt: "PoshC2", ReportedSince: t0, Since: t0.Add(-time.Hour)}, []string{"3"}},
	} {
		hs, err := s.Hits(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r := reports(hs); !slices.Equal(r, c.want) {
			t.Errorf("%s: %v, want %v", name, r, c.want)
		}
	}
}

func reports(hs []StoredHit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ReportID)
	}
	return out
}

// Every read a run or a command makes at scale is index-backed, before and
// after the planner has statistics (PRAGMA optimize runs at Close).
func TestQueryPlansUseIndexes(t *testing.T) {
	t.Run("empty", func(t *testing.T) { checkPlans(t, newStore(t, Options{})) })
	t.Run("analyzed", func(t *testing.T) {
		s := newStore(t, Options{AlertTargets: []string{"slack"}})
		for r := 0; r < 3; r++ {
			run := mustRun(t, s)
			ips, hits := crashBatch(r)
			if _, err := s.CommitSweep(context.Background(), run, tgt, ips, t0, hits); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.db.Exec("ANALYZE"); err != nil {
			t.Fatal(err)
		}
		checkPlans(t, s)
	})
}

func checkPlans(t *testing.T, s *Store) {
	plan := func(q string, args ...any) string {
		rows, err := s.db.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			rows.Scan(&id, &parent, &unused, &detail)
			lines = append(lines, detail)
		}
		return strings.Join(lines, "\n")
	}
	check := func(name, p string, want string) {
		t.Helper()
		for _, l := range strings.Split(p, "\n") {
			if strings.HasPrefix(l, "SCAN ") && !strings.Contains(l, "USING") && !strings.Contains(l, "json_each") {
				t.Errorf("%s: full scan %q in plan:\n%s", name, l, p)
			}
		}
		if !strings.Contains(p, want) {
			t.Errorf("%s: plan does not use %s:\n%s", name, want, p)
		}
	}
	for name, c := range map[string]struct {
		f    HitFilter
		want string
	}{
		"new hits since": {HitFilter{ReportedSince: t0}, "hits_reported"},
		"new in run":     {HitFilter{NewInRun: 3}, "hits_run"},
		"since":          {HitFilter{Since: t0}, "hits_ts"},
		"all newest":     {HitFilter{Limit: 50}, "hits_ts"},
		"device":         {HitFilter{Device: "ws1"}, "hits_device"},
		"hunt":           {HitFilter{Hunt: "PoshC2"}, "hit_hunts"},
		"run and since":  {HitFilter{NewInRun: 3, Since: t0, ReportedSince: t0}, "hits_run"},
		"target":         {HitFilter{Targets: []string{"contoso", "agency"}}, "hits_target"},
		"target and run": {HitFilter{Targets: []string{"contoso"}, NewInRun: 3}, "hits_run"},
	} {
		q, args := hitsQuery(c.f)
		check(name, plan(q, args...), c.want)
	}
	check("last swept", plan("SELECT ip, swept_to FROM sweep_windows WHERE target = ? AND ip IN (SELECT value FROM json_each(?))", tgt, `["1.2.3.4"]`), "PRIMARY KEY")
	check("pending alerts", plan("SELECT "+hitCols+` FROM alerts a INDEXED BY alerts_pending JOIN hits h ON h.id = a.hit_id
		WHERE a.target = ? AND a.delivered IS NULL ORDER BY a.hit_id LIMIT ?`, "slack", 10), "alerts_pending")
	check("event dedupe", plan("SELECT id FROM hits WHERE target = ? AND tbl = ? AND device_id = ? AND report_id = ? AND ts = ? AND ip = ?", "t", "a", "b", "c", 1, "d"), "hits_event")
}

// Several targets' queries commit in one transaction, each as CommitSweep
// would, all or nothing.
func TestCommitSweepsSharesOneTransaction(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	run := mustRun(t, s)
	a, b := indicator.WindowKey("contoso", tgt), indicator.WindowKey("fabrikam", tgt)
	ha := testHit(ipA, "ws1", "11", t0.Add(-time.Hour), "PoshC2")
	ha.Target = "contoso"
	hb := testHit(ipA, "ws1", "11", t0.Add(-time.Hour), "PoshC2")
	hb.Target = "fabrikam"
	end := t0.Add(-time.Minute)
	fresh, err := s.CommitSweeps(ctx, run, []Sweep{
		{Target: a, IPs: []netip.Addr{ipA}, End: end, Hits: []indicator.Hit{ha}},
		{Target: b, IPs: []netip.Addr{ipA, ipB}, End: end, Hits: []indicator.Hit{hb}},
		{Target: a, IPs: []netip.Addr{ipB}, End: end},
	})
	if err != nil || len(fresh) != 3 || len(fresh[0]) != 1 || len(fresh[1]) != 1 || len(fresh[2]) != 0 {
		t.Fatalf("commit: %v, %v", fresh, err)
	}
	if fresh[0][0].Target != "contoso" || fresh[1][0].Target != "fabrikam" || fresh[0][0].ID == fresh[1][0].ID {
		t.Errorf("new hits %+v", fresh)
	}
	for _, key := range []string{a, b} {
		last, err := s.LastSwept(ctx, key, []netip.Addr{ipA, ipB})
		if err != nil || len(last) != 2 || !last[ipA].Equal(end) || !last[ipB].Equal(end) {
			t.Errorf("%s: windows %v, %v", key, last, err)
		}
	}
	// One bad sweep: nothing of the batch is committed.
	c := indicator.WindowKey("northwind", tgt)
	if _, err := s.CommitSweeps(ctx, run, []Sweep{{Target: c, IPs: []netip.Addr{ipA}, End: end}, {IPs: []netip.Addr{ipB}, End: end}}); err == nil {
		t.Fatal("a sweep without a target was committed")
	}
	if last, err := s.LastSwept(ctx, c, []netip.Addr{ipA}); err != nil || len(last) != 0 {
		t.Errorf("a failed batch moved windows: %v, %v", last, err)
	}
}
