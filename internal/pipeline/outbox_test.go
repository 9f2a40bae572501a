package pipeline_test

import (
	"c2sweep/internal/clock"
	"c2sweep/internal/lab/labtest"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/hunting"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/notify"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/store"
)

// stopAfterHits interrupts the run (as Ctrl-C would) at the first query
// after one that returned rows: hits are stored, the sweep is not done.
type stopAfterHits struct {
	hunting.Hunter
	cancel context.CancelFunc
	rows   int
}

func (s *stopAfterHits) Hunt(ctx context.Context, req hunting.Request, schema func([]hunting.Column) error, row func(hunting.Row) error) (hunting.Stats, error) {
	if s.rows > 0 {
		s.cancel()
		return hunting.Stats{}, ctx.Err()
	}
	st, err := s.Hunter.Hunt(ctx, req, schema, row)
	s.rows += st.Rows
	return st, err
}

// outboxRig is a lab, a webhook sink and a state alerting it.
type outboxRig struct {
	lab   *ptLab
	sink  *labtest.WebhookSink
	st    *store.Store
	soc   notify.Target
	state string
}

func newOutboxRig(t *testing.T) *outboxRig {
	l := ptStartLab(t, lab.Options{})
	sink, err := labtest.StartWebhookSink(labtest.WebhookSinkOptions{Kind: "webhook"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	soc, err := notify.New("soc", "webhook", sink.URL, sink.HTTPClient(),
		notify.WithRetry(2, time.Millisecond, time.Millisecond),
		notify.WithClock(clock.NewFake(time.Now())))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(context.Background(), path, store.Options{AlertTargets: []string{"soc"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Lock(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	return &outboxRig{lab: l, sink: sink, st: st, soc: soc, state: path}
}

// delivered counts how often the sink accepted each hit.
func (g *outboxRig) delivered(t *testing.T) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, r := range g.sink.Accepted() {
		var b notify.WebhookBody
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		for _, h := range b.Hits {
			got[h.IP+"|"+h.Device+"|"+h.Time]++
		}
	}
	return got
}

// checkAllOnce fails unless every stored hit reached the sink exactly once.
func (g *outboxRig) checkAllOnce(t *testing.T, when string) {
	t.Helper()
	c, err := g.st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := g.delivered(t)
	if len(got) != c.Hits || c.PendingAlerts != 0 {
		t.Errorf("%s: %d distinct hits delivered, %d stored, %d pending", when, len(got), c.Hits, c.PendingAlerts)
	}
	for k, n := range got {
		if n != 1 {
			t.Errorf("%s: hit %s delivered %d times", when, k, n)
		}
	}
}

// A run interrupted after it stored hits still alerts them, and the next
// run alerts only its own.
func TestInterruptedRunStillAlertsStoredHits(t *testing.T) {
	g := newOutboxRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := &stopAfterHits{Hunter: g.lab.hunter(t, "graph", nil), cancel: cancel}
	p := &pipeline.Pipeline{Sources: viaShodan(g.lab.shodanClient(t, nil)), Hunter: stop, Store: g.st, Notify: []notify.Target{g.soc}}
	opts := pipeline.Options{Hunts: ptHunts(), API: "graph", Limits: kql.Limits{MaxIPs: 5}}
	s1, err := p.Run(ctx, opts)
	if err == nil || s1.Outcome != pipeline.OutcomeAborted {
		t.Fatalf("the run was not interrupted: %v, %s", err, s1.Outcome)
	}
	if s1.Totals.NewHits == 0 {
		t.Fatal("the interrupted run stored no hit: nothing to check")
	}
	if s1.Totals.Alerted != s1.Totals.NewHits || s1.Totals.AlertedEarlier != 0 {
		t.Errorf("the interrupted run alerted %d of its %d stored hits", s1.Totals.Alerted, s1.Totals.NewHits)
	}
	g.checkAllOnce(t, "after the interrupted run")
	if r, err := g.st.Run(context.Background(), s1.RunID); err != nil || r.Outcome != store.OutcomeInterrupted || r.Error != "interrupted" {
		t.Errorf("recorded run: %+v %v", r, err)
	}

	p.Hunter = g.lab.hunter(t, "graph", nil)
	s2 := ptRun(t, p, opts)
	if s2.Totals.NewHits == 0 {
		t.Error("the clean run found none of the hits the interrupted one missed")
	}
	g.checkAllOnce(t, "after the clean run")
}

// Hits an earlier run stored but could not deliver go out with the next
// run, even when that run fails its pre-flight.
func TestFailedRunDeliversEarlierRunsHits(t *testing.T) {
	g := newOutboxRig(t)
	p := &pipeline.Pipeline{Sources: viaShodan(g.lab.shodanClient(t, nil)), Hunter: g.lab.hunter(t, "graph", nil), Store: g.st, Notify: []notify.Target{g.soc}}
	opts := pipeline.Options{Hunts: ptHunts(), API: "graph"}
	g.sink.FailNext(2, 503, "") // the first run's delivery fails
	s1 := ptRun(t, p, opts)
	if s1.Totals.NewHits == 0 || s1.Totals.Alerted != 0 {
		t.Fatalf("first run: %d new hits, %d alerted", s1.Totals.NewHits, s1.Totals.Alerted)
	}

	// The next run cannot sign in: it records why, spends no Shodan
	// credit, and delivers what the first run stored.
	cred, err := hunting.NewCredential(g.lab.auth("Wr0ng~" + g.lab.Creds.ClientSecret[:4] + "-secret-value"))
	if err != nil {
		t.Fatal(err)
	}
	p.Hunter = hunting.NewGraph(hunting.Options{BaseURL: g.lab.URL, Credential: cred, HTTPClient: g.lab.client})
	before := g.lab.Calls()["shodan"]
	s2, err := p.Run(context.Background(), opts)
	if err == nil || s2.Outcome != pipeline.OutcomeFailed {
		t.Fatalf("a run with a wrong secret: %v, %s", err, s2.Outcome)
	}
	if n := g.lab.Calls()["shodan"] - before; n != 0 {
		t.Errorf("the failed run called Shodan %d times", n)
	}
	if s2.Totals.Alerted != s1.Totals.NewHits || s2.Totals.AlertedEarlier != s1.Totals.NewHits {
		t.Errorf("the failed run delivered %d (%d of earlier runs) of the %d queued hits", s2.Totals.Alerted, s2.Totals.AlertedEarlier, s1.Totals.NewHits)
	}
	var text strings.Builder
	s2.WriteText(&text, true)
	if want := fmt.Sprintf("%d of them stored by earlier runs", s1.Totals.NewHits); !strings.Contains(text.String(), want) {
		t.Errorf("the summary does not say %q:\n%s", want, text.String())
	}
	g.checkAllOnce(t, "after the failed run")
	r, err := g.st.Run(context.Background(), s2.RunID)
	if err != nil || r.Outcome != store.OutcomeFailed || r.Error == "" || r.Error != s2.Error {
		t.Errorf("the failed run is recorded as %+v (%v), want failed with its reason %q", r, err, s2.Error)
	}
}
