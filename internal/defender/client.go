// Package defender pushes c2sweep's C2 IPs to Microsoft Defender for
// Endpoint as custom indicators (the MDE Indicators API), idempotently:
// it reads back what c2sweep owns, sends only what is new or whose expiry
// moved, and deletes what it created that is no longer wanted. Indicators
// made by people or other tools are never touched.
package defender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
	"c2sweep/internal/redact"
	"c2sweep/internal/retry"
)

// The Defender for Endpoint API and its limits (see the API contracts).
const (
	BaseURL = "https://api.securitycenter.microsoft.com"
	Scope   = BaseURL + "/.default"
	// Permission is the application permission a push needs: Ti.ReadWrite
	// would see only the app's own indicators, not the tenant's count.
	Permission = "Ti.ReadWrite.All (WindowsDefenderATP)"
	// Application marks the indicators c2sweep owns.
	Application = "c2sweep"

	MaxBatch       = 500   // indicators per import or BatchDelete call
	CallsPerMinute = 30    // import and BatchDelete calls
	TenantCap      = 15000 // active indicators per tenant, no increase possible
	pageSize       = 10000 // $top of a list call
	listPerMinute  = 100
)

// Bounds of one call.
const (
	attemptTimeout = 2 * time.Minute
	maxBody        = 64 << 20
	maxRetries     = 6
	maxRetryAfter  = 5 * time.Minute
)

// ErrAuth is matched by sign-in and permission failures (also
// hunting.ErrAuth's errors, so a sign-in failure reads the same).
var ErrAuth = hunting.ErrAuth

// Options configures a Client.
type Options struct {
	// BaseURL is the API root (default BaseURL); sovereign clouds and the
	// lab replace it. It must be https.
	BaseURL    string
	Credential azcore.TokenCredential
	// Scope is the token scope (default Scope).
	Scope      string
	HTTPClient *http.Client
	Clock      clock.Clock
	Logger     *slog.Logger
	// Cap is the tenant's indicator cap (default TenantCap).
	Cap int
	// MaxRetries bounds retries of one call after 429, 5xx and transport
	// errors (default 6).
	MaxRetries int
	// BatchSize is the most indicators an import or BatchDelete call
	// carries (default and most MaxBatch); PageSize the $top of a list
	// call (default and most 10,000). Tests make them small.
	BatchSize, PageSize int
}

// Client talks to the Defender indicators API.
type Client struct {
	base   string
	o      Options
	clock  clock.Clock
	tokens *hunting.TokenSource
	writes *hunting.Limiter // import and BatchDelete: 30 a minute
	reads  *hunting.Limiter // list: 100 a minute
	log    *slog.Logger
	calls  Calls
	tok    string // the last token sent, hidden in the service's text
}

// Calls counts the HTTP calls a client made, by kind (retries included).
type Calls struct {
	List, Import, Delete, Throttled int
}

