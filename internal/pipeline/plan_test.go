package pipeline_test

import (
	"bytes"
	"strings"
	"testing"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/shodanlab"
	"c2sweep/internal/pipeline"
)

// Over a run, the credit plan spends exactly the budget when the hunts
// would need more, and names what it left out with its cost.
func TestPlanSpendsExactlyTheBudget(t *testing.T) {
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}})
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	before := shodanlab.Credits(l.Lab)
	const budget = 2
	s := ptRun(t, p, pipeline.Options{Hunts: ptHunts(), API: "graph", CreditBudget: budget})
	spent := before - shodanlab.Credits(l.Lab)
	if s.Plan == nil || len(s.Plan.Unplanned) == 0 {
		t.Fatalf("want a plan that leaves pages out: %+v", s.Plan)
	}
	if spent != budget || s.Plan.Credits != budget || s.Totals.CreditsUsed != budget {
		t.Errorf("spent %d (plan %d, summary %d), want exactly the budget %d", spent, s.Plan.Credits, s.Totals.CreditsUsed, budget)
	}
	var text bytes.Buffer
	s.WriteText(&text, true)
	for _, u := range s.Plan.Unplanned {
		if u.Credits <= 0 || !strings.Contains(text.String(), u.Name+":") {
			t.Errorf("left out %+v not named in the summary:\n%s", u, text.String())
		}
	}
}

// A plan-only run (--dry-run) counts and plans, and spends nothing: no
// credit, no search page, no hunting call, nothing stored.
func TestPlanOnlySpendsNothing(t *testing.T) {
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}})
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	before, calls := shodanlab.Credits(l.Lab), l.Calls()
	s := ptRun(t, p, pipeline.Options{Hunts: ptHunts(), API: "graph", PlanOnly: true})
	if got := shodanlab.Credits(l.Lab); got != before {
		t.Errorf("a plan-only run spent %d credits", before-got)
	}
	if n := l.Calls()["graph"] - calls["graph"]; n != 0 {
		t.Errorf("a plan-only run made %d hunting calls", n)
	}
	// One /api-info and one count per hunt: no search page.
	if n := l.Calls()["shodan"] - calls["shodan"]; n != 1+len(ptHunts()) {
		t.Errorf("a plan-only run made %d Shodan requests, want %d", n, 1+len(ptHunts()))
	}
	if s.Plan == nil || len(s.Plan.Hunts) != len(ptHunts()) || s.RunID != 0 || s.Totals.Banners != 0 {
		t.Errorf("summary %+v plan %+v", s, s.Plan)
	}
	var text bytes.Buffer
	s.WriteText(&text, true)
	if !strings.Contains(text.String(), "Shodan credit plan:") {
		t.Errorf("the plan is not printed:\n%s", text.String())
	}
}
