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
