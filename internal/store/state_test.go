package store

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

func TestRunsLifecycle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{})
	mustLock(t, s)
	run := mustRun(t, s)
	if _, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA}, t0, []indicator.Hit{testHit(ipA, "d", "1", t0, "h")}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, run, RunResult{Outcome: "great"}); err == nil {
		t.Error("unknown outcome accepted")
	}
	err := s.FinishRun(ctx, run, RunResult{
		Outcome: OutcomePartial, Finished: t0.Add(time.Minute), CreditsUsed: 7, Calls: 12, Indicators: 3, Hits: 1,
		Hunts:  map[string]string{"PoshC2": "failed"},
		Errors: []string{`shodan: Get "https://api.shodan.io/shodan/host/search?key=SHODANSECRET&query=x": timeout`},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, run, RunResult{Outcome: OutcomeOK}); !errors.Is(err, ErrNotFound) {
		t.Errorf("finishing twice: %v", err)
	}
	r, err := s.Run(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != OutcomePartial || r.CreditsUsed != 7 || r.Calls != 12 || r.NewHits != 1 || r.ConfigFingerprint != "fp" ||
		!r.Finished.Equal(t0.Add(time.Minute)) || string(r.Hunts) != `{"PoshC2":"failed"}` || len(r.Errors) != 1 {
		t.Errorf("run %+v", r)
	}
	if strings.Contains(r.Errors[0], "SHODANSECRET") {
		t.Errorf("secret stored: %q", r.Errors[0])
	}

	// A run that crashed (never finished, lock gone) is interrupted on the
	// next Open.
	crashed := mustRun(t, s)
	s.Close()
	s = openT(t, path, Options{})
	r, _ = s.Run(ctx, crashed)
	if r.Outcome != OutcomeInterrupted {
		t.Errorf("crashed run is %q, want interrupted", r.Outcome)
	}
	runs, err := s.Runs(ctx, 10)
	if err != nil || len(runs) != 2 || runs[0].ID != crashed || runs[1].ID != run {
		t.Fatalf("Runs: %v %v", runs, err)
	}
	if ok, _ := s.LastSuccess(ctx); !ok.IsZero() {
		t.Errorf("LastSuccess %v with no ok run", ok)
	}

	// A live run holding the lock is not touched by a reader's Open.
	mustLock(t, s)
	live := mustRun(t, s)
	reader := openT(t, path, Options{MustExist: true})
	if r, _ := reader.Run(ctx, live); r.Outcome != OutcomeRunning {
		t.Errorf("live run marked %q by a reader", r.Outcome)
	}
	if err := s.FinishRun(ctx, live, RunResult{Outcome: OutcomeOK, Finished: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := reader.LastSuccess(ctx); !ok.Equal(t0.Add(time.Hour)) {
		t.Errorf("LastSuccess %v", ok)
	}
}

func sighting(hunt string, port int, seen time.Time) indicator.Sighting {
	return indicator.Sighting{Hunt: hunt, Source: "shodan", Port: port, Transport: "tcp", Org: "Org " + hunt, LastSeen: seen}
}

func TestIndicatorsUpsertExpire(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	run1 := mustRun(t, s)
	d1 := t0.Add(-72 * time.Hour)
	mappedA := netip.AddrFrom16(ipA.As16())
	err := s.UpsertIndicators(ctx, run1, t0, []*indicator.Indicator{
		{IP: mappedA, Sightings: []indicator.Sighting{sighting("CobaltStrikeJARM", 443, d1), sighting("CobaltStrikeProductName", 8443, d1.Add(time.Hour))}},
		{IP: ipB, Sightings: []indicator.Sighting{sighting("PoshC2", 443, d1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitSweep(ctx, run1, tgt, []netip.Addr{ipA}, t0, nil); err != nil {
		t.Fatal(err)
	}
	// Next day: A named again by one hunt with a newer banner and a new
	// source; B not named.
	day2 := t0.Add(24 * time.Hour)
	run2 := mustRun(t, s)
	newer := sighting("CobaltStrikeJARM", 443, d1.Add(24*time.Hour))
	newer.Org = "Moved Hosting"
	feed := sighting("CobaltStrikeJARM", 0, d1.Add(-24*time.Hour))
	feed.Source = "feed"
	if err := s.UpsertIndicators(ctx, run2, day2, []*indicator.Indicator{{IP: ipA, Sightings: []indicator.Sighting{newer, feed}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Indicators(ctx, IndicatorFilter{})
	if err != nil || len(got) != 2 {
		t.Fatalf("Indicators: %v %v", got, err)
	}
	a := got[0] // IPv4 sorts before IPv6
	if a.IP != ipA {
		t.Fatalf("mapped IP not stored as IPv4: %v", a.IP)
	}
	if !slices.Equal(a.Hunts, []string{"CobaltStrikeJARM", "CobaltStrikeProductName"}) || !slices.Equal(a.Sources, []string{"feed", "shodan"}) ||
		!slices.Equal(a.Ports, []int{443, 8443}) {
		t.Errorf("merged %v %v %v", a.Hunts, a.Sources, a.Ports)
	}
	if !a.FirstSeen.Equal(d1.Add(-24*time.Hour)) || !a.LastSeen.Equal(d1.Add(24*time.Hour)) || !a.FirstNamed.Equal(t0) ||
		!a.LastNamed.Equal(day2) || a.FirstRun != run1 || a.LastRun != run2 || !a.LastSwept.Equal(t0) {
		t.Errorf("times %+v", a)
	}
	for _, sg := range a.Sightings {
		if sg.Hunt == "CobaltStrikeJARM" && sg.Source == "shodan" && sg.Org != "Moved Hosting" {
			t.Errorf("context not the newest: %+v", sg)
		}
	}
	// An older banner does not replace newer context.
	stale := sighting("CobaltStrikeJARM", 443, d1)
	stale.Org = "Stale"
	s.UpsertIndicators(ctx, run2, day2, []*indicator.Indicator{{IP: ipA, Sightings: []indicator.Sighting{stale}}})
	got, _ = s.Indicators(ctx, IndicatorFilter{Hunt: "CobaltStrikeJARM"})
	if len(got) != 1 || slices.ContainsFunc(got[0].Sightings, func(sg indicator.Sighting) bool { return sg.Org == "Stale" }) {
		t.Errorf("stale context replaced newer: %+v", got)
	}

	// TTL 12h at day 2 + 1h: B (named at t0) expires, A stays; kept and listed.
	n, err := s.ExpireIndicators(ctx, day2.Add(time.Hour), 12*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("expired %d, %v", n, err)
	}
	if n, _ := s.ExpireIndicators(ctx, day2.Add(time.Hour), 12*time.Hour); n != 0 {
		t.Errorf("expired twice: %d", n)
	}
	active, _ := s.Indicators(ctx, IndicatorFilter{Active: true})
	all, _ := s.Indicators(ctx, IndicatorFilter{})
	if len(active) != 1 || active[0].IP != ipA || len(all) != 2 {
		t.Fatalf("active %v, all %d", active, len(all))
	}
	for _, r := range all {
		if r.IP == ipB && (r.Active() || !r.Expired.Equal(day2.Add(time.Hour))) {
			t.Errorf("B not marked expired: %+v", r)
		}
	}
	if c, _ := s.Counts(ctx); c.Indicators != 2 || c.ActiveIndicators != 1 {
		t.Errorf("counts %+v", c)
	}
	// Named again: active again.
	run3 := mustRun(t, s)
	s.UpsertIndicators(ctx, run3, day2.Add(2*time.Hour), []*indicator.Indicator{{IP: ipB, Sightings: []indicator.Sighting{sighting("PoshC2", 443, day2)}}})
	if active, _ := s.Indicators(ctx, IndicatorFilter{Active: true}); len(active) != 2 {
		t.Errorf("re-named indicator still expired")
	}
	if _, err := s.ExpireIndicators(ctx, day2, 0); err == nil {
		t.Error("ttl 0 accepted")
	}
}

func TestSuppressor(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	until := t0.Add(time.Hour)
	past := t0.Add(-time.Hour)
	for _, sp := range []Suppression{
		{Kind: SuppressIP, Value: "::ffff:198.51.100.7", Reason: "our scanner", By: "alice"},
		{Kind: SuppressCIDR, Value: "::ffff:203.0.113.0/120", Reason: "lab range"},
		{Kind: SuppressCIDR, Value: "2001:db8:bad::/48", Reason: "v6 lab"},
		{Kind: SuppressDevice, Value: "Honeypot-01", Reason: "honeypot", Until: &until},
		{Kind: SuppressHunt, Value: "DeimosC2", Reason: "noisy"},
		{Kind: SuppressHunt, Value: "EmpireC2", Reason: "expired", Created: past.Add(-time.Hour), Until: &past},
		{Kind: SuppressIP, Value: "192.0.2.99", Reason: "expired", Created: past.Add(-time.Hour), Until: &past},
	} {
		if _, err := s.Suppress(ctx, sp); err != nil {
			t.Fatalf("%+v: %v", sp, err)
		}
	}
	match, err := s.Suppressor(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(ip, dev string, hunts ...string) indicator.Hit {
		return testHit(netip.MustParseAddr(ip), dev, "1", t0, hunts...)
	}
	for name, c := range map[string]struct {
		h    indicator.Hit
		want string // "" = not suppressed, else a substring of the reason
	}{
		"ip":                {mk("198.51.100.7", "ws", "PoshC2"), "ip 198.51.100.7: our scanner"},
		"ip given mapped":   {mk("::ffff:198.51.100.7", "ws", "PoshC2"), "our scanner"},
		"cidr v4 from v6":   {mk("203.0.113.200", "ws", "PoshC2"), "cidr 203.0.113.0/24: lab range"},
		"cidr hit mapped":   {mk("::ffff:203.0.113.5", "ws", "PoshC2"), "lab range"},
		"cidr outside":      {mk("203.0.114.1", "ws", "PoshC2"), ""},
		"cidr v6":           {mk("2001:db8:bad:1::9", "ws", "PoshC2"), "v6 lab"},
		"device nocase":     {mk("192.0.2.1", "HONEYPOT-01", "PoshC2"), "honeypot"},
		"device id":         {indicator.Hit{IP: netip.MustParseAddr("192.0.2.1"), DeviceID: "honeypot-01", Hunts: []string{"x"}}, "honeypot"},
		"hunt all":          {mk("192.0.2.1", "ws", "DeimosC2"), "hunt DeimosC2: noisy"},
		"hunt one of two":   {mk("192.0.2.1", "ws", "DeimosC2", "PoshC2"), ""},
		"hunt expired":      {mk("192.0.2.1", "ws", "EmpireC2"), ""},
		"ip expired":        {mk("192.0.2.99", "ws", "PoshC2"), ""},
		"nothing":           {mk("192.0.2.1", "ws", "PoshC2"), ""},
		"no hunts, no hunt": {mk("192.0.2.1", "ws"), ""},
	} {
		ok, why := match(c.h)
		if ok != (c.want != "") || !strings.Contains(why, c.want) {
			t.Errorf("%s: (%v, %q), want %q", name, ok, why, c.want)
		}
	}
	// The device suppression ends at Until.
	later, _ := s.Suppressor(ctx, until)
	if ok, _ := later(mk("192.0.2.1", "honeypot-01", "PoshC2")); ok {
		t.Error("suppression applied after Until")
	}

	for _, bad := range []Suppression{
		{Kind: SuppressIP, Value: "1.2.3", Reason: "x"},
		{Kind: SuppressIP, Value: "fe80::1%eth0", Reason: "x"},
		{Kind: SuppressCIDR, Value: "10.0.0.0", Reason: "x"},
		{Kind: "asn", Value: "AS1", Reason: "x"},
		{Kind: SuppressIP, Value: "1.2.3.4", Reason: " "},
		{Kind: SuppressDevice, Value: "", Reason: "x"},
		// An --until already past would be listed yet never apply.
		{Kind: SuppressIP, Value: "1.2.3.4", Reason: "x", Until: &past},
		{Kind: SuppressIP, Value: "1.2.3.4", Reason: "x", Created: until, Until: &until},
	} {
		if _, err := s.Suppress(ctx, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	list, _ := s.Suppressions(ctx)
	if len(list) != 7 {
		t.Errorf("%d suppressions", len(list))
	}
	if _, err := s.Unsuppress(ctx, SuppressIP, "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unsuppress(ctx, SuppressIP, "198.51.100.7"); !errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), "no suppression of ip 198.51.100.7") || !strings.Contains(err.Error(), "hint: `c2sweep unsuppress --list`") {
		t.Errorf("second unsuppress: %v", err)
	}
	if _, err := s.Unsuppress(ctx, SuppressCIDR, "203.0.113.9/24"); err != nil {
		t.Errorf("unsuppress by unmasked prefix: %v", err)
	}
}

func TestAlertOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openT(t, path, Options{AlertTargets: []string{"teams", "slack", "teams"}})
	mustLock(t, s)
	if _, err := s.Suppress(ctx, Suppression{Kind: SuppressDevice, Value: "honeypot", Reason: "decoy"}); err != nil {
		t.Fatal(err)
	}
	run := mustRun(t, s)
	hits := []indicator.Hit{
		testHit(ipA, "ws1", "1", t0.Add(-time.Hour), "CobaltStrikeJARM"),
		testHit(ipB, "ws2", "2", t0.Add(-time.Hour), "PoshC2"),
		testHit(ipC, "honeypot", "3", t0.Add(-time.Hour), "PoshC2"),
	}
	fresh, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA, ipB, ipC}, t0, hits)
	if err != nil || len(fresh) != 3 {
		t.Fatalf("%d fresh, %v", len(fresh), err)
	}
	var sup []string
	for _, h := range fresh {
		if h.Suppressed != "" {
			sup = append(sup, h.Device)
		}
	}
	if !slices.Equal(sup, []string{"honeypot"}) {
		t.Errorf("suppressed %v", sup)
	}
	for _, tg := range []string{"teams", "slack"} {
		p, err := s.PendingAlerts(ctx, tg, 0)
		if err != nil || len(p) != 2 {
			t.Fatalf("%s pending %d, %v", tg, len(p), err)
		}
	}
	// Stored, marked, not alerted, listed.
	if hs, _ := s.Hits(ctx, HitFilter{HideSuppressed: true}); len(hs) != 2 {
		t.Errorf("HideSuppressed: %d", len(hs))
	}
	teams, _ := s.PendingAlerts(ctx, "teams", 1)
	if len(teams) != 1 {
		t.Fatalf("limit: %d", len(teams))
	}
	ids := []int64{fresh[0].ID, fresh[1].ID}
	if err := s.MarkDelivered(ctx, "teams", ids, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDeliveryFailure(ctx, "slack", ids, t0.Add(time.Minute),
		`Post "https://hooks.slack.com/services/T000/B000/XXXXSECRET": 503`); err != nil {
		t.Fatal(err)
	}
	df, err := s.LastDeliveryFailure(ctx, "slack", ids[0])
	if err != nil || df.Attempts != 1 || strings.Contains(df.LastError, "XXXXSECRET") || !strings.Contains(df.LastError, "503") {
		t.Errorf("failure record %+v %v", df, err)
	}
	// The same events found again by the next run queue nothing new.
	run2 := mustRun(t, s)
	if fresh, _ := s.CommitSweep(ctx, run2, tgt, []netip.Addr{ipA, ipB, ipC}, t0.Add(time.Hour), hits); len(fresh) != 0 {
		t.Errorf("%d fresh on re-commit", len(fresh))
	}
	s.Close()
	// After a restart: teams has nothing left, slack still has both.
	s = openT(t, path, Options{AlertTargets: []string{"teams", "slack"}})
	if p, _ := s.PendingAlerts(ctx, "teams", 0); len(p) != 0 {
		t.Errorf("delivered hits pending again: %d", len(p))
	}
	if n, _ := s.PendingCount(ctx, "slack"); n != 2 {
		t.Errorf("slack pending %d, want 2", n)
	}
	// Marking twice keeps the first delivery and does not fail.
	s.MarkDelivered(ctx, "slack", ids, t0.Add(2*time.Minute))
	s.MarkDelivered(ctx, "slack", ids, t0.Add(3*time.Minute))
	if n, _ := s.PendingCount(ctx, "slack"); n != 0 {
		t.Errorf("slack pending %d after delivery", n)
	}
	// A target added later does not get the backlog.
	s.SetAlertTargets([]string{"webhook"})
	if n, _ := s.PendingCount(ctx, "webhook"); n != 0 {
		t.Errorf("new target got %d old hits", n)
	}
}
