package store

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

// A source's labels are kept with the sighting (in its context, and the
// malware and confidence in columns of their own), and the newest
// sighting's labels win.
func TestSightingLabels(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	run := mustRun(t, s)
	labels := indicator.Labels{Malware: "Cobalt Strike", MalwareID: "win.cobalt_strike", Confidence: 80,
		Tags: []string{"c2", "cs"}, Reference: "https://threatfox.abuse.ch/ioc/1/"}
	old := indicator.Sighting{Hunt: "ThreatFoxC2", Source: "threatfox", Port: 443, LastSeen: t0.Add(-48 * 3600e9), Labels: indicator.Labels{Malware: "Unknown", Confidence: 10}}
	newer := indicator.Sighting{Hunt: "ThreatFoxC2", Source: "threatfox", Port: 443, LastSeen: t0, Labels: labels}
	if err := s.UpsertIndicators(ctx, run, t0, []*indicator.Indicator{{IP: ipA, Sightings: []indicator.Sighting{newer}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertIndicators(ctx, run, t0, []*indicator.Indicator{{IP: ipA, Sightings: []indicator.Sighting{old}}}); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Indicators(ctx, IndicatorFilter{})
	if err != nil || len(recs) != 1 || len(recs[0].Sightings) != 1 {
		t.Fatalf("indicators %+v, %v", recs, err)
	}
	got := recs[0].Sightings[0].Labels
	if got.Malware != labels.Malware || got.MalwareID != labels.MalwareID || got.Confidence != 80 || !slices.Equal(got.Tags, labels.Tags) || got.Reference != labels.Reference {
		t.Errorf("labels %+v, want %+v", got, labels)
	}
	var malware string
	var conf int
	if err := s.db.QueryRowContext(ctx, "SELECT malware, confidence FROM sightings WHERE ip = ?", ipA.String()).Scan(&malware, &conf); err != nil {
		t.Fatal(err)
	}
	if malware != "Cobalt Strike" || conf != 80 {
		t.Errorf("columns %q %d", malware, conf)
	}

	// A hit shows what its hunts' sources said of its server; another
	// hunt's sighting of the same IP is not its own.
	other := indicator.Sighting{Hunt: "Feodo", Source: "feodo", LastSeen: t0, Labels: indicator.Labels{Malware: "QakBot"}}
	if err := s.UpsertIndicators(ctx, run, t0, []*indicator.Indicator{{IP: ipA, Sightings: []indicator.Sighting{other}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitSweep(ctx, run, tgt, []netip.Addr{ipA}, t0, []indicator.Hit{testHit(ipA, "ws1", "11", t0.Add(-time.Hour), "ThreatFoxC2")}); err != nil {
		t.Fatal(err)
	}
	hits, err := s.Hits(ctx, HitFilter{})
	if err != nil || len(hits) != 1 {
		t.Fatalf("hits %+v, %v", hits, err)
	}
	if src := hits[0].Sources; len(src) != 1 || src[0].Hunt != "ThreatFoxC2" || src[0].Source != "threatfox" || src[0].Port != 443 ||
		src[0].Labels.Reference != labels.Reference {
		t.Errorf("hit sources %+v", src)
	}
}
