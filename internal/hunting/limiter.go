package hunting

import (
	"context"
	"sync"
	"time"

	"c2sweep/internal/clock"
)

// window keeps calls at most n over any sliding window of length per, the
// way the services count them. A token bucket would allow a burst of n
// right after n calls spread over the window's end, which a sliding window
// refuses; so this keeps the times of the last n calls instead.
//
// A call's time is recorded when it is sent and moved to when its answer
// arrives: the service counted it somewhere in between, so the later time
// is the safe one to age it from.
type window struct {
	n     int
	per   time.Duration
	clock clock.Clock

	mu    sync.Mutex
	slots []time.Time // ring of the last n calls' times
	next  int
}

func newWindow(n int, per time.Duration, clk clock.Clock) *window {
	return &window{n: n, per: per, clock: clk, slots: make([]time.Time, n)}
}

// wait blocks until a call may be sent, reserves it and returns a func to
// call when its answer has arrived.
func (w *window) wait(ctx context.Context) (done func(), err error) {
	for {
		w.mu.Lock()
		now := w.clock.Now()
		i := w.next
		free := w.slots[i].IsZero() || !now.Before(w.slots[i].Add(w.per))
		if free {
			w.slots[i] = now
			w.next = (i + 1) % w.n
			w.mu.Unlock()
			return func() {
				w.mu.Lock()
				if t := w.clock.Now(); t.After(w.slots[i]) {
					w.slots[i] = t
				}
				w.mu.Unlock()
			}, nil
		}
		d := w.slots[i].Add(w.per).Sub(now)
		w.mu.Unlock()
		if err := w.clock.Sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}
