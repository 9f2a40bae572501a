package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
)

// A tenant over its CPU quota refuses every query: the first refusal is the
// only call, nothing is split, and the run backs off — every other query
// fails as not sent, its window kept for the next run.
func TestRunBacksOffAfterTheCPUQuotaRefusal(t *testing.T) {
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Faults: lab.Faults{CPUQuotaRate: 1}})
	st := ptTempStore(t)
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st}
	s, _ := p.Run(context.Background(), pipeline.Options{Hunts: ptHunts(), API: "graph", Limits: kql.Limits{MaxIPs: 4}})
	if s == nil || len(s.Queries) < 2 {
		t.Fatalf("want several queries: %+v", s)
	}
	if calls := l.Calls()["graph"]; calls != 1 {
		t.Errorf("the lab saw %d hunting calls, want exactly 1", calls)
	}
	for i, q := range s.Queries {
		if q.Split || q.Error == "" {
			t.Errorf("query %d of %d indicators: split %v, error %q", i, q.IPs, q.Split, q.Error)
		}
		if sent := i == 0; q.Skipped == sent || (sent && q.Attempts != 1) || (!sent && q.Attempts != 0) {
			t.Errorf("query %d: skipped %v, %d attempts", i, q.Skipped, q.Attempts)
		}
	}
	if s.Totals.QueriesFailed != len(s.Queries) || s.Totals.OverQuota != len(s.Queries) {
		t.Errorf("%d queries, %d failed, %d over quota: want all", len(s.Queries), s.Totals.QueriesFailed, s.Totals.OverQuota)
	}
	if s.Outcome != pipeline.OutcomeFailed {
		t.Errorf("outcome %v, want failed: nothing was swept", s.Outcome)
	}
	if !strings.Contains(strings.Join(s.Errors, "\n"), "more not sent") {
		t.Errorf("errors do not report the queries not sent: %q", s.Errors)
	}
	// No window moved: the next run, quota back, sends every query again.
	l2 := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}})
	p2 := &pipeline.Pipeline{Sources: viaShodan(l2.shodanClient(t, nil)), Hunter: l2.hunter(t, "graph", nil), Store: st}
	s2, err := p2.Run(context.Background(), pipeline.Options{Hunts: ptHunts(), API: "graph", Limits: kql.Limits{MaxIPs: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s2.Queries) != len(s.Queries) || s2.Totals.QueriesFailed != 0 {
		t.Errorf("next run: %d queries (%d failed), want the %d of the backed-off run", len(s2.Queries), s2.Totals.QueriesFailed, len(s.Queries))
	}
	full := s.Queries[0].End.Sub(s.Queries[0].Start)
	for _, q := range s2.Queries {
		if w := q.End.Sub(q.Start); w != full {
			t.Errorf("next run's query covers %v, want the full lookback %v: a window moved", w, full)
		}
	}
}
