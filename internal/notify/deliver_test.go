package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/lab/labtest"
)

// memOutbox is an in-memory Outbox with per-target entries.
type memOutbox struct {
	mu        sync.Mutex
	entries   map[string][]*memEntry
	failures  map[string][]string
	markErr   error
	stuck     bool // a broken store that never records deliveries
	pendCalls int
}

type memEntry struct {
	p         Pending
	delivered time.Time
}

func newOutbox(targets []string, n int) *memOutbox {
	ob := &memOutbox{entries: map[string][]*memEntry{}, failures: map[string][]string{}}
	for _, t := range targets {
		ob.add(t, 0, n)
	}
	return ob
}

// add queues hits first..first+n-1 for target.
func (ob *memOutbox) add(target string, first, n int) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	for i := first; i < first+n; i++ {
		ob.entries[target] = append(ob.entries[target], &memEntry{p: Pending{ID: int64(i + 1), RunID: int64(1 + i/100), Hit: mkHit(i)}})
	}
}

func (ob *memOutbox) PendingAlerts(ctx context.Context, target string, limit int) ([]Pending, error) {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	ob.pendCalls++
	var out []Pending
	for _, e := range ob.entries[target] {
		if e.delivered.IsZero() && len(out) < limit {
			out = append(out, e.p)
		}
	}
	return out, nil
}

func (ob *memOutbox) MarkDelivered(ctx context.Context, target string, ids []int64, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.markErr != nil {
		return ob.markErr
	}
	if ob.stuck {
		return nil
	}
	for _, e := range ob.entries[target] {
		if slices.Contains(ids, e.p.ID) {
			if !e.delivered.IsZero() {
				return fmt.Errorf("entry %d delivered twice", e.p.ID)
			}
			e.delivered = at
		}
	}
	return nil
}

func (ob *memOutbox) RecordDeliveryFailure(ctx context.Context, target, msg string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	ob.failures[target] = append(ob.failures[target], msg)
	return nil
}

func (ob *memOutbox) pending(target string) int {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	n := 0
	for _, e := range ob.entries[target] {
		if e.delivered.IsZero() {
			n++
		}
	}
	return n
}

// deliveredReports lists the report ids of every hit the sink accepted, in
// order, from generic webhook bodies.
func deliveredReports(t *testing.T, s *labtest.WebhookSink) []string {
	t.Helper()
	var ids []string
	for _, r := range s.Accepted() {
		var b WebhookBody
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		for _, h := range b.Hits {
			ids = append(ids, h.ReportID)
		}
	}
	return ids
}

func reportIDs(first, n int) []string {
	var out []string
	for i := first; i < first+n; i++ {
		out = append(out, fmt.Sprint(1000+i))
	}
	return out
}

func TestDeliverBatchesAndNeverResends(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	tg := newTarget(t, s, &sleeps{})
	ob := newOutbox([]string{"soc"}, 120)
	rep, err := Deliver(context.Background(), []Target{tg}, ob, t0, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent() != 120 || rep.Targets[0].Messages != 3 || ob.pending("soc") != 0 {
		t.Fatalf("report %+v, pending %d", rep, ob.pending("soc"))
	}
	if got := deliveredReports(t, s); !slices.Equal(got, reportIDs(0, 120)) {
		t.Errorf("delivered %v", got)
	}
	var first WebhookBody
	json.Unmarshal(s.Accepted()[0].Body, &first)
	if first.Run != 1 || !strings.Contains(first.Summary, "more follow") {
		t.Errorf("first batch: run %d summary %q", first.Run, first.Summary)
	}
	// A second delivery, with nothing new, sends nothing.
	rep, err = Deliver(context.Background(), []Target{tg}, ob, t0.Add(time.Hour), false)
	if err != nil || rep.Sent() != 0 || rep.Targets[0].Messages != 0 || len(s.Requests()) != 3 {
		t.Fatalf("second delivery: %+v %v, %d requests", rep, err, len(s.Requests()))
	}
}

func TestDeliverQuietDay(t *testing.T) {
	s := startSink(t, labtest.SinkSlack)
	tg := newTarget(t, s, &sleeps{})
	ob := newOutbox(nil, 0)
	rep, err := Deliver(context.Background(), []Target{tg}, ob, t0, false)
	if err != nil || len(s.Requests()) != 0 || rep.Targets[0].Heartbeat {
		t.Fatalf("quiet day without heartbeat sent %d messages (%+v, %v)", len(s.Requests()), rep, err)
	}
	rep, err = Deliver(context.Background(), []Target{tg}, ob, t0, true)
	if err != nil || len(s.Accepted()) != 1 || !rep.Targets[0].Heartbeat || rep.Sent() != 0 {
		t.Fatalf("quiet day with heartbeat: %+v %v, %+v", rep, err, s.Requests())
	}
	// Hits to send: no heartbeat on top of them.
	ob.add("soc", 0, 3)
	rep, err = Deliver(context.Background(), []Target{tg}, ob, t0, true)
	if err != nil || rep.Targets[0].Heartbeat || rep.Sent() != 3 || len(s.Accepted()) != 2 {
		t.Fatalf("busy day with heartbeat: %+v %v", rep, err)
	}
}

func TestDeliverKeepsFailuresPending(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	tg := newTarget(t, s, &sleeps{}, WithRetry(2, time.Second, time.Second))
	deliverWithFailureAfter(t, s, tg, newOutbox([]string{"soc"}, 130))
}

// deliverWithFailureAfter lets the first batch through and refuses the
// second, then checks that the next run delivers exactly the rest.
func deliverWithFailureAfter(t *testing.T, s *labtest.WebhookSink, tg Target, ob *memOutbox) {
	t.Helper()
	failing := &failAfter{Target: tg, after: 1, sink: s}
	rep, err := Deliver(context.Background(), []Target{failing}, ob, t0, false)
	var de *DeliveryError
	if !errors.As(err, &de) || de.Status != 503 || !de.Retryable {
		t.Fatalf("Deliver = %v, want the 503 of batch 2", err)
	}
	if rep.Sent() != 50 || ob.pending("soc") != 80 {
		t.Fatalf("after a failed batch: sent %d, pending %d", rep.Sent(), ob.pending("soc"))
	}
	if f := ob.failures["soc"]; len(f) != 1 || !strings.Contains(f[0], "HTTP 503") {
		t.Errorf("failure not recorded: %q", f)
	}
	for _, f := range ob.failures["soc"] {
		if strings.Contains(f, s.Token) {
			t.Errorf("recorded failure leaks the URL: %s", f)
		}
	}
	// Next run: the receiver is back.
	rep, err = Deliver(context.Background(), []Target{tg}, ob, t0.Add(24*time.Hour), false)
	if err != nil || rep.Sent() != 80 || ob.pending("soc") != 0 {
		t.Fatalf("next run: %+v %v", rep, err)
	}
	if got := deliveredReports(t, s); !slices.Equal(got, reportIDs(0, 130)) {
		t.Errorf("hits delivered across runs (each exactly once, in order): %v", got)
	}
}

// failAfter lets `after` messages through, then makes the sink answer 503
// to every attempt.
type failAfter struct {
	Target
	after int
	sent  int
	sink  *labtest.WebhookSink
}

func (f *failAfter) Send(ctx context.Context, a Alert) error {
	if f.sent >= f.after {
		f.sink.FailNext(2, 503, "") // every attempt of WithRetry(2, ...)
	}
	f.sent++
	return f.Target.Send(ctx, a)
}

func TestDeliverOneTargetFailingDoesNotStopOthers(t *testing.T) {
	bad := startSink(t, labtest.SinkTeams)
	good := startSink(t, labtest.SinkSlack)
	bad.FailNext(1, 404, "")
	tb := newTarget(t, bad, &sleeps{})
	tgood, _ := New("chat", "slack", good.URL, good.HTTPClient())
	ob := newOutbox([]string{"soc", "chat"}, 5)
	rep, err := Deliver(context.Background(), []Target{tb, tgood}, ob, t0, false)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("Deliver = %v", err)
	}
	if rep.Targets[0].Sent != 0 || rep.Targets[1].Sent != 5 || ob.pending("soc") != 5 || ob.pending("chat") != 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(bad.Requests()) != 1 {
		t.Errorf("a 404 was retried: %d requests", len(bad.Requests()))
	}
}

