package retry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/clock"
)

var start = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func noJitter(d time.Duration) time.Duration { return d }

func TestDoBackoffAndRetryAfter(t *testing.T) {
	clk := clock.NewFake(start)
	p := Policy{Attempts: 5, Base: time.Second, Max: 3 * time.Second, Jitter: noJitter, Clock: clk}
	calls := 0
	err := Do(context.Background(), p, func(ctx context.Context, n int) error {
		calls++
		if n != calls {
			t.Errorf("attempt %d reported as %d", calls, n)
		}
		if n == 3 {
			return After(7*time.Second, errors.New("throttled"))
		}
		return errors.New("boom")
	})
	if err == nil || err.Error() != "boom" || calls != 5 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 7 * time.Second, 3 * time.Second}
	if got := clk.Slept(); !equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDoPermanentAndWaitTooLong(t *testing.T) {
	clk := clock.NewFake(start)
	calls := 0
	sentinel := errors.New("refused")
	err := Do(context.Background(), Policy{Attempts: 5, Clock: clk}, func(context.Context, int) error {
		calls++
		return Permanent(sentinel)
	})
	if err != sentinel || calls != 1 {
		t.Errorf("permanent: %v after %d calls", err, calls)
	}
	calls = 0
	err = Do(context.Background(), Policy{Attempts: 5, MaxRetryAfter: time.Minute, Clock: clk}, func(context.Context, int) error {
		calls++
		return After(time.Hour, sentinel)
	})
	var wtl *WaitTooLongError
	if !errors.As(err, &wtl) || !errors.Is(err, sentinel) || calls != 1 {
		t.Errorf("retry-after 1h: %v after %d calls", err, calls)
	}
	if len(clk.Slept()) != 0 {
		t.Errorf("slept %v", clk.Slept())
	}
}

// An attempt that outlives PerAttempt ends with a TimeoutError and the
// next attempt gets a fresh deadline.
func TestDoPerAttemptDeadline(t *testing.T) {
	clk := clock.NewFake(start)
	calls := 0
	err := Do(context.Background(), Policy{Attempts: 2, PerAttempt: 10 * time.Millisecond, Clock: clk}, func(ctx context.Context, _ int) error {
		calls++
		<-ctx.Done() // a server that never answers
		return ctx.Err()
	})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || calls != 2 {
		t.Errorf("%v after %d calls", err, calls)
	}
}

func TestDoCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := Do(ctx, Policy{Attempts: 9, Clock: clock.NewFake(start)}, func(context.Context, int) error {
		cancel()
		return errors.New("boom")
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("%v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "-1": 0, "x": 0,
		start.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		if got := ParseRetryAfter(v, start); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

func TestLimitBody(t *testing.T) {
	b, err := ReadAll(strings.NewReader("12345"), 5)
	if err != nil || string(b) != "12345" {
		t.Errorf("exactly at the cap: %q %v", b, err)
	}
	b, err = ReadAll(strings.NewReader("123456"), 5)
	if !errors.Is(err, ErrBodyTooLarge) || string(b) != "12345" {
		t.Errorf("over the cap: %q %v", b, err)
	}
	// An endless body stops at the cap.
	n, err := io.Copy(io.Discard, LimitBody(endless{}, 1<<20))
	if !errors.Is(err, ErrBodyTooLarge) || n != 1<<20 {
		t.Errorf("endless: %d %v", n, err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

// Before paces every attempt with the caller's ctx; its error ends Do.
func TestDoBefore(t *testing.T) {
	clk := clock.NewFake(start)
	befores, calls := 0, 0
	refused := errors.New("no token")
	p := Policy{Attempts: 3, Clock: clk, Before: func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); ok {
			t.Error("Before runs under the attempt's deadline")
		}
		if befores++; befores == 3 {
			return Permanent(refused)
		}
		return nil
	}, PerAttempt: time.Minute}
	err := Do(context.Background(), p, func(context.Context, int) error { calls++; return errors.New("boom") })
	if err != refused || befores != 3 || calls != 2 {
		t.Errorf("err %v, %d befores, %d calls", err, befores, calls)
	}
	// Again retries at once without using up an attempt.
	calls = 0
	err = Do(context.Background(), Policy{Attempts: 1, Clock: clk}, func(context.Context, int) error {
		if calls++; calls == 1 {
			return Again(errors.New("token renewed"))
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("again: %v after %d calls", err, calls)
	}
}
