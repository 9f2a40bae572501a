package pipeline_test

import (
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
)

// By default a run reports only hits never reported before; --all reports
// every hit in the window, still counting none of them as new.
func TestRunAllReportsKnownHitsToo(t *testing.T) {
	l := ptStartLab(t, lab.Options{})
	p := &pipeline.Pipeline{Shodan: l.shodanClient(t, nil), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
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
