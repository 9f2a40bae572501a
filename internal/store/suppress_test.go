package store

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

// Suppressing marks the hits already recorded, drops their undelivered
// alerts and says how many; unsuppressing unmarks what nothing else
// suppresses.
func TestSuppressMarksRecordedHits(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{AlertTargets: []string{"teams"}})
	run := mustRun(t, s)
	ipD := netip.MustParseAddr("203.0.113.9")
	hits := []indicator.Hit{
		testHit(ipA, "ws01.contoso.local", "1", t0.Add(-time.Hour), "CobaltStrikeJARM"),
		testHit(ipA, "ws02.contoso.local", "2", t0.Add(-time.Hour), "CobaltStrikeJARM"),
		testHit(ipB, "ws01.contoso.local", "3", t0.Add(-2*time.Hour), "DeimosC2"),
		testHit(ipC, "ws03", "4", t0.Add(-3*time.Hour), "DeimosC2", "PoshC2"),
		testHit(ipD, "ws0_1", "5", t0.Add(-3*time.Hour), "PoshC2"),
	}
	if _, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA, ipB, ipC, ipD}, t0, hits); err != nil {
		t.Fatal(err)
	}
	marked := func() map[string]string {
		all, err := s.Hits(ctx, HitFilter{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, h := range all {
			if h.Suppressed != "" {
				m[h.ReportID] = h.Suppressed
			}
		}
		return m
	}
	pending := func() int {
		p, err := s.PendingAlerts(ctx, "teams", 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(p)
	}
	if n := pending(); n != 5 {
		t.Fatalf("%d pending alerts, want 5", n)
	}

	for _, c := range []struct {
		sp      Suppression
		n       int
		reports string // marked after, sorted
	}{
		{Suppression{Kind: SuppressIP, Value: ipA.String(), Reason: "scanner"}, 2, "1,2"},
		// The short name matches the full name; "ws0_1" is not a pattern.
		{Suppression{Kind: SuppressDevice, Value: "WS01", Reason: "sandbox"}, 1, "1,2,3"},
		// A hit that another hunt also names stays alerted.
		{Suppression{Kind: SuppressHunt, Value: "deimosc2", Reason: "noisy"}, 0, "1,2,3"},
		{Suppression{Kind: SuppressCIDR, Value: "203.0.113.0/24", Reason: "lab"}, 1, "1,2,3,5"},
	} {
		n, err := s.Suppress(ctx, c.sp)
		if err != nil {
			t.Fatalf("%+v: %v", c.sp, err)
		}
		m := marked()
		var got []string
		for _, r := range []string{"1", "2", "3", "4", "5"} {
			if m[r] != "" {
				got = append(got, r)
			}
		}
		if n != c.n || strings.Join(got, ",") != c.reports {
			t.Errorf("suppress %s %s: marked %d (hits %v), want %d (hits %s)", c.sp.Kind, c.sp.Value, n, got, c.n, c.reports)
		}
	}
	if m := marked(); !strings.HasPrefix(m["1"], "ip 198.51.100.7: scanner") || !strings.HasPrefix(m["3"], "device ws01: sandbox") {
		t.Errorf("marks %q", m)
	}
	if n := pending(); n != 1 {
		t.Errorf("%d pending alerts after suppressing, want 1 (hit 4)", n)
	}

	// Unsuppressing the IP unmarks hit 2, not hit 1 (the device still
	// matches: its mark now names the device).
	n, err := s.Unsuppress(ctx, SuppressIP, ipA.String())
	if err != nil || n != 1 {
		t.Errorf("unsuppress ip: %d, %v; want 1 unmarked", n, err)
	}
	m := marked()
	if m["2"] != "" || !strings.HasPrefix(m["1"], "device ws01: sandbox") {
		t.Errorf("after unsuppress ip: %q", m)
	}
	// Hit 3 stays marked: the DeimosC2 suppression matches it too.
	if n, err := s.Unsuppress(ctx, SuppressDevice, "ws01"); err != nil || n != 1 {
		t.Errorf("unsuppress device: %d, %v; want 1 unmarked", n, err)
	}
	if m := marked(); len(m) != 2 || m["5"] == "" || !strings.HasPrefix(m["3"], "hunt deimosc2: noisy") {
		t.Errorf("after unsuppress device: %q", m)
	}
	// Unmarked hits are not new again: nothing is queued.
	if n := pending(); n != 1 {
		t.Errorf("%d pending alerts after unsuppressing, want 1", n)
	}
}

func TestNamesAndDeviceShortName(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	run := mustRun(t, s)
	hits := []indicator.Hit{
		testHit(ipA, "ws01.contoso.local", "1", t0, "CobaltStrikeJARM"),
		testHit(ipA, "ws011.contoso.local", "2", t0, "CobaltStrikeJARM"),
		testHit(ipB, "ws01", "3", t0, "DeimosC2"),
	}
	if _, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA, ipB}, t0, hits); err != nil {
		t.Fatal(err)
	}
	n, err := s.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(n.Hunts, ",") != "CobaltStrikeJARM,DeimosC2" || strings.Join(n.Devices, ",") != "ws01,ws01.contoso.local,ws011.contoso.local" {
		t.Errorf("names %+v", n)
	}
	for dev, want := range map[string]int{"ws01": 2, "WS01.CONTOSO.LOCAL": 1, "ws011": 1, "ws0": 0, "contoso": 0} {
		got, err := s.Hits(ctx, HitFilter{Device: dev})
		if err != nil || len(got) != want {
			t.Errorf("--device %s: %d hits (%v), want %d", dev, len(got), err, want)
		}
	}
}
