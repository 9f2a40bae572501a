package store

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

// A benign verdict suppresses exactly the pairs it marks: the same device
// with another server, and another device with the same server, stay
// alerted; the pair's undelivered alert goes.
func TestTriageBenignSuppressesThePairOnly(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{AlertTargets: []string{"teams"}})
	run := mustRun(t, s)
	hits := []indicator.Hit{
		testHit(ipA, "ws01.contoso.local", "1", t0.Add(-time.Hour), "CobaltStrikeJARM"),
		testHit(ipA, "ws02.contoso.local", "2", t0.Add(-time.Hour), "CobaltStrikeJARM"),
		testHit(ipB, "ws01.contoso.local", "3", t0.Add(-2*time.Hour), "DeimosC2"),
	}
	if _, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA, ipB}, t0, hits); err != nil {
		t.Fatal(err)
	}
	all, err := s.Hits(ctx, HitFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var id1 string
	for _, h := range all {
		if h.ReportID == "1" {
			id1 = itoa(h.ID)
		}
	}
	if _, err := s.Triage(ctx, TriageHit, id1, "bogus", "", ""); err == nil {
		t.Error("an unknown status is accepted")
	}
	if _, err := s.Triage(ctx, TriageHit, "9999", TriageClosed, "", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("no such hit: %v, want ErrNotFound", err)
	}
	res, err := s.Triage(ctx, TriageHit, id1, TriageBenign, "red team", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if res.Marked != 1 || len(res.Pairs) != 1 || res.Pairs[0] != "ws01.contoso.local "+ipA.String() || res.SuppressedHits != 1 {
		t.Fatalf("triage benign: %+v", res)
	}
	all, _ = s.Hits(ctx, HitFilter{})
	for _, h := range all {
		suppressed := h.Suppressed != ""
		if suppressed != (h.ReportID == "1") {
			t.Errorf("hit %s: suppressed %q", h.ReportID, h.Suppressed)
		}
	}
	if p, _ := s.PendingAlerts(ctx, "teams", 0); len(p) != 2 {
		t.Errorf("%d alerts pending, want the 2 of the other pairs", len(p))
	}
	// The next hit of the pair is stored marked by the pair suppression.
	match, err := s.Suppressor(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	next := testHit(ipA, "WS01.contoso.local", "9", t0, "CobaltStrikeJARM")
	if ok, why := match(next); !ok || why != "pair ws01.contoso.local "+ipA.String()+": triaged benign: red team" {
		t.Errorf("the pair's next hit: %v %q", ok, why)
	}
	if ok, _ := match(testHit(ipA, "ws02.contoso.local", "10", t0, "CobaltStrikeJARM")); ok {
		t.Error("another device of the same server is suppressed")
	}
	if _, err := NormalizeSuppression(SuppressPair, "ws01"); err == nil {
		t.Error("a pair without an IP is accepted")
	}
	// Device names come from telemetry and may hold spaces: the IP is the
	// last word.
	if v, err := NormalizeSuppression(SuppressPair, "<img src=x> ws 02 192.0.2.7"); err != nil || !strings.HasSuffix(v, " 192.0.2.7") {
		t.Errorf("a device name with spaces: %q, %v", v, err)
	}
}

// History keeps every change of a hit in order, whatever target named it.
func TestTriageHistoryInOrder(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	run := mustRun(t, s)
	if _, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA}, t0,
		[]indicator.Hit{testHit(ipA, "ws01.contoso.local", "1", t0.Add(-time.Hour), "CobaltStrikeJARM")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ kind, value, status, note string }{
		{TriageIP, ipA.String(), TriageInvestigating, "first look"},
		{TriageDevice, "WS01", TriageMalicious, "encoded powershell"},
		{TriageIP, ipA.String(), TriageClosed, "reimaged"},
	} {
		if res, err := s.Triage(ctx, c.kind, c.value, c.status, c.note, ""); err != nil || res.Marked != 1 {
			t.Fatalf("%+v: %+v %v", c, res, err)
		}
	}
	h, err := s.TriageHistory(ctx, TriageDevice, "ws01.contoso.local")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ip " + ipA.String() + " investigating first look", "device ws01 malicious encoded powershell",
		"ip " + ipA.String() + " closed reimaged"}
	if len(h) != len(want) {
		t.Fatalf("history: %+v", h)
	}
	for i, c := range h {
		if got := c.Target + " " + c.Status + " " + c.Note; got != want[i] || c.Hits != 1 || c.At.IsZero() {
			t.Errorf("change %d: %q (%+v), want %q", i, got, c, want[i])
		}
	}
	all, _ := s.Hits(ctx, HitFilter{})
	if all[0].Triage != TriageClosed {
		t.Errorf("hit triage %q, want the last status", all[0].Triage)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
