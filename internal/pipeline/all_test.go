package pipeline_test

import (
	"testing"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/shodan"
)

// By default a run reports only hits never reported before; --all reports
// every hit in the window, still counting none of them as new.
func TestRunAllReportsKnownHitsToo(t *testing.T) {
	l := ptStartLab(t, lab.Options{})
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	opts := pipeline.Options{Hunts: ptHunts(), API: "graph", Overlap: 365 * 24 * time.Hour} // later runs re-read the whole window
	s1 := ptRun(t, p, opts)
	if s1.Totals.NewHits == 0 || len(s1.NewHits) != s1.Totals.NewHits {
		t.Fatalf("first run: %d new hits, %d listed", s1.Totals.NewHits, len(s1.NewHits))
	}
	s2 := ptRun(t, p, opts)
	if s2.Totals.Hits != s1.Totals.Hits || s2.Totals.NewHits != 0 || len(s2.NewHits) != 0 {
		t.Fatalf("second run: %d hits, %d new, %d listed; want %d, 0, 0", s2.Totals.Hits, s2.Totals.NewHits, len(s2.NewHits), s1.Totals.Hits)
	}
	opts.All = true
	s3 := ptRun(t, p, opts)
	if s3.Totals.NewHits != 0 || len(s3.NewHits) != s1.Totals.Hits || s3.Outcome != pipeline.OutcomeNoHits {
		t.Fatalf("--all: %d new, %d listed, outcome %s; want 0 new, %d listed, no-hits", s3.Totals.NewHits, len(s3.NewHits), s3.Outcome, s1.Totals.Hits)
	}
}

// A run in which every hunt failed at Shodan swept nothing: it failed, it
// is not a partial result.
func TestRunWhereEveryHuntFailsIsFailed(t *testing.T) {
	l := ptStartLab(t, lab.Options{})
	fast := func(o *shodan.Options) { o.Backoff, o.MaxBackoff = time.Millisecond, time.Millisecond } // bad queries are retried once
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, fast)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	bad := []config.Hunt{
		{Name: "Broken1", Query: `product:"unbalanced`, Sweep: []kql.Target{kql.DefaultTarget}},
		{Name: "Broken2", Query: `nosuchfilter:x`, Sweep: []kql.Target{kql.DefaultTarget}},
	}
	s := ptRun(t, p, pipeline.Options{Hunts: bad, API: "graph"})
	if s.Outcome != pipeline.OutcomeFailed || len(s.Errors) != 2 || s.Totals.Queries != 0 {
		t.Fatalf("outcome %s, errors %q, %d queries", s.Outcome, s.Errors, s.Totals.Queries)
	}
	s = ptRun(t, p, pipeline.Options{Hunts: append(bad, ptHunts()[0]), API: "graph"})
	if s.Outcome != pipeline.OutcomePartial {
		t.Fatalf("with one working hunt: outcome %s, want partial", s.Outcome)
	}
}
