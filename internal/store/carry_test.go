package store

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

// EachActiveSighting streams the sightings of active indicators that the
// given run did not name, in IP order, only for the hunts asked for: the
// carry-over reads nothing the run already holds.
func TestEachActiveSighting(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	run1 := mustRun(t, s)
	d1 := t0.Add(-72 * time.Hour)
	if err := s.UpsertIndicators(ctx, run1, t0, []*indicator.Indicator{
		{IP: ipA, Sightings: []indicator.Sighting{sighting("CobaltStrikeJARM", 443, d1), sighting("Gone", 80, d1)}},
		{IP: ipB, Sightings: []indicator.Sighting{sighting("PoshC2", 443, d1)}},
		{IP: ipC, Sightings: []indicator.Sighting{sighting("PoshC2", 8443, d1)}},
	}); err != nil {
		t.Fatal(err)
	}
	// Run 2 names ipB again; ipC expires.
	run2 := mustRun(t, s)
	day2 := t0.Add(48 * time.Hour)
	if err := s.UpsertIndicators(ctx, run2, day2, []*indicator.Indicator{{IP: ipB, Sightings: []indicator.Sighting{sighting("PoshC2", 443, day2)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE indicators SET expired_at = ? WHERE ip = ?", ns(day2), ipC.String()); err != nil {
		t.Fatal(err)
	}
	type got struct {
		ip   netip.Addr
		hunt string
		org  string
	}
	var seen []got
	err := s.EachActiveSighting(ctx, run2, func(h string) bool { return h != "Gone" }, func(ip netip.Addr, sg indicator.Sighting) error {
		seen = append(seen, got{ip, sg.Hunt, sg.Org})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{{ipA, "CobaltStrikeJARM", "Org CobaltStrikeJARM"}}
	if len(seen) != len(want) || seen[0] != want[0] {
		t.Fatalf("sightings %v, want %v", seen, want)
	}
	// Without a filter, every hunt; run 0 (a dry run) excludes nothing.
	seen = nil
	if err := s.EachActiveSighting(ctx, 0, nil, func(ip netip.Addr, sg indicator.Sighting) error {
		seen = append(seen, got{ip, sg.Hunt, sg.Org})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0].ip != ipA || seen[1].ip != ipA || seen[2].ip != ipB {
		t.Fatalf("all active sightings: %v", seen)
	}
}
