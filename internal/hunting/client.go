package hunting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"c2sweep/internal/clock"
)

// Options configures a hunting client.
type Options struct {
	// BaseURL is the API root (default https://graph.microsoft.com for
	// Graph, https://api.securitycenter.microsoft.com for MDE); --api-url
	// replaces it for sovereign clouds and the lab.
	BaseURL    string
	Credential azcore.TokenCredential
	// Scope is the token scope (default: the API's public-cloud resource
	// + /.default).
	Scope      string
	HTTPClient *http.Client
	// PerMinute is the call budget over any 60 s window (default 45, the
	// services' limit per tenant).
	PerMinute int
	// MaxRetries bounds retries of one call after 429, 5xx and transport
	// errors (default 6).
	MaxRetries int
	// Now and Sleep replace the clock in tests.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	// Logger receives retries and throttling (default: discard).
	Logger *slog.Logger
}

// Retry bounds: a 429's Retry-After is honoured up to maxRetryAfter; 5xx
// and transport errors back off from backoffBase doubling to backoffMax.
const (
	maxRetryAfter = 5 * time.Minute
	backoffBase   = time.Second
	backoffMax    = 30 * time.Second
)

// client is what the Graph and MDE hunters share: limiter, retries, token
// renewal and the streaming decoder. Only the wire names differ.
type client struct {
	api      string // "graph" or "mde"
	endpoint string
	opts     Options
	tokens   *tokenSource
	limit    *window
	log      *slog.Logger
	body     func(Request) any
}

func newClient(api, defaultBase, path, defaultScope string, o Options, body func(Request) any) *client {
	if o.BaseURL == "" {
		o.BaseURL = defaultBase
	}
	if o.Scope == "" {
		o.Scope = defaultScope
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.PerMinute <= 0 {
		o.PerMinute = 45
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 6
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &client{
		api:      api,
		endpoint: strings.TrimRight(o.BaseURL, "/") + path,
		opts:     o,
		tokens:   &tokenSource{cred: o.Credential, scope: o.Scope, now: o.Now},
		limit:    newWindow(o.PerMinute, time.Minute, o.Now, o.Sleep),
		log:      o.Logger.With("api", api),
		body:     body,
	}
}

// Hunt implements Hunter.
// SignIn gets the API's token now, so that a refused credential is known
// before a run spends Shodan credits and time. The token is kept for the
// first call.
func (c *client) SignIn(ctx context.Context) error {
	if c.opts.Credential == nil {
		return fmt.Errorf("%s: %w: no credential", c.api, ErrAuth)
	}
	if _, err := c.tokens.token(ctx); err != nil {
		return fmt.Errorf("%s: %w", c.api, err)
	}
	return nil
}

func (c *client) Hunt(ctx context.Context, req Request, schema func([]Column) error, row func(Row) error) (Stats, error) {
	began := c.opts.Now()
	var st Stats
	defer func() { st.Duration = c.opts.Now().Sub(began) }()
	if c.opts.Credential == nil {
		return st, fmt.Errorf("%s: %w: no credential", c.api, ErrAuth)
	}
	payload, err := json.Marshal(c.body(req))
	if err != nil {
		return st, err
	}
	renewed := false
	failures := 0
	for {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return st, fmt.Errorf("%s: %w", c.api, err)
		}
		done, err := c.limit.wait(ctx)
		if err != nil {
			return st, err
		}
		st.Attempts++
		resp, err := c.send(ctx, tok, payload)
		if err != nil {
			done()
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			if failures >= c.opts.MaxRetries {
				return st, fmt.Errorf("%s: giving up after %d attempts: %w", c.api, st.Attempts, err)
			}
			d := c.backoff(failures)
			failures++
			c.log.Warn("hunting call failed; retrying", "err", err, "in", d)
			if err := c.opts.Sleep(ctx, d); err != nil {
				return st, err
			}
			continue
		}
		if resp.StatusCode == http.StatusOK {
			delivered, err := c.decode(resp.Body, schema, row, &st)
			resp.Body.Close()
			done()
			if err == nil || delivered || errors.Is(err, errCallback) || failures >= c.opts.MaxRetries {
				// Rows already handed out cannot be taken back: a broken
				// answer after the first row is not retried.
				return st, unwrapCallback(err)
			}
			d := c.backoff(failures)
			failures++
			c.log.Warn("hunting answer cut short; retrying", "err", err, "in", d)
			if err := c.opts.Sleep(ctx, d); err != nil {
				return st, err
			}
			continue
		}
		apiErr := c.apiError(resp)
		done()
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			st.Throttled++
			if failures >= c.opts.MaxRetries {
				return st, fmt.Errorf("%s: still throttled after %d attempts: %w", c.api, st.Attempts, apiErr)
			}
			failures++
			d := apiErr.RetryAfter
			if d <= 0 {
				d = c.backoff(failures - 1)
			}
			d = min(d, maxRetryAfter)
			c.log.Warn("throttled by the hunting API", "retry_after", d, "message", apiErr.Message)
			if err := c.opts.Sleep(ctx, d); err != nil {
				return st, err
			}
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			renewed = true
			c.log.Info("token refused; renewing", "message", apiErr.Message)
			if _, err := c.tokens.renew(ctx, tok); err != nil {
				return st, fmt.Errorf("%s: %w", c.api, err)
			}
		case resp.StatusCode == http.StatusForbidden:
			return st, fmt.Errorf("%w: %w\nhint: grant the app registration the application permission %s, with admin consent", ErrAuth, apiErr, c.permission())
		case resp.StatusCode == http.StatusUnauthorized:
			return st, fmt.Errorf("%w: %w\nhint: the API refused a fresh token: check that --api and --api-url name the service the token is for, and the tenant", ErrAuth, apiErr)
		case resp.StatusCode >= 500:
			if failures >= c.opts.MaxRetries {
				return st, fmt.Errorf("%s: giving up after %d attempts: %w", c.api, st.Attempts, apiErr)
			}
			d := c.backoff(failures)
			failures++
			c.log.Warn("hunting API error; retrying", "status", resp.StatusCode, "in", d)
			if err := c.opts.Sleep(ctx, d); err != nil {
				return st, err
			}
		case resp.StatusCode == http.StatusRequestEntityTooLarge,
			resp.StatusCode == http.StatusBadRequest && isOverLimits(apiErr.Message):
			return st, fmt.Errorf("%w: %w", ErrTooLarge, apiErr)
		default:
			return st, apiErr
		}
	}
}

