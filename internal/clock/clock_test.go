package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	ctx := context.Background()
	if err := Sleep(ctx, 0); err != nil {
		t.Errorf("zero: %v", err)
	}
	if err := Sleep(ctx, time.Millisecond); err != nil {
		t.Errorf("1ms: %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	// An ended context is reported even when there is nothing to wait for,
	// and a long wait ends at once.
	if err := Sleep(done, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("zero, cancelled: %v", err)
	}
	if err := Sleep(done, -time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("negative, cancelled: %v", err)
	}
	if err := Sleep(done, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("hour, cancelled: %v", err)
	}
	late, cancel2 := context.WithCancel(ctx)
	go func() { time.Sleep(5 * time.Millisecond); cancel2() }()
	if err := Sleep(late, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while sleeping: %v", err)
	}
}

func TestFake(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := NewFake(start)
	var _ Clock = c
	ch := c.After(90 * time.Second)
	if err := c.Sleep(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Errorf("after Sleep(1m): %v", got)
	}
	select {
	case <-ch:
		t.Fatal("After(90s) fired at 60s")
	default:
	}
	c.Advance(30 * time.Second)
	select {
	case at := <-ch:
		if !at.Equal(start.Add(90 * time.Second)) {
			t.Errorf("fired at %v", at)
		}
	default:
		t.Fatal("After(90s) did not fire at 90s")
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(done, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if got := c.Slept(); len(got) != 1 || got[0] != time.Minute {
		t.Errorf("slept %v", got)
	}
	if c.Waiters() != 0 {
		t.Errorf("%d waiters left", c.Waiters())
	}
}
