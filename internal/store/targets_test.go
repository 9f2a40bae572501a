package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

// stateAtVersion writes a state database with the schema up to version v
// (the embedded migrations 1..v), as an older c2sweep left it.
func stateAtVersion(t *testing.T, path string, v int) *sql.DB {
	t.Helper()
	db := rawDB(t, path)
	for _, m := range migrations()[:v] {
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", v, appID)); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMigrateToTargets(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := stateAtVersion(t, path, 5)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO runs (id, started, finished, command, outcome, indicators, hits) VALUES (1, ?, ?, 'run', 'ok', 2, 1)`,
		ns(t0.Add(-time.Hour)), ns(t0))
	exec(`INSERT INTO sweep_windows (target, ip, first_swept, swept_to, run_id) VALUES
		('DeviceNetworkEvents.RemoteIP', ?1, ?3, ?3, 1), ('DeviceNetworkEvents.RemoteIP', ?2, ?3, ?3, 1),
		('DeviceLogonEvents.RemoteIP', ?1, ?3, ?3, 1), ('contoso/DeviceNetworkEvents.RemoteIP', ?1, ?4, ?4, 1)`,
		ipA.String(), ipB.String(), ns(t0), ns(t0.Add(time.Minute)))
	h := testHit(ipA, "ws1", "11", t0.Add(-2*time.Hour), "CobaltStrikeJARM")
	exec(`INSERT INTO hits (id, tbl, col, ip, ts, device_id, device, account, port, action, process, command, report_id,
		hunts, run_id, first_reported, triage) VALUES (7, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '["CobaltStrikeJARM"]', 1, ?, 'investigating')`,
		h.Table, h.Column, ipA.String(), ns(h.Timestamp), h.DeviceID, h.Device, h.Account, h.Port, h.Action, h.Process,
		h.Command, h.ReportID, ns(t0))
	exec(`INSERT INTO hit_hunts (hunt, hit_id) VALUES ('CobaltStrikeJARM', 7)`)
	exec(`INSERT INTO suppressions (kind, value, reason, by, created) VALUES ('pair', 'ws1 192.0.2.44', 'lab', 'me', 1)`)
	db.Close()

	s := openT(t, path, Options{})
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	// Windows: the old keys are the default target's; a key naming its
	// target stays.
	for key, want := range map[string]map[netip.Addr]time.Time{
		indicator.WindowKey(indicator.DefaultTarget, "DeviceNetworkEvents.RemoteIP"): {ipA: t0, ipB: t0},
		indicator.WindowKey("", "DeviceLogonEvents.RemoteIP"):                        {ipA: t0},
		indicator.WindowKey("contoso", "DeviceNetworkEvents.RemoteIP"):               {ipA: t0.Add(time.Minute)},
		"DeviceNetworkEvents.RemoteIP":                                               {ipA: t0, ipB: t0}, // a bare key is the default's
	} {
		got, err := s.LastSwept(ctx, key, []netip.Addr{ipA, ipB})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: windows %v, want %v", key, got, want)
		}
		for ip, w := range want {
			if !got[ip].Equal(w) {
				t.Errorf("%s %s: %v, want %v", key, ip, got[ip], w)
			}
		}
	}
	// The hit is kept, with its triage, as the default target's.
	hits, err := s.Hits(ctx, HitFilter{})
	if err != nil || len(hits) != 1 {
		t.Fatalf("hits %v %v", hits, err)
	}
	if got := hits[0]; got.ID != 7 || got.Target != indicator.DefaultTarget || got.Triage != "investigating" ||
		got.Device != "ws1" || !slices.Equal(got.Hunts, []string{"CobaltStrikeJARM"}) {
		t.Errorf("migrated hit %+v", got)
	}
	runs, err := s.ListRuns(ctx, RunFilter{Targets: []string{"DEFAULT"}})
	if err != nil || len(runs) != 1 || runs[0].Targets != nil || !slices.Equal(runs[0].TargetNames(), []string{"default"}) {
		t.Fatalf("old run by target default: %+v %v", runs, err)
	}
	if sps, err := s.Suppressions(ctx); err != nil || len(sps) != 1 {
		t.Errorf("suppressions %v %v", sps, err)
	}

	// The same event in another target is a new hit; in the default
	// target (named or implicit) it is known.
	mustLock(t, s)
	run := mustRun(t, s)
	again := h
	fresh, err := s.CommitSweep(ctx, run, indicator.WindowKey("", h.Table+"."+h.Column), []netip.Addr{ipA}, t0, []indicator.Hit{again})
	if err != nil || len(fresh) != 0 {
		t.Fatalf("implicit default target: %d fresh, %v; want the event known", len(fresh), err)
	}
	again.Target = indicator.DefaultTarget
	if fresh, err = s.CommitSweep(ctx, run, indicator.WindowKey("", h.Table+"."+h.Column), []netip.Addr{ipA}, t0, []indicator.Hit{again}); err != nil || len(fresh) != 0 {
		t.Fatalf("named default target: %d fresh, %v; want the event known", len(fresh), err)
	}
	again.Target = "contoso"
	fresh, err = s.CommitSweep(ctx, run, indicator.WindowKey("contoso", h.Table+"."+h.Column), []netip.Addr{ipA}, t0, []indicator.Hit{again})
	if err != nil || len(fresh) != 1 || fresh[0].Target != "contoso" {
		t.Fatalf("other target: %+v, %v; want one new hit of contoso", fresh, err)
	}
	// Target names compare ignoring case.
	again.Target = "Contoso"
	if fresh, err = s.CommitSweep(ctx, run, indicator.WindowKey("Contoso", h.Table+"."+h.Column), []netip.Addr{ipA}, t0, []indicator.Hit{again}); err != nil || len(fresh) != 0 {
		t.Fatalf("target name in another case: %d fresh, %v; want the event known", len(fresh), err)
	}
}