func TestDeliverMarkFailureIsReported(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	tg := newTarget(t, s, &sleeps{})
	ob := newOutbox([]string{"soc"}, 3)
	ob.markErr = errors.New("disk full")
	rep, err := Deliver(context.Background(), []Target{tg}, ob, t0, false)
	if err == nil || !strings.Contains(err.Error(), "delivered but could not be marked") || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Deliver = %v", err)
	}
	if rep.Sent() != 0 || ob.pending("soc") != 3 {
		t.Errorf("report %+v", rep)
	}
}

func TestDeliverStopsOnAStoreThatForgets(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	tg := newTarget(t, s, &sleeps{})
	ob := newOutbox([]string{"soc"}, 60)
	ob.stuck = true
	_, err := Deliver(context.Background(), []Target{tg}, ob, t0, false)
	if err == nil || !strings.Contains(err.Error(), "again after it was marked delivered") {
		t.Fatalf("Deliver = %v", err)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d messages sent, want 1: the same hits must not be sent again", n)
	}
}

func TestDeliverCancelled(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	tg := newTarget(t, s, &sleeps{})
	ob := newOutbox([]string{"soc"}, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Deliver(ctx, []Target{tg}, ob, t0, true)
	if !errors.Is(err, context.Canceled) || len(s.Requests()) != 0 || ob.pending("soc") != 3 {
		t.Fatalf("Deliver on a cancelled context = %v, %d requests", err, len(s.Requests()))
	}
}

// Each target's own `heartbeat` setting decides: a quiet run sends one to
// the target that asked for it and nothing to the one that did not, however
// Deliver is called; a target without a setting follows Deliver.
func TestDeliverHeartbeatPerTarget(t *testing.T) {
	on, off, unset := startSink(t, labtest.SinkSlack), startSink(t, labtest.SinkWebhook), startSink(t, labtest.SinkTeams)
	mk := func(name string, s *labtest.WebhookSink, opts ...Option) Target {
		tg, err := New(name, s.Kind, s.URL, s.HTTPClient(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	targets := []Target{mk("oncall", on, WithHeartbeat(true)), mk("soc", off, WithHeartbeat(false)), mk("other", unset)}
	ob := newOutbox(nil, 0)
	for _, global := range []bool{false, true} {
		rep, err := Deliver(context.Background(), targets, ob, t0, global)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Targets[0].Heartbeat || rep.Targets[1].Heartbeat || rep.Targets[2].Heartbeat != global {
			t.Errorf("Deliver(heartbeat=%v): %+v", global, rep.Targets)
		}
	}
	if len(on.Accepted()) != 2 || len(off.Requests()) != 0 || len(unset.Accepted()) != 1 {
		t.Errorf("messages: wanted %d, not wanted %d, unset %d", len(on.Accepted()), len(off.Requests()), len(unset.Accepted()))
	}
}