// permission names the application permission the API needs.
func (c *client) permission() string {
	switch {
	case c.api == "graph":
		return "ThreatHunting.Read.All (Microsoft Graph)"
	case strings.HasSuffix(c.endpoint, m365DefenderPath):
		return "AdvancedHunting.Read.All (Microsoft Threat Protection)"
	}
	return "AdvancedQuery.Read.All (WindowsDefenderATP)"
}

// isOverLimits recognises the services' answer to a query over their
// size or CPU limits.
func isOverLimits(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "exceeded the allowed limits") || strings.Contains(m, "query is too long") ||
		strings.Contains(m, "exceeded the allowed result size")
}

// backoff is the wait before retry n (0-based), with jitter so that many
// clients do not retry in step.
func (c *client) backoff(n int) time.Duration {
	d := backoffBase << min(n, 10)
	if d > backoffMax {
		d = backoffMax
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (c *client) send(ctx context.Context, tok string, payload []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "c2sweep")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		// A *url.Error holds the URL only; the token travels in a header.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("POST %s: %w", c.endpoint, ue.Err)
		}
		return nil, err
	}
	return resp, nil
}

// apiError reads an error answer: Graph's error{code, message,
// innerError{request-id}} or MDE's error{code, message, target}; anything
// else (an HTML 502 from a proxy) keeps its status and a short excerpt.
func (c *client) apiError(resp *http.Response) *APIError {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &APIError{API: c.api, Status: resp.StatusCode}
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			Target     string `json:"target"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && (env.Error.Code != "" || env.Error.Message != "") {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		e.RequestID = env.Error.InnerError.RequestID
		if e.RequestID == "" {
			e.RequestID = env.Error.Target
		}
	} else {
		e.Message = excerpt(body)
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("request-id")
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && s >= 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.RetryAfter = t.Sub(c.opts.Now())
		}
	}
	return e
}

func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// errCallback marks an error returned by the caller's schema or row func,
// which is passed back unchanged.
var errCallback = errors.New("callback")

type callbackError struct{ err error }

func (e *callbackError) Error() string        { return e.err.Error() }
func (e *callbackError) Unwrap() error        { return e.err }
func (e *callbackError) Is(target error) bool { return target == errCallback }

func unwrapCallback(err error) error {
	var ce *callbackError
	if errors.As(err, &ce) {
		return ce.err
	}
	return err
}