func TestHitsByTarget(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{AlertTargets: []string{"slack"}})
	run := mustRun(t, s)
	var hits []indicator.Hit
	for i, tg := range []string{"", "contoso", "agency", "contoso"} {
		h := testHit(ipA, "ws1", fmt.Sprint(i), t0.Add(-time.Duration(i)*time.Hour), "CobaltStrikeJARM")
		h.Target = tg
		hits = append(hits, h)
	}
	fresh, err := s.CommitSweep(ctx, run, indicator.WindowKey("", tgt), []netip.Addr{ipA}, t0, hits)
	if err != nil || len(fresh) != 4 {
		t.Fatalf("commit: %d fresh, %v", len(fresh), err)
	}
	if fresh[0].Target != indicator.DefaultTarget {
		t.Errorf("a hit without a target is stored as %q", fresh[0].Target)
	}
	targetsOf := func(hs []StoredHit) string {
		var out []string
		for _, h := range hs {
			out = append(out, h.ReportID+":"+h.Target)
		}
		return strings.Join(out, " ")
	}
	for name, c := range map[string]struct {
		f    HitFilter
		want string
	}{
		"all":             {HitFilter{}, "0:default 1:contoso 2:agency 3:contoso"},
		"one":             {HitFilter{Targets: []string{"contoso"}}, "1:contoso 3:contoso"},
		"case":            {HitFilter{Targets: []string{"AGENCY"}}, "2:agency"},
		"two":             {HitFilter{Targets: []string{"agency", "default"}}, "0:default 2:agency"},
		"unknown":         {HitFilter{Targets: []string{"fabrikam"}}, ""},
		"with run":        {HitFilter{Targets: []string{"contoso"}, NewInRun: run}, "1:contoso 3:contoso"},
		"with since":      {HitFilter{Targets: []string{"contoso"}, Since: t0.Add(-90 * time.Minute)}, "1:contoso"},
		"with reported":   {HitFilter{Targets: []string{"contoso"}, ReportedSince: t0}, "1:contoso 3:contoso"},
		"with device+lim": {HitFilter{Targets: []string{"contoso"}, Device: "WS1", Limit: 1}, "1:contoso"},
	} {
		got, err := s.Hits(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if g := targetsOf(got); g != c.want {
			t.Errorf("%s: %q, want %q", name, g, c.want)
		}
	}
	// Alerts carry the target.
	pend, err := s.PendingAlerts(ctx, "slack", 10)
	if err != nil || len(pend) != 4 {
		t.Fatalf("pending %d %v", len(pend), err)
	}
	if g := targetsOf(pend); g != "0:default 1:contoso 2:agency 3:contoso" {
		t.Errorf("pending alerts: %s", g)
	}
	n, err := s.Names(ctx)
	if err != nil || !slices.Equal(n.Targets, []string{"agency", "contoso", "default"}) {
		t.Errorf("target names %v %v", n.Targets, err)
	}
}

