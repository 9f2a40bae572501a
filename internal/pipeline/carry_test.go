package pipeline_test

import (
	"c2sweep/internal/clock"
	"testing"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
)

// An indicator that earlier runs named stays swept, attributed to its
// hunt, after Shodan stops showing it, until its TTL expires it.
func TestRunSweepsIndicatorsOfEarlierRunsUntilTheyExpire(t *testing.T) {
	l := ptStartLab(t, lab.Options{})
	st := ptTempStore(t)
	clk := clock.NewFake(time.Now().UTC())
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st,
		Clock: clk}
	hunts := ptHunts()
	s1 := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", IndicatorTTL: 30 * 24 * time.Hour})
	deimos := huntSummary(t, s1, "DeimosC2")
	if deimos.Fresh == 0 {
		t.Fatal("the world has no Deimos servers")
	}
	// Shodan stops showing the Deimos servers (say, they moved ports).
	quiet := make([]config.Hunt, len(hunts))
	copy(quiet, hunts)
	for i := range quiet {
		if quiet[i].Name == "DeimosC2" {
			quiet[i].Query = `product:"no such product anywhere"`
		}
	}

	clk.Advance(time.Hour)
	s2 := ptRun(t, p, pipeline.Options{Hunts: quiet, API: "graph", IndicatorTTL: 30 * 24 * time.Hour})
	if got := huntSummary(t, s2, "DeimosC2"); got.Fresh != 0 || got.Carried != deimos.Fresh || s2.Totals.Carried != deimos.Fresh {
		t.Fatalf("carried: hunt %+v, totals %+v; want the %d Deimos indicators carried", got, s2.Totals, deimos.Fresh)
	}
	if s2.Totals.Indicators != s1.Totals.Indicators {
		t.Fatalf("run 2 swept %d indicators, want the %d of run 1", s2.Totals.Indicators, s1.Totals.Indicators)
	}

	// After the TTL the Deimos indicators expire and are swept no more.
	clk.Advance(2 * time.Hour)
	s3 := ptRun(t, p, pipeline.Options{Hunts: quiet, API: "graph", IndicatorTTL: 90 * time.Minute})
	if s3.Totals.Expired != deimos.Fresh || s3.Totals.Carried != 0 || s3.Totals.Indicators != s1.Totals.Indicators-deimos.Fresh {
		t.Fatalf("after the TTL: %+v; want %d expired, none carried", s3.Totals, deimos.Fresh)
	}
}

// An indicator that two hunts named is carried for both: each hunt's
// count says how many of its own indicators were carried, and every
// indicator is carried once, with each hunt's sighting.
func TestCarriedIndicatorCountsForEveryHuntThatNamedIt(t *testing.T) {
	l := ptStartLab(t, lab.Options{})
	st := ptTempStore(t)
	clk := clock.NewFake(time.Now().UTC())
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st,
		Clock: clk}
	hunts := ptHunts()
	var deimos config.Hunt
	for _, h := range hunts {
		if h.Name == "DeimosC2" {
			deimos = h
		}
	}
	twin := deimos
	twin.Name = "DeimosC2-twin"
	hunts = append(hunts, twin)
	s1 := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", IndicatorTTL: 30 * 24 * time.Hour})
	n := huntSummary(t, s1, "DeimosC2").Fresh
	if n == 0 || huntSummary(t, s1, "DeimosC2-twin").Fresh != n {
		t.Fatalf("the twin hunts found %d and %d indicators", n, huntSummary(t, s1, "DeimosC2-twin").Fresh)
	}
	for i := range hunts {
		if hunts[i].Query == deimos.Query {
			hunts[i].Query = `product:"no such product anywhere"`
		}
	}
	clk.Advance(time.Hour)
	s2 := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", IndicatorTTL: 30 * 24 * time.Hour})
	a, b := huntSummary(t, s2, "DeimosC2"), huntSummary(t, s2, "DeimosC2-twin")
	if a.Carried != n || b.Carried != n || s2.Totals.Carried != n {
		t.Fatalf("carried: %d and %d by hunt, %d in all; want %d each and %d in all", a.Carried, b.Carried, s2.Totals.Carried, n, n)
	}
	if s2.Totals.Indicators != s1.Totals.Indicators {
		t.Fatalf("run 2 swept %d indicators, want the %d of run 1", s2.Totals.Indicators, s1.Totals.Indicators)
	}
}
