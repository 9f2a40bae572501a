package pipeline_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/notify"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/store"
)

// New hits are alerted once: a failed delivery stays queued and goes out
// with the next run, a delivered hit is never sent again, and a quiet day
// sends nothing.
func TestRunAlertsNewHitsOnceAndRetriesFailedDeliveries(t *testing.T) {
	l := ptStartLab(t, lab.Options{})
	sink, err := labtest.StartWebhookSink(labtest.WebhookSinkOptions{Kind: "webhook"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	target, err := notify.New("soc", "webhook", sink.URL, sink.HTTPClient(),
		notify.WithRetry(2, time.Millisecond, time.Millisecond),
		notify.WithClock(clock.NewFake(time.Now())))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), store.Options{AlertTargets: []string{"soc"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Lock(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st,
		Notify: []notify.Target{target}}
	opts := pipeline.Options{Hunts: ptHunts(), API: "graph"}

	sink.FailNext(2, 500, "") // both attempts of the first run fail
	s1 := ptRun(t, p, opts)
	if s1.Totals.NewHits == 0 {
		t.Fatal("the world has no hits to alert")
	}
	if s1.Outcome != pipeline.OutcomePartial || s1.Totals.Alerted != 0 || len(sink.Accepted()) != 0 {
		t.Fatalf("failed delivery: outcome %s, alerted %d, accepted %d", s1.Outcome, s1.Totals.Alerted, len(sink.Accepted()))
	}
	if n, _ := st.PendingCount(context.Background(), "soc"); n != s1.Totals.NewHits {
		t.Fatalf("%d hits pending after a failed delivery, want %d", n, s1.Totals.NewHits)
	}

	s2 := ptRun(t, p, opts)
	if s2.Totals.NewHits != 0 || s2.Totals.Alerted != s1.Totals.NewHits {
		t.Fatalf("second run: %d new hits, %d alerted; want 0 new and the %d queued ones delivered", s2.Totals.NewHits, s2.Totals.Alerted, s1.Totals.NewHits)
	}
	got := map[string]bool{}
	for _, r := range sink.Accepted() {
		var b notify.WebhookBody
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		for _, h := range b.Hits {
			got[h.IP+"|"+h.Device+"|"+h.Time] = true
		}
	}
	if len(got) != s1.Totals.NewHits {
		t.Fatalf("webhook received %d distinct hits, want %d", len(got), s1.Totals.NewHits)
	}

	before := len(sink.Requests())
	s3 := ptRun(t, p, opts)
	if s3.Totals.Alerted != 0 || len(sink.Requests()) != before {
		t.Fatalf("quiet day: %d alerted, %d requests sent", s3.Totals.Alerted, len(sink.Requests())-before)
	}
}