func TestRunTargets(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	old := mustRun(t, s)
	if err := s.FinishRun(ctx, old, RunResult{Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	multi := mustRun(t, s)
	outcomes := []TargetOutcome{
		{Name: "contoso", Backend: "graph", Outcome: OutcomeOK, Queries: 4, Hits: 3, NewHits: 2},
		{Name: "agency", Backend: "sentinel", Outcome: OutcomeFailed, Queries: 2, QueriesFailed: 2,
			Error: "token: POST https://login.example/tenant/oauth2/v2.0/token?secret=x: 401"},
	}
	if err := s.FinishRun(ctx, multi, RunResult{Outcome: OutcomePartial, Targets: outcomes}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, multi)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(outcomes)
	want[1].Error = "token: POST https://login.example/REDACTED 401"
	if !slices.Equal(r.Targets, want) {
		t.Errorf("targets read back %+v, want %+v", r.Targets, want)
	}
	if !slices.Equal(r.TargetNames(), []string{"contoso", "agency"}) {
		t.Errorf("names %v", r.TargetNames())
	}
	ids := func(f RunFilter) []int64 {
		t.Helper()
		runs, err := s.ListRuns(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	for name, c := range map[string]struct {
		f    RunFilter
		want []int64
	}{
		"all":       {RunFilter{}, []int64{multi, old}},
		"limit":     {RunFilter{Limit: 1}, []int64{multi}},
		"agency":    {RunFilter{Targets: []string{"Agency"}}, []int64{multi}},
		"default":   {RunFilter{Targets: []string{"default"}}, []int64{old}},
		"either":    {RunFilter{Targets: []string{"default", "contoso"}}, []int64{multi, old}},
		"unknown":   {RunFilter{Targets: []string{"fabrikam"}}, nil},
		"substring": {RunFilter{Targets: []string{"con"}}, nil},
	} {
		if got := ids(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: runs %v, want %v", name, got, c.want)
		}
	}
	bad := mustRun(t, s)
	if err := s.FinishRun(ctx, bad, RunResult{Outcome: OutcomeOK, Targets: []TargetOutcome{{Name: "x", Outcome: "running"}}}); err == nil {
		t.Error("a target outcome 'running' was accepted")
	}
}

// A window key without a target is the default target's: one written
// as "Table.Column" is found as "default/Table.Column" and the reverse.
func TestWindowKeyWithoutTarget(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	run := mustRun(t, s)
	if _, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA}, t0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitSweep(ctx, run, indicator.WindowKey("", tgt2), []netip.Addr{ipB}, t0, nil); err != nil {
		t.Fatal(err)
	}
	for key, ip := range map[string]netip.Addr{indicator.WindowKey("default", tgt): ipA, tgt2: ipB} {
		if got, err := s.LastSwept(ctx, key, []netip.Addr{ip}); err != nil || !got[ip].Equal(t0) {
			t.Errorf("%s: %v %v", key, got, err)
		}
	}
	if got, _ := s.LastSwept(ctx, indicator.WindowKey("contoso", tgt), []netip.Addr{ipA}); len(got) != 0 {
		t.Errorf("the default target's window leaks to contoso: %v", got)
	}
}
