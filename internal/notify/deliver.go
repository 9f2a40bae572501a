package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"c2sweep/internal/indicator"
)

// Pending is one hit waiting to be delivered to a target.
type Pending struct {
	ID    int64 // the outbox entry, unique per target
	RunID int64 // the run that found the hit
	Hit   indicator.Hit
}

// Outbox is the part of the state store that delivery needs. Entries are
// per target: a hit delivered to Slack may still be pending for Teams.
type Outbox interface {
	// PendingAlerts returns up to limit undelivered entries of target,
	// oldest first.
	PendingAlerts(ctx context.Context, target string, limit int) ([]Pending, error)
	// MarkDelivered records that the entries were accepted by target, so
	// they are never sent again.
	MarkDelivered(ctx context.Context, target string, ids []int64, at time.Time) error
	// RecordDeliveryFailure keeps the reason the last delivery to target
	// failed; its entries stay pending.
	RecordDeliveryFailure(ctx context.Context, target, msg string) error
}

// BatchSize is how many hits go into one message.
const BatchSize = 50

// TargetReport says what happened for one target.
type TargetReport struct {
	Target    string
	Sent      int  // hits accepted and marked delivered
	Messages  int  // messages accepted, heartbeat included
	Heartbeat bool // a heartbeat was sent
	Err       error
}

// Report is the outcome of Deliver.
type Report struct {
	Targets []TargetReport
}

// Sent is the number of hits delivered over all targets.
func (r Report) Sent() int {
	n := 0
	for _, t := range r.Targets {
		n += t.Sent
	}
	return n
}

// Deliver sends every pending hit of every target, BatchSize hits a
// message, oldest first. Entries are marked delivered only after the
// target accepted them; a failed message stops that target for this run
// (its entries stay pending for the next one, and the failure is
// recorded) without stopping the other targets. With nothing pending a
// target gets nothing, or one heartbeat when heartbeat is set; a target
// made WithHeartbeat decides that for itself.
//
// Delivery is at least once: if the receiver accepted a message but the
// outbox cannot record it, those hits may be sent again; Deliver returns
// that error so the caller can say so. The error joins every target's
// failure; the Report has the details.
func Deliver(ctx context.Context, targets []Target, ob Outbox, now time.Time, heartbeat bool) (Report, error) {
	var rep Report
	var errs []error
	for _, t := range targets {
		hb := heartbeat
		if hs, ok := t.(HeartbeatSetter); ok {
			if on, set := hs.Heartbeat(); set {
				hb = on
			}
		}
		tr := deliverTo(ctx, t, ob, now, hb)
		if tr.Err != nil {
			errs = append(errs, tr.Err)
		}
		rep.Targets = append(rep.Targets, tr)
	}
	return rep, errors.Join(errs...)
}

func deliverTo(ctx context.Context, t Target, ob Outbox, now time.Time, heartbeat bool) TargetReport {
	name := t.Name()
	tr := TargetReport{Target: name}
	sent := map[int64]bool{}
	for {
		if err := ctx.Err(); err != nil {
			tr.Err = fmt.Errorf("notify: %s: %w", name, err)
			return tr
		}
		batch, err := ob.PendingAlerts(ctx, name, BatchSize)
		if err != nil {
			tr.Err = fmt.Errorf("notify: %s: reading the outbox: %w", name, err)
			return tr
		}
		if len(batch) == 0 {
			if heartbeat && tr.Messages == 0 {
				a := Alert{Time: now, Heartbeat: true}
				if err := t.Send(ctx, a); err != nil {
					tr.Err = errors.Join(err, recordFailure(ctx, ob, name, err))
					return tr
				}
				tr.Messages++
				tr.Heartbeat = true
			}
			return tr
		}
		ids := make([]int64, 0, len(batch))
		a := Alert{Time: now, Hits: make([]indicator.Hit, 0, len(batch))}
		for _, p := range batch {
			if sent[p.ID] {
				// The outbox handed back an entry it was told was
				// delivered: stop rather than send it again in a loop.
				tr.Err = fmt.Errorf("notify: %s: outbox returned entry %d again after it was marked delivered", name, p.ID)
				return tr
			}
			ids = append(ids, p.ID)
			a.Hits = append(a.Hits, p.Hit)
			a.RunID = max(a.RunID, p.RunID)
		}
		a.Summary = a.summary()
		if len(batch) == BatchSize {
			a.Summary += "; more follow in the next message."
		}
		if err := t.Send(ctx, a); err != nil {
			tr.Err = errors.Join(err, recordFailure(ctx, ob, name, err))
			return tr
		}
		tr.Messages++
		// The receiver has the hits now: record it even if ctx just ended,
		// or they would be sent twice.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = ob.MarkDelivered(mctx, name, ids, now)
		cancel()
		if err != nil {
			tr.Err = fmt.Errorf("notify: %s: %d hits were delivered but could not be marked so (they may be sent again): %w", name, len(ids), err)
			return tr
		}
		for _, id := range ids {
			sent[id] = true
		}
		tr.Sent += len(ids)
		if len(batch) < BatchSize {
			return tr
		}
	}
}

// recordFailure keeps the reason; it runs even when ctx has ended so that
// an interrupted delivery is explained.
func recordFailure(ctx context.Context, ob Outbox, name string, err error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := ob.RecordDeliveryFailure(rctx, name, err.Error()); rerr != nil {
		return fmt.Errorf("notify: %s: recording the failure: %w", name, rerr)
	}
	return nil
}
