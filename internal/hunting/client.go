package hunting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"c2sweep/internal/clock"
	"c2sweep/internal/redact"
	"c2sweep/internal/retry"
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
	// errors (default 6). A call that ran out of time is retried once.
	MaxRetries int
	// AttemptTimeout bounds one call, the whole answer read included
	// (default DefaultAttemptTimeout).
	AttemptTimeout time.Duration
	// MaxBody bounds the size of one answer (default DefaultGraphMaxBody
	// or DefaultMDEMaxBody); a longer one fails the query with
	// retry.ErrBodyTooLarge.
	MaxBody int64
	// Clock paces, backs off and times calls (default clock.Real).
	Clock clock.Clock
	// Logger receives retries and throttling (default: discard).
	Logger *slog.Logger
	// Workspace is the Log Analytics workspace id (sentinel only).
	Workspace string
	// Wait is the server timeout a Log Analytics query asks for with
	// Prefer: wait=N (sentinel only; default 3 min, at most 10 min).
	Wait time.Duration
}

// Bounds of one call. The services give up on a query after 3 minutes
// (Graph) or 200 s (MDE) and answer with an error; a call still without a
// complete answer after DefaultAttemptTimeout will not get one. MDE
// documents answers of up to 124 MB; Graph's 100,000 rows may be longer.
const (
	DefaultAttemptTimeout       = 4 * time.Minute
	DefaultMDEMaxBody     int64 = 128 << 20
	DefaultGraphMaxBody   int64 = 256 << 20
)

// Retry bounds: a 429's Retry-After is honoured up to maxRetryAfter; 5xx
// and transport errors back off from backoffBase doubling to backoffMax.
const (
	maxRetryAfter = 5 * time.Minute
	backoffBase   = time.Second
	backoffMax    = 30 * time.Second
)

// ErrOverQuota is matched (errors.Is) by a refusal saying the tenant has
// spent its CPU quota: smaller queries would be refused the same way, so
// the query is neither split nor retried.
var ErrOverQuota = errors.New("the tenant is over its hunting CPU quota")

// client is what the Graph and MDE hunters share: limiter, retries, token
// renewal and the streaming decoder. Only the wire names differ.
type client struct {
	api      string // "graph" or "mde"
	endpoint string
	opts     Options
	clock    clock.Clock
	tokens   *tokenSource
	limit    *window
	log      *slog.Logger
	body     func(Request) any
	// Log Analytics: the Prefer header, and answers as tables of
	// positional rows rather than objects.
	prefer string
	tables bool
}

