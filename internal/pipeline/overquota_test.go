package pipeline_test

import (
	"context"
	"testing"

	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
)

// A tenant over its CPU quota refuses every query: each is tried once and
// fails, none is split into halves that would be refused the same way.
func TestRunDoesNotSplitQueriesRefusedForCPUQuota(t *testing.T) {
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, Faults: lab.Faults{CPUQuotaRate: 1}})
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	s, _ := p.Run(context.Background(), pipeline.Options{Hunts: ptHunts(), API: "graph", Limits: kql.Limits{MaxIPs: 4}})
	if s == nil || len(s.Queries) < 2 {
		t.Fatalf("want several queries: %+v", s)
	}
	calls := l.Calls()["graph"]
	for _, q := range s.Queries {
		if q.Split || q.Attempts != 1 || q.Error == "" {
			t.Errorf("query of %d indicators: split %v, %d attempts, error %q", q.IPs, q.Split, q.Attempts, q.Error)
		}
	}
	if calls != len(s.Queries) || s.Totals.QueriesFailed != len(s.Queries) {
		t.Errorf("%d calls for %d queries, %d failed: want one call each, all failed", calls, len(s.Queries), s.Totals.QueriesFailed)
	}
	if s.Outcome != pipeline.OutcomePartial && s.Outcome != pipeline.OutcomeFailed {
		t.Errorf("outcome %v", s.Outcome)
	}
}
