// Package retry is c2sweep's one way to call a service again after a
// failure: a bounded number of attempts, capped exponential backoff with
// jitter, a server's Retry-After honoured up to a bound, a deadline on
// every attempt (the whole body read included) and a cap on how much of a
// body is read. Shodan, hunting and notify all use it.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/clock"
)

// Policy says how often and how patiently to try.
type Policy struct {
	// Attempts is the most calls made, the first included (default 1).
	Attempts int
	// Base is the wait before the first retry, doubled for each further
	// one up to Max (defaults 1s and 30s).
	Base, Max time.Duration
	// MaxRetryAfter bounds a server's Retry-After: a longer wait is not
	// honoured and the error is returned at once, wrapped in
	// *WaitTooLongError (default 5m).
	MaxRetryAfter time.Duration
	// PerAttempt is the deadline of one attempt, reading the answer
	// included (0: none but ctx's).
	PerAttempt time.Duration
	// Jitter spreads a backoff (default Equal); Retry-After is never
	// jittered.
	Jitter func(time.Duration) time.Duration
	// Clock sleeps between attempts (default clock.Real).
	Clock clock.Clock
	// Before runs before every attempt with the caller's ctx: pacing and
	// rate limits go here, outside the attempt's deadline. Its error ends
	// Do (unwrapped if Permanent).
	Before func(ctx context.Context) error
	// OnRetry is told of each retry before its wait (logs, counters).
	OnRetry func(attempt int, wait time.Duration, err error)
}

// Equal waits between half and all of d, so many clients do not retry in
// step yet none waits much less than asked.
func Equal(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Backoff is the jittered wait before retry n (1-based).
func (p Policy) Backoff(n int) time.Duration {
	p = p.withDefaults()
	d := p.Max
	if n-1 < 32 {
		d = min(p.Base<<(n-1), p.Max)
	}
	if d <= 0 { // overflow
		d = p.Max
	}
	return p.Jitter(d)
}

func (p Policy) withDefaults() Policy {
	if p.Attempts < 1 {
		p.Attempts = 1
	}
	if p.Base <= 0 {
		p.Base = time.Second
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 5 * time.Minute
	}
	if p.Jitter == nil {
		p.Jitter = Equal
	}
	p.Clock = clock.Or(p.Clock)
	return p
}

// Do calls fn until it returns nil, returns an error marked Permanent,
// the attempts are spent or ctx ends. fn gets the attempt's context (with
// PerAttempt's deadline: read the whole answer inside fn) and the attempt
// number from 1. An error carrying a wait (Wait) is retried after that
// wait instead of the backoff. The error returned is fn's last one (never
// the Permanent wrapper); an attempt that ran out of time is reported as
// *TimeoutError.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context, attempt int) error) error {
	p = p.withDefaults()
	var last error
	for n := 1; ; n++ {
		if p.Before != nil {
			if err := p.Before(ctx); err != nil {
				var perm *permanent
				if errors.As(err, &perm) {
					return perm.err
				}
				return abandoned(err, last)
			}
		}
		err := attempt(ctx, p.PerAttempt, n, fn)
		if err == nil {
			return nil
		}
		var perm *permanent
		if errors.As(err, &perm) {
			return perm.err
		}
		if ctx.Err() != nil {
			return abandoned(ctx.Err(), err)
		}
		var ag *again
		if errors.As(err, &ag) {
			last = ag.err
			n--
			continue
		}
		last = err
		if n >= p.Attempts {
			return err
		}
		wait := p.Backoff(n)
		if ra, ok := Wait(err); ok {
			if ra > p.MaxRetryAfter {
				return &WaitTooLongError{Wait: ra, Max: p.MaxRetryAfter, Err: err}
			}
			wait = ra
		}
		if p.OnRetry != nil {
			p.OnRetry(n+1, wait, err)
		}
		if err := p.Clock.Sleep(ctx, wait); err != nil {
			return abandoned(err, last)
		}
	}
}