// New returns a client; it refuses a non-https API root.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = BaseURL
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("defender api url %q: want an https URL", redact.Text(o.BaseURL))
	}
	if o.Scope == "" {
		o.Scope = Scope
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Cap <= 0 {
		o.Cap = TenantCap
	}
	if o.BatchSize <= 0 || o.BatchSize > MaxBatch {
		o.BatchSize = MaxBatch
	}
	if o.PageSize <= 0 || o.PageSize > pageSize {
		o.PageSize = pageSize
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = maxRetries
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	clk := clock.Or(o.Clock)
	return &Client{
		base:   strings.TrimRight(o.BaseURL, "/"),
		o:      o,
		clock:  clk,
		tokens: hunting.NewTokenSource(o.Credential, o.Scope, clk),
		writes: hunting.NewLimiter(CallsPerMinute, time.Minute, clk),
		reads:  hunting.NewLimiter(listPerMinute, time.Minute, clk),
		log:    o.Logger.With("api", "defender"),
	}, nil
}

// Calls returns how many calls the client made so far.
func (c *Client) Calls() Calls { return c.calls }

// SignInError is a token for the Defender API that could not be had. It
// names the permission a push needs, and wraps the sign-in's own error
// (a *hunting.SignInError says what failed); it matches ErrAuth.
type SignInError struct{ Err error }

func (e *SignInError) Error() string {
	return "defender: sign-in for the indicators API (it needs " + Permission + "): " + e.Err.Error()
}
func (e *SignInError) Unwrap() error { return e.Err }

// APIError is an error the indicators API answered with.
type APIError struct {
	Status     int
	Code       string
	Message    string
	Target     string // the correlation id
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := "defender: HTTP " + strconv.Itoa(e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Target != "" {
		s += " (correlation id " + e.Target + ")"
	}
	return s
}

// do sends one call through the one retry helper: the limiter paces it,
// a 429 waits its Retry-After, 5xx and transport errors back off, a
// refused token is renewed once, 401/403 after that is *hunting.AccessError
// naming Ti.ReadWrite.All. out, when not nil, receives the 2xx body.
func (c *Client) do(ctx context.Context, method, path string, body any, lim *hunting.Limiter, count *int, out any) error {
	if c.o.Credential == nil {
		return fmt.Errorf("defender: %w: no credential", ErrAuth)
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	var (
		tok     string
		done    = func() {}
		renewed bool
	)
	p := retry.Policy{
		Attempts:      c.o.MaxRetries + 1,
		MaxRetryAfter: maxRetryAfter,
		PerAttempt:    attemptTimeout,
		Clock:         c.clock,
		Before: func(ctx context.Context) error {
			var err error
			if tok, err = c.tokens.Token(ctx); err != nil {
				return retry.Permanent(&SignInError{err})
			}
			c.tok = tok
			done, err = lim.Wait(ctx)
			return err
		},
		OnRetry: func(_ int, wait time.Duration, err error) {
			c.log.Warn("defender call failed; retrying", "err", redact.Text(err.Error(), tok), "in", wait)
		},
	}
	err := retry.Do(ctx, p, func(actx context.Context, _ int) error {
		defer done()
		*count++
		req, err := http.NewRequestWithContext(actx, method, c.base+path, bytes.NewReader(payload))
		if err != nil {
			return retry.Permanent(err)
		}
		if req.URL.Scheme != "https" {
			return retry.Permanent(fmt.Errorf("defender: the API root %q is not https", c.base))
		}
		if payload != nil {
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("User-Agent", "c2sweep")
		resp, err := c.o.HTTPClient.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL is ours; keep the cause
			}
			return fmt.Errorf("defender: %s %s: %s", method, path, redact.Text(err.Error(), tok))
		}
		defer resp.Body.Close()
		data, rerr := retry.ReadAll(resp.Body, maxBody)
		if resp.StatusCode/100 == 2 {
			if rerr != nil {
				return fmt.Errorf("defender: %s %s: %w", method, path, rerr)
			}
			if out != nil && len(data) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					return retry.Permanent(fmt.Errorf("defender: %s %s: unreadable answer: %w", method, path, err))
				}
			}
			return nil
		}
		apiErr := c.apiError(resp, data, tok)
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			c.calls.Throttled++
			return retry.After(apiErr.RetryAfter, apiErr)
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			renewed = true
			if _, err := c.tokens.Renew(ctx, tok); err != nil {
				return retry.Permanent(&SignInError{err})
			}
			return retry.Again(apiErr)
		case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
			return retry.Permanent(&hunting.AccessError{API: "defender", Permission: Permission, Status: resp.StatusCode, Err: apiErr})
		case resp.StatusCode >= 500:
			return apiErr
		}
		return retry.Permanent(apiErr)
	})
	var apiErr *APIError
	if err != nil && errors.As(err, &apiErr) && apiErr.Status == http.StatusTooManyRequests {
		return fmt.Errorf("defender: still throttled after %d attempts: %w", c.o.MaxRetries+1, err)
	}
	return err
}

// apiError reads the service's error envelope, redacting anything that
// looks like a credential (a proxy may echo the request).
func (c *Client) apiError(resp *http.Response, data []byte, tok string) *APIError {
	e := &APIError{Status: resp.StatusCode, RetryAfter: retry.ParseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && (env.Error.Code != "" || env.Error.Message != "") {
		e.Code = redact.Text(env.Error.Code, tok)
		e.Message = redact.Text(env.Error.Message, tok)
		e.Target = redact.Text(env.Error.Target, tok)
		return e
	}
	e.Message = redact.Excerpt(data, 300, tok)
	return e
}