func newClient(api, defaultBase, path, defaultScope string, maxBody int64, o Options, body func(Request) any) *client {
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
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = maxBody
	}
	clk := clock.Or(o.Clock)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &client{
		api:      api,
		endpoint: strings.TrimRight(o.BaseURL, "/") + path,
		opts:     o,
		clock:    clk,
		tokens:   &tokenSource{cred: o.Credential, scope: o.Scope, now: clk.Now},
		limit:    newWindow(o.PerMinute, time.Minute, clk),
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
	began := c.clock.Now()
	var st Stats
	defer func() { st.Duration = c.clock.Now().Sub(began) }()
	if c.opts.Credential == nil {
		return st, fmt.Errorf("%s: %w: no credential", c.api, ErrAuth)
	}
	payload, err := json.Marshal(c.body(req))
	if err != nil {
		return st, err
	}
	var (
		tok      string
		done     = func() {}
		renewed  bool
		timeouts int
		cbErr    error // the caller's own error, passed back as is
	)
	policy := retry.Policy{
		Attempts:      c.opts.MaxRetries + 1,
		Base:          backoffBase,
		Max:           backoffMax,
		MaxRetryAfter: maxRetryAfter,
		PerAttempt:    c.opts.AttemptTimeout,
		Clock:         c.clock,
		Before: func(ctx context.Context) error {
			var err error
			if tok, err = c.tokens.token(ctx); err != nil {
				return retry.Permanent(fmt.Errorf("%s: %w", c.api, err))
			}
			done, err = c.limit.wait(ctx)
			return err
		},
		OnRetry: func(_ int, wait time.Duration, err error) {
			c.log.Warn("hunting call failed; retrying", "err", err, "in", wait)
		},
	}
	err = retry.Do(ctx, policy, func(actx context.Context, _ int) error {
		defer done()
		st.Attempts++
		// No complete answer in time: once may be bad luck, twice is a
		// server that does not answer this query.
		retryTimeout := func(err error) error {
			if actx.Err() != nil && ctx.Err() == nil {
				if timeouts++; timeouts > 1 {
					return retry.Permanent(err)
				}
			}
			return err
		}
		resp, err := c.send(actx, tok, payload)
		if err != nil {
			return retryTimeout(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNoContent {
			// Log Analytics: a workspace without data answers 204, no body.
			return nil
		}
		if resp.StatusCode == http.StatusOK {
			decode := c.decode
			if c.tables {
				decode = c.decodeTables
			}
			delivered, err := decode(retry.LimitBody(resp.Body, c.opts.MaxBody), schema, row, &st)
			if pe := (*PartialError)(nil); errors.As(err, &pe) {
				pe.redact(tok)
			}
			if errors.Is(err, errCallback) {
				cbErr = unwrapCallback(err)
				return retry.Permanent(cbErr)
			}
			if err != nil && (delivered || errors.Is(err, retry.ErrBodyTooLarge) || errors.Is(err, ErrTooLarge)) {
				// Rows already handed out cannot be taken back: a broken
				// answer after the first row is not retried, nor one that
				// will be too large (or truncated) again.
				return retry.Permanent(err)
			}
			return retryTimeout(err)
		}
		apiErr := c.apiError(resp, tok)
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			st.Throttled++
			c.log.Warn("throttled by the hunting API", "retry_after", apiErr.RetryAfter, "message", apiErr.Message)
			return retry.After(apiErr.RetryAfter, apiErr)
		case resp.StatusCode == http.StatusUnauthorized && !renewed:
			renewed = true
			c.log.Info("token refused; renewing", "message", apiErr.Message)
			if _, err := c.tokens.renew(ctx, tok); err != nil {
				return retry.Permanent(fmt.Errorf("%s: %w", c.api, err))
			}
			return retry.Again(apiErr)
		case resp.StatusCode == http.StatusForbidden:
			return retry.Permanent(&AccessError{API: c.api, Permission: c.permission(), Status: resp.StatusCode, Err: apiErr})
		case resp.StatusCode == http.StatusUnauthorized:
			return retry.Permanent(&AccessError{API: c.api, Permission: c.permission(), Status: resp.StatusCode, Err: apiErr})
		case resp.StatusCode == http.StatusGatewayTimeout && c.tables:
			// Log Analytics ran past the Prefer: wait timeout. Once may be
			// load; twice, the query is too heavy and its halves may finish.
			if timeouts++; timeouts > 1 {
				return retry.Permanent(fmt.Errorf("%w: %w", ErrTooLarge, apiErr))
			}
			return apiErr
		case resp.StatusCode >= 500:
			c.log.Warn("hunting API error", "status", resp.StatusCode)
			return apiErr
		case (resp.StatusCode == http.StatusRequestEntityTooLarge || resp.StatusCode == http.StatusBadRequest) && isOverQuota(apiErr.Message):
			return retry.Permanent(fmt.Errorf("%w: %w", ErrOverQuota, apiErr))
		case resp.StatusCode == http.StatusRequestEntityTooLarge,
			resp.StatusCode == http.StatusBadRequest && isOverLimits(apiErr.Message):
			return retry.Permanent(fmt.Errorf("%w: %w", ErrTooLarge, apiErr))
		default:
			return retry.Permanent(apiErr)
		}
	})
	if err == nil {
		return st, nil
	}
	var apiErr *APIError
	switch {
	case ctx.Err() != nil, cbErr != nil && err == cbErr:
		return st, err
	case errors.Is(err, ErrAuth), errors.Is(err, ErrTooLarge), errors.Is(err, ErrOverQuota):
		return st, err
	case st.Throttled > 0 && errors.As(err, &apiErr) && apiErr.Status == http.StatusTooManyRequests:
		if isOverQuota(apiErr.Message) {
			// Throttled for the tenant's CPU, and for longer than is worth waiting.
			return st, fmt.Errorf("%s: %w after %d attempts: %w", c.api, ErrOverQuota, st.Attempts, err)
		}
		return st, fmt.Errorf("%s: still throttled after %d attempts: %w", c.api, st.Attempts, err)
	case errors.As(err, &apiErr) && apiErr.Status < 500:
		return st, err
	}
	return st, fmt.Errorf("%s: giving up after %d attempts: %w", c.api, st.Attempts, err)
}

// permission names the application permission the API needs.
func (c *client) permission() string {
	switch {
	case c.api == "graph":
		return "ThreatHunting.Read.All (Microsoft Graph)"
	case c.api == "sentinel":
		return "Log Analytics Reader on the workspace (Data.Read, Log Analytics API)"
	case strings.HasSuffix(c.endpoint, m365DefenderPath):
		return "AdvancedHunting.Read.All (Microsoft Threat Protection)"
	}
	return "AdvancedQuery.Read.All (WindowsDefenderATP)"
}

// isOverQuota recognises a refusal because the tenant has spent its CPU
// quota (the services' 15-minute or daily CPU budgets), as opposed to one
// query being too heavy.
func isOverQuota(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "cpu") && strings.Contains(m, "quota")
}

// isOverLimits recognises the services' answer to a query over their
// size or CPU limits.
func isOverLimits(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "exceeded the allowed limits") || strings.Contains(m, "query is too long") ||
		strings.Contains(m, "exceeded the allowed result size")
}

func (c *client) send(ctx context.Context, tok string, payload []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, retry.Permanent(err)
	}
	if req.URL.Scheme != "https" {
		// The token travels in a header: never over plain http.
		return nil, retry.Permanent(fmt.Errorf("%s: the API root %q is not https", c.api, c.opts.BaseURL))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "c2sweep")
	if c.prefer != "" {
		req.Header.Set("Prefer", c.prefer)
	}
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
//
// Every text taken from the answer is redacted: a proxy or a broken
// service may echo the request's Authorization header.
func (c *client) apiError(resp *http.Response, tok string) *APIError {
	defer resp.Body.Close()
	body, _ := retry.ReadAll(resp.Body, 64<<10)
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
		e.Code, e.Message = redact.Text(env.Error.Code, tok), redact.Text(env.Error.Message, tok)
		e.RequestID = env.Error.InnerError.RequestID
		if e.RequestID == "" {
			e.RequestID = env.Error.Target
		}
	} else {
		e.Message = redact.Excerpt(body, 200, tok)
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("request-id")
	}
	e.RetryAfter = retry.ParseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
	return e
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