func attempt(ctx context.Context, d time.Duration, n int, fn func(context.Context, int) error) error {
	if d <= 0 {
		return fn(ctx, n)
	}
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := fn(actx, n)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		var perm *permanent
		if errors.As(err, &perm) {
			return &permanent{&TimeoutError{After: d, Err: perm.err}}
		}
		var ag *again
		if errors.As(err, &ag) {
			return err
		}
		return &TimeoutError{After: d, Err: err}
	}
	return err
}

// abandoned is the error of a call given up because ctx ended; it keeps
// the last attempt's error in its text.
func abandoned(ctxErr, last error) error {
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w (last error: %v)", ctxErr, last)
}

type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth another attempt.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

// AfterError is a failure whose server said when to try again.
type AfterError struct {
	Wait time.Duration
	Err  error
}

func (e *AfterError) Error() string { return e.Err.Error() }
func (e *AfterError) Unwrap() error { return e.Err }

// After marks err as retryable after wait (a Retry-After).
func After(wait time.Duration, err error) error { return &AfterError{Wait: wait, Err: err} }

// Wait returns the wait an error carries (AfterError, or any error with a
// RetryAfter() time.Duration method that returns more than zero).
func Wait(err error) (time.Duration, bool) {
	var ae *AfterError
	if errors.As(err, &ae) && ae.Wait > 0 {
		return ae.Wait, true
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		if d := ra.RetryAfter(); d > 0 {
			return d, true
		}
	}
	return 0, false
}

// ErrTimeout is matched (errors.Is) by a *TimeoutError.
var ErrTimeout = errors.New("no complete answer in time")

// TimeoutError is an attempt that ran past Policy.PerAttempt: the server
// did not answer, or did not finish the answer, in time.
type TimeoutError struct {
	After time.Duration
	Err   error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no complete answer within %s: %v", e.After, e.Err)
}
func (e *TimeoutError) Unwrap() error        { return e.Err }
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// WaitTooLongError is a failure whose server asked for a longer wait than
// Policy.MaxRetryAfter allows.
type WaitTooLongError struct {
	Wait, Max time.Duration
	Err       error
}

func (e *WaitTooLongError) Error() string {
	return fmt.Sprintf("%v; the server asks to wait %s, more than %s", e.Err, e.Wait, e.Max)
}
func (e *WaitTooLongError) Unwrap() error { return e.Err }

// ParseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date; 0 when absent, past or unusable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 1<<31)) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// ErrBodyTooLarge is matched (errors.Is) by a *BodyTooLargeError.
var ErrBodyTooLarge = errors.New("answer larger than allowed")

// BodyTooLargeError is an answer that went past a LimitBody cap.
type BodyTooLargeError struct{ Limit int64 }

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("answer larger than %d bytes: stopped reading", e.Limit)
}
func (e *BodyTooLargeError) Is(target error) bool { return target == ErrBodyTooLarge }

// LimitBody reads at most limit bytes of r; reading past them fails with
// *BodyTooLargeError instead of going on (io.LimitReader would end
// quietly, passing a cut answer off as whole).
func LimitBody(r io.Reader, limit int64) io.Reader { return &capped{r: r, left: limit, limit: limit} }

type capped struct {
	r           io.Reader
	left, limit int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, &BodyTooLargeError{c.limit}
	}
	// Ask for one byte more than allowed, to tell a body of exactly limit
	// bytes from a longer one.
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		n += int(c.left)
		return n, &BodyTooLargeError{c.limit}
	}
	return n, err
}

// ReadAll reads r whole up to limit bytes.
func ReadAll(r io.Reader, limit int64) ([]byte, error) { return io.ReadAll(LimitBody(r, limit)) }

type again struct{ err error }

func (a *again) Error() string { return a.err.Error() }
func (a *again) Unwrap() error { return a.err }

// Again marks err as fixed by the caller already (a renewed token): Do
// tries again at once, and the attempt does not count against
// Policy.Attempts. The caller must make sure it cannot recur forever.
func Again(err error) error { return &again{err} }
