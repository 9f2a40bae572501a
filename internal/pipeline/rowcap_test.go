package pipeline_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"c2sweep/internal/hunting"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
)

// capAt answers like the hunting APIs at their row cap: status 200, no
// error, MaxRows rows, for every query that names more than maxIPs
// indicators (or names ip).
type capAt struct {
	hunting.Hunter
	maxIPs int
	ip     string
}

func (c capAt) Hunt(ctx context.Context, req hunting.Request, schema func([]hunting.Column) error, row func(hunting.Row) error) (hunting.Stats, error) {
	if strings.Count(req.Query, `"::ffff:`) > c.maxIPs || (c.ip != "" && strings.Contains(req.Query, `"`+c.ip+`"`)) {
		return hunting.Stats{Rows: hunting.MaxRows, Attempts: 1}, nil
	}
	return c.Hunter.Hunt(ctx, req, schema, row)
}

// An answer at the row cap may be cut: it is never committed. Queries are
// split until they fit; a single indicator that still fills the cap fails
// its query, keeps its window, and says what to do.
func TestRunNeverCommitsAnAnswerAtTheRowCap(t *testing.T) {
	l := ptStartLab(t, lab.Options{})
	st := ptTempStore(t)
	hunts := ptHunts()
	want := truthAt(t, l.World, hunts, l.World.Config.Now).allHits()

	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: capAt{Hunter: l.hunter(t, "graph", nil), maxIPs: 3}, Store: st}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph"})
	if s.Totals.QueriesFailed != 0 || len(s.Queries) < 2 {
		t.Fatalf("split at the cap: %s", ptDescribe(s))
	}
	checkHits(t, "after splitting", s.NewHits, want)

	// One address that fills the cap on its own.
	ip := s.NewHits[0].IP
	p2 := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: capAt{Hunter: l.hunter(t, "graph", nil), maxIPs: 1 << 30, ip: ip.String()},
		Store: ptTempStore(t)}
	s2 := ptRun(t, p2, pipeline.Options{Hunts: hunts, API: "graph"})
	if s2.Outcome != pipeline.OutcomePartial || s2.Totals.QueriesFailed != 1 || !strings.Contains(strings.Join(s2.Errors, "\n"), "row cap") || s2.Totals.QueriesAtRowCap != 1 {
		t.Fatalf("single indicator at the cap: %s", ptDescribe(s2))
	}
	last, err := p2.Store.LastSwept(context.Background(), kql.DefaultTarget.String(), []netip.Addr{ip})
	if err != nil || len(last) != 0 {
		t.Fatalf("the capped indicator's window moved: %v %v", last, err)
	}
}
