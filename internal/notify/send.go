package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/redact"
	"c2sweep/internal/retry"
)

// DeliveryError is a failed delivery. Its text names the target as
// "NAME (kind)" and never contains the URL.
type DeliveryError struct {
	Target     string // "NAME (kind)"
	Status     int    // last HTTP status (0: no response)
	Attempts   int
	Retryable  bool          // a later run may succeed (throttling, outage)
	RetryAfter time.Duration // what the receiver asked for, if it did
	msg        string
	err        error // ctx errors, for errors.Is; never a *url.Error
}

func (e *DeliveryError) Error() string {
	s := "notify: " + e.Target + ": " + e.msg
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

func (e *DeliveryError) Unwrap() error { return e.err }

// Send delivers a as one message, retrying throttling (429, Retry-After
// honoured up to a bound), server errors (5xx), 408 and transport errors
// with capped exponential backoff. Other 4xx are not retried: the same
// message would be refused again.
func (t *target) Send(ctx context.Context, a Alert) error {
	body, err := t.format(a, t.cfg.maxHits)
	if err != nil {
		return t.fail(0, 0, false, 0, fmt.Sprintf("encoding the message: %v", err), nil)
	}
	var last *DeliveryError
	policy := retry.Policy{
		Attempts:      t.cfg.attempts,
		Base:          t.cfg.baseDelay,
		Max:           t.cfg.maxDelay,
		MaxRetryAfter: t.cfg.maxRetryAfter,
		PerAttempt:    t.cfg.attemptTime,
		Jitter:        t.cfg.jitter,
		Clock:         t.cfg.clock,
		OnRetry: func(attempt int, wait time.Duration, _ error) {
			t.cfg.log.Info("notify: retrying delivery", "target", t.label, "attempt", attempt,
				"wait", wait, "reason", last.msg)
		},
	}
	err = retry.Do(ctx, policy, func(actx context.Context, n int) error {
		last = t.attempt(actx, body, n)
		switch {
		case last == nil:
			return nil
		case actx.Err() != nil && ctx.Err() == nil:
			last = t.fail(0, n, true, 0, fmt.Sprintf("no answer within %s", t.cfg.attemptTime), nil)
			return last
		case !last.Retryable:
			return retry.Permanent(last)
		case last.RetryAfter > 0:
			return retry.After(last.RetryAfter, last)
		}
		return last
	})
	var tooLong *retry.WaitTooLongError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && last != nil && !errors.Is(last, ctx.Err()):
		return t.fail(last.Status, last.Attempts, true, 0, "delivery abandoned: "+ctx.Err().Error()+"; last error: "+last.msg, ctx.Err())
	case errors.As(err, &tooLong):
		last.msg += fmt.Sprintf("; receiver asks to wait %s, more than %s: left for the next run",
			tooLong.Wait, tooLong.Max)
	}
	if last == nil {
		return t.fail(0, 0, true, 0, "delivery abandoned: "+err.Error(), err)
	}
	return last
}

// attempt makes one HTTP call; nil means accepted.
func (t *target) attempt(ctx context.Context, body []byte, n int) *DeliveryError {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url.String(), bytes.NewReader(body))
	if err != nil {
		return t.fail(0, n, false, 0, "building the request failed", nil)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", t.cfg.userAgent)
	resp, err := t.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return t.fail(0, n, true, 0, "delivery abandoned: "+ctx.Err().Error(), ctx.Err())
		}
		return t.fail(0, n, true, 0, "sending failed: "+t.transportError(err), nil)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	status := resp.StatusCode
	snippet := t.redact(clip(strings.TrimSpace(string(text)), 200))

	if status >= 200 && status < 300 {
		// Teams' classic connectors answer 200 even when Teams refused the
		// message, and say so in the body.
		if t.kind == KindTeams {
			if code, ok := teamsBuriedStatus(string(text)); ok {
				retry := code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
				return t.fail(status, n, retry, 0, fmt.Sprintf("Teams refused the message with HTTP %d: %s", code, snippet), nil)
			}
		}
		return nil
	}
	msg := fmt.Sprintf("HTTP %d", status)
	if snippet != "" && status/100 != 3 { // a redirect's body names where it points
		msg += ": " + snippet
	}
	switch {
	case status == http.StatusTooManyRequests:
		return t.fail(status, n, true, retry.ParseRetryAfter(resp.Header.Get("Retry-After"), t.cfg.clock.Now()), msg, nil)
	case status == http.StatusRequestTimeout || status >= 500:
		return t.fail(status, n, true, retry.ParseRetryAfter(resp.Header.Get("Retry-After"), t.cfg.clock.Now()), msg, nil)
	case status >= 300 && status < 400:
		return t.fail(status, n, false, 0, msg+" (redirects are not followed)", nil)
	default:
		return t.fail(status, n, false, 0, msg, nil)
	}
}

func (t *target) fail(status, attempts int, retry bool, ra time.Duration, msg string, err error) *DeliveryError {
	return &DeliveryError{Target: t.label, Status: status, Attempts: attempts, Retryable: retry,
		RetryAfter: ra, msg: t.redact(msg), err: err}
}

// transportError describes a failed call without the URL that *url.Error
// would print.
func (t *target) transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return t.redact(err.Error())
}

// redact removes the URL, and its path and query on their own, from s,
// and whatever else looks like a secret (a receiver may echo a token).
func (t *target) redact(s string) string {
	secrets := []string{t.url.String(), t.url.Redacted()}
	if p := t.url.EscapedPath(); len(p) > 1 {
		secrets = append(secrets, p, t.url.Path)
	}
	if t.url.RawQuery != "" {
		secrets = append(secrets, t.url.RawQuery)
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, t.label)
		}
	}
	return redact.Text(s)
}

var teamsBuried = regexp.MustCompile(`(?i)returned HTTP error (\d{3})`)

// teamsBuriedStatus finds the status Teams hid in a 200 body ("Webhook
// message delivery failed with error: Microsoft Teams endpoint returned
// HTTP error 429 with ContextId ...").
func teamsBuriedStatus(body string) (int, bool) {
	m := teamsBuried.FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	code, _ := strconv.Atoi(m[1])
	return code, true
}
