package pipeline

import (
	"context"
	"time"

	"c2sweep/internal/notify"
	"c2sweep/internal/store"
)

// alert delivers every pending hit, this run's and any earlier run's that
// could not be delivered, to the configured targets. A failed delivery
// stays pending for the next run and makes this run partial.
func (r *run) alert(ctx context.Context) {
	ob := &outbox{s: r.p.Store, now: r.p.Clock.Now, run: r.s.RunID, runOf: map[int64]int64{}}
	rep, err := notify.Deliver(ctx, r.p.Notify, ob, r.p.Clock.Now(), false) // heartbeats are per target
	r.s.Totals.Alerted = rep.Sent()
	r.s.Totals.AlertedEarlier = ob.earlier
	if err != nil {
		r.fail("alerts: %v (undelivered hits stay queued for the next run)", err)
	}
}

// outbox adapts the state store to what delivery needs, and counts the
// delivered hits that earlier runs found (the summary says so).
type outbox struct {
	s       *store.Store
	now     func() time.Time
	run     int64           // this run
	runOf   map[int64]int64 // hit -> the run that found it, of the pending hits handed out
	earlier int             // delivered hits found by earlier runs
}

func (o *outbox) PendingAlerts(ctx context.Context, target string, limit int) ([]notify.Pending, error) {
	hs, err := o.s.PendingAlerts(ctx, target, limit)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Pending, len(hs))
	for i, h := range hs {
		out[i] = notify.Pending{ID: h.ID, RunID: h.RunID, Hit: h.Hit}
		o.runOf[h.ID] = h.RunID
	}
	return out, nil
}

func (o *outbox) MarkDelivered(ctx context.Context, target string, ids []int64, at time.Time) error {
	if err := o.s.MarkDelivered(ctx, target, ids, at); err != nil {
		return err
	}
	for _, id := range ids {
		if run, ok := o.runOf[id]; ok && run != o.run {
			o.earlier++
		}
	}
	return nil
}

func (o *outbox) RecordDeliveryFailure(ctx context.Context, target, msg string) error {
	pending, err := o.s.PendingAlerts(ctx, target, 0)
	if err != nil {
		return err
	}
	ids := make([]int64, len(pending))
	for i, h := range pending {
		ids[i] = h.ID
	}
	return o.s.RecordDeliveryFailure(ctx, target, ids, o.now(), msg)
}
