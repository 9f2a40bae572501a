// Package shodan is c2sweep's client of the Shodan REST API: search pages,
// count, api-info and host lookups, paced to Shodan's 1 request/second,
// retried with capped backoff, with Shodan's error bodies turned into
// typed errors and the API key (which travels in the URL) redacted from
// every error and log line.
package shodan

//lint:file-ignore ST1005 the errors start with the name Shodan, not a capitalised word

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/redact"
	"c2sweep/internal/retry"
)

// DefaultBaseURL is Shodan's API root.
const DefaultBaseURL = "https://api.shodan.io"

// PageSize is how many matches Shodan returns a search page.
const PageSize = 100

// Errors a caller can test with errors.Is.
var (
	ErrUnauthorized = errors.New("Shodan rejected the API key")
	ErrNoCredits    = errors.New("Shodan: insufficient query credits")
	ErrForbidden    = errors.New("Shodan: the API plan does not allow this request")
	// ErrNoKey is no API key given or found.
	ErrNoKey       = errors.New("no Shodan API key")
	ErrQuery       = errors.New("Shodan: the search timed out or the query was invalid")
	ErrNotFound    = errors.New("Shodan: not found")
	ErrRateLimited = errors.New("Shodan: request rate limit reached")
	ErrUnavailable = errors.New("Shodan: service unavailable")
	ErrBadResponse = errors.New("Shodan: unreadable response")
	ErrAPI         = errors.New("Shodan: API error")
)

// APIError is an error answer from Shodan. Err is one of the sentinels
// above; Message is Shodan's own text (redacted).
type APIError struct {
	Endpoint string // path only, e.g. /shodan/host/search
	Status   int
	Message  string
	Err      error
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("shodan %s: status %d: %v", e.Endpoint, e.Status, e.Err)
	if e.Message != "" && !strings.Contains(e.Err.Error(), e.Message) {
		s += ": " + e.Message
	}
	return s // the command line gives the hint of e.Err
}

func (e *APIError) Unwrap() error { return e.Err }

// Options configure a Client. Only Key is required.
type Options struct {
	BaseURL    string // default DefaultBaseURL
	Key        string
	HTTPClient *http.Client // default: a client with http.DefaultTransport
	// Interval is the least time between two requests of this client
	// (default 1s: Shodan's limit per key).
	Interval time.Duration
	// MaxRetries caps retries of one request after 429, 5xx, timeouts and
	// dropped connections (default 4; negative: none).
	MaxRetries int
	// Backoff is the first retry's wait, doubled each time up to
	// MaxBackoff (defaults 1s and 30s). A 429 waits at least 1s whatever
	// Retry-After says.
	Backoff, MaxBackoff time.Duration
	// RequestTimeout bounds one attempt, the whole answer read included
	// (default 60s).
	RequestTimeout time.Duration
	// MaxBody bounds one answer (default DefaultMaxBody); a longer one
	// fails with retry.ErrBodyTooLarge.
	MaxBody int64
	// Clock paces and backs off (default clock.Real).
	Clock clock.Clock
	// Logger receives one debug line per attempt, URLs redacted.
	Logger    *slog.Logger
	UserAgent string // default "c2sweep"
}

// DefaultMaxBody bounds a Shodan answer: a page of 100 full banners is a
// few MB.
const DefaultMaxBody int64 = 64 << 20

// Client talks to one Shodan API with one key. It is safe for concurrent
// use; concurrent callers share one request pace.
type Client struct {
	o     Options
	base  *url.URL
	clock clock.Clock

	// turn is held by one request from its slot until the first byte of
	// its answer (or its failure): the next one is paced from then.
	turn chan struct{}
	mu   sync.Mutex
	next time.Time // earliest time of the next request

	stats struct {
		sync.Mutex
		requests, retries, rateLimited int
	}
}

// New checks opts and returns a client.
func New(opts Options) (*Client, error) {
	if opts.Key == "" {
		return nil, fmt.Errorf("shodan: %w", ErrNoKey)
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		// The key travels in the URL: never over plain http.
		return nil, fmt.Errorf("shodan: base URL %q is not an https URL", redact.Text(opts.BaseURL))
	}
	if base.RawQuery != "" {
		return nil, fmt.Errorf("shodan: base URL %q must not carry a query", redact.Text(opts.BaseURL))
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 4
	} else if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 60 * time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "c2sweep"
	}
	return &Client{o: opts, base: base, clock: clock.Or(opts.Clock), turn: make(chan struct{}, 1)}, nil
}

// Stats are counters of what the client did.
type Stats struct{ Requests, Retries, RateLimited int }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	c.stats.Lock()
	defer c.stats.Unlock()
	return Stats{c.stats.requests, c.stats.retries, c.stats.rateLimited}
}

// pace waits for this request's turn and slot; attempt gives the turn
// back with answered. Requests go one at a time, each at least Interval
// after the first byte of the previous one's answer: the server stamped
// that request before it answered, so the gap it sees is never shorter
// than Interval, however late its side (or the network) handled the
// previous one. Pacing from the write instead left the gap to luck: a
// server that read the previous request late saw them closer, and a
// loaded machine got 429s. The price is one answer's latency to first
// byte per request (a few ms against the lab, more against Shodan).
func (c *Client) pace(ctx context.Context) error {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	now := c.clock.Now()
	at := c.next
	if at.Before(now) {
		at = now
	}
	c.next = at.Add(c.o.Interval)
	c.mu.Unlock()
	err := ctx.Err()
	if d := at.Sub(now); d > 0 {
		err = c.clock.Sleep(ctx, d)
	}
	if err != nil {
		<-c.turn // no attempt follows
	}
	return err
}

// answered ends the turn of the request in flight: the next one may go
// Interval from now. once makes the first call (first byte, or the end of
// the attempt) the one that counts.
func (c *Client) answered(once *sync.Once) {
	once.Do(func() {
		c.mu.Lock()
		if t := c.clock.Now().Add(c.o.Interval); t.After(c.next) {
			c.next = t
		}
		c.mu.Unlock()
		<-c.turn
	})
}

// holdOff pushes the next slot back by d (after a 429).
func (c *Client) holdOff(d time.Duration) {
	c.mu.Lock()
	if t := c.clock.Now().Add(d); t.After(c.next) {
		c.next = t
	}
	c.mu.Unlock()
}

// get performs GET path?params with pacing and retries, and returns the
// body of a successful answer.
func (c *Client) get(ctx context.Context, path string, params url.Values) ([]byte, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("key", c.o.Key)
	u.RawQuery = q.Encode()
	full := u.String()
	shown := c.redact(full)
	var body []byte
	policy := retry.Policy{
		Attempts:   c.o.MaxRetries + 1,
		Base:       c.o.Backoff,
		Max:        c.o.MaxBackoff,
		PerAttempt: c.o.RequestTimeout,
		Clock:      c.clock,
		Before:     c.pace,
		OnRetry: func(attempt int, wait time.Duration, err error) {
			c.stats.Lock()
			c.stats.retries++
			c.stats.Unlock()
			c.o.Logger.Debug("shodan retry", "path", path, "attempt", attempt, "wait", wait, "err", err.Error())
		},
	}
	err := retry.Do(ctx, policy, func(actx context.Context, n int) error {
		var err error
		body, err = c.attempt(actx, full, shown, path, n-1)
		return err
	})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("shodan %s: %w", path, err)
	}
	return body, err
}

// attempt makes one request. Its error says, the retry way, whether a
// failure is worth another attempt and after how long.
func (c *Client) attempt(ctx context.Context, full, shown, path string, attempt int) ([]byte, error) {
	var once sync.Once
	defer c.answered(&once)
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { c.answered(&once) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, full, nil)
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("shodan %s: %s", path, c.redact(err.Error())))
	}
	req.Header.Set("User-Agent", c.o.UserAgent)
	req.Header.Set("Accept", "application/json")
	c.stats.Lock()
	c.stats.requests++
	c.stats.Unlock()
	start := c.clock.Now()
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		c.o.Logger.Debug("shodan request", "url", shown, "attempt", attempt, "err", c.redact(err.Error()))
		return nil, c.transportErr(path, err)
	}
	defer resp.Body.Close()
	body, err := retry.ReadAll(resp.Body, c.o.MaxBody)
	c.o.Logger.Debug("shodan request", "url", shown, "attempt", attempt, "status", resp.StatusCode,
		"bytes", len(body), "elapsed", c.clock.Now().Sub(start))
	if errors.Is(err, retry.ErrBodyTooLarge) {
		return nil, retry.Permanent(&APIError{Endpoint: path, Status: resp.StatusCode, Message: err.Error(), Err: ErrBadResponse})
	}
	if err != nil {
		return nil, c.transportErr(path, err)
	}
	apiErr := func(sentinel error) *APIError {
		return &APIError{Endpoint: path, Status: resp.StatusCode, Message: c.redact(errorMessage(body)), Err: sentinel}
	}
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		if msg, ok := jsonError(body); ok {
			e := &APIError{Endpoint: path, Status: code, Message: c.redact(msg), Err: classify(msg)}
			// "timed out or invalid" may be a timeout: worth one more try.
			if e.Err == ErrQuery && attempt == 0 {
				return nil, e
			}
			return nil, retry.Permanent(e)
		}
		return body, nil
	case code == http.StatusTooManyRequests:
		c.stats.Lock()
		c.stats.rateLimited++
		c.stats.Unlock()
		// Retry-After is 0 on Shodan; wait at least a second anyway, and
		// hold the other callers of this key back as long.
		wait := max(time.Second, retry.ParseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now()))
		c.holdOff(wait)
		return nil, retry.After(wait, apiErr(ErrRateLimited))
	case code == http.StatusUnauthorized:
		if msg, ok := jsonError(body); ok {
			return nil, retry.Permanent(&APIError{Endpoint: path, Status: code, Message: c.redact(msg), Err: classifyAuth(msg)})
		}
		return nil, retry.Permanent(&APIError{Endpoint: path, Status: code, Err: ErrUnauthorized})
	case code == http.StatusForbidden:
		return nil, retry.Permanent(apiErr(ErrForbidden))
	case code == http.StatusNotFound:
		return nil, retry.Permanent(apiErr(ErrNotFound))
	case code >= 500:
		return nil, &APIError{Endpoint: path, Status: code, Err: ErrUnavailable}
	default:
		return nil, retry.Permanent(apiErr(ErrAPI))
	}
}

// transportErr rewrites an error from the HTTP client so that the URL it
// carries (with the key) is redacted.
func (c *Client) transportErr(path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: c.redact(ue.URL), Err: redactedErr{ue.Err, c}}
	}
	return fmt.Errorf("shodan %s: %w", path, redactedErr{err, c})
}

// redactedErr keeps the chain (for errors.Is: context.DeadlineExceeded,
// net.Error) while its text never shows the key.
type redactedErr struct {
	err error
	c   *Client
}

func (r redactedErr) Error() string { return r.c.redact(r.err.Error()) }
func (r redactedErr) Unwrap() error { return r.err }

// Timeout lets net.Error checks see through the wrapper.
func (r redactedErr) Timeout() bool {
	var ne net.Error
	return errors.As(r.err, &ne) && ne.Timeout()
}

func (c *Client) redact(s string) string { return redact.Text(s, c.o.Key) }

// jsonError finds Shodan's {"error": "..."} envelope. Success bodies of
// any size are not searched: error envelopes are small.
func jsonError(body []byte) (string, bool) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' || len(t) > 4096 {
		return "", false
	}
	var e struct {
		Error *string `json:"error"`
	}
	if json.Unmarshal(t, &e) != nil || e.Error == nil {
		return "", false
	}
	return *e.Error, true
}

func errorMessage(body []byte) string {
	if msg, ok := jsonError(body); ok {
		return msg
	}
	return ""
}

func classify(msg string) error {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "insufficient query credits"):
		return ErrNoCredits
	case strings.Contains(m, "timed out or your query was invalid"), strings.Contains(m, "invalid query"):
		return ErrQuery
	case strings.Contains(m, "invalid api key"):
		return ErrUnauthorized
	case strings.Contains(m, "rate limit"):
		return ErrRateLimited
	case strings.Contains(m, "access denied"), strings.Contains(m, "upgrade your api plan"):
		return ErrForbidden
	}
	return ErrAPI
}

func classifyAuth(msg string) error {
	if e := classify(msg); e == ErrNoCredits {
		return e
	}
	return ErrUnauthorized
}

func decode(path string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &APIError{Endpoint: path, Status: http.StatusOK, Message: err.Error(), Err: ErrBadResponse}
	}
	return nil
}

// APIInfo is the account's plan and balance (/api-info).
type APIInfo struct {
	Plan         string `json:"plan"`
	QueryCredits int    `json:"query_credits"`
	ScanCredits  int    `json:"scan_credits"`
	MonitoredIPs int    `json:"monitored_ips"`
	Unlocked     Bool   `json:"unlocked"`
	UnlockedLeft int    `json:"unlocked_left"`
	HTTPS        Bool   `json:"https"`
	Telnet       Bool   `json:"telnet"`
	UsageLimits  struct {
		ScanCredits  int `json:"scan_credits"`
		QueryCredits int `json:"query_credits"`
		MonitoredIPs int `json:"monitored_ips"`
	} `json:"usage_limits"`
}

// APIInfo returns the plan and the credits left. It costs no credit.
func (c *Client) APIInfo(ctx context.Context) (APIInfo, error) {
	var info APIInfo
	body, err := c.get(ctx, "/api-info", nil)
	if err != nil {
		return info, err
	}
	return info, decode("/api-info", body, &info)
}

// Count returns how many banners match query. It costs no credit.
func (c *Client) Count(ctx context.Context, query string) (int, error) {
	body, err := c.get(ctx, "/shodan/host/count", url.Values{"query": {query}})
	if err != nil {
		return 0, err
	}
	var env struct {
		Total int `json:"total"`
	}
	return env.Total, decode("/shodan/host/count", body, &env)
}

// Page is one page of search results.
type Page struct {
	Total   int
	Matches []Banner
	// Undecodable counts matches that were not banners this client could
	// read; they are left out of Matches, never fatal.
	Undecodable int
}

// Search fetches one page (from 1) of matches, newest first. A query with
// a filter, or any page after the first, costs one query credit.
func (c *Client) Search(ctx context.Context, query string, page int) (*Page, error) {
	if page < 1 {
		page = 1
	}
	params := url.Values{"query": {query}, "minify": {"true"}}
	if page > 1 {
		params.Set("page", strconv.Itoa(page))
	}
	body, err := c.get(ctx, "/shodan/host/search", params)
	if err != nil {
		return nil, err
	}
	return DecodePage(body)
}

// DecodePage reads a search response body. One unreadable banner does not
// spoil the page: it is counted in Undecodable.
func DecodePage(body []byte) (*Page, error) {
	var env struct {
		Matches []json.RawMessage `json:"matches"`
		Total   int               `json:"total"`
	}
	if err := decode("/shodan/host/search", body, &env); err != nil {
		return nil, err
	}
	p := &Page{Total: env.Total, Matches: make([]Banner, 0, len(env.Matches))}
	for _, raw := range env.Matches {
		var b Banner
		if err := json.Unmarshal(raw, &b); err != nil {
			p.Undecodable++
			continue
		}
		p.Matches = append(p.Matches, b)
	}
	return p, nil
}

// MaxSearchPages bounds SearchAll whatever the caller's budget and
// Shodan's total say: 100,000 results.
const MaxSearchPages = 1000

// SearchAll fetches pages 1, 2, ... of query and hands each to fn. It stops
// after the last page, after maxPages pages (0: MaxSearchPages), or when
// fn returns an error, which it returns.
//
// The last page is the first short one (fewer than PageSize matches), or
// the one that reaches Shodan's total. The total is only believed to stop
// early: it may be negative, grow from page to page, or promise pages that
// never come; a page that repeats the one before also ends the search.
func (c *Client) SearchAll(ctx context.Context, query string, maxPages int, fn func(pageNo int, p *Page) error) error {
	if maxPages <= 0 || maxPages > MaxSearchPages {
		maxPages = MaxSearchPages
	}
	var prev string
	for n := 1; n <= maxPages; n++ {
		p, err := c.Search(ctx, query, n)
		if err != nil {
			return err
		}
		key := pageKey(p)
		if n > 1 && key == prev {
			c.o.Logger.Warn("shodan returned the same page twice; stopping", "page", n)
			return nil
		}
		prev = key
		if err := fn(n, p); err != nil {
			return err
		}
		if got := len(p.Matches) + p.Undecodable; got < PageSize || (p.Total > 0 && n*PageSize >= p.Total) {
			return nil
		}
	}
	return nil
}

// pageKey identifies a page by its banners, to notice a page served again.
func pageKey(p *Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d", len(p.Matches), p.Undecodable)
	for _, m := range p.Matches {
		fmt.Fprintf(&b, ";%s %s %d %d", m.IPStr, m.IPv6, m.Port, m.Hash)
	}
	return b.String()
}

// Host is what Shodan knows of one address (/shodan/host/{ip}).
type Host struct {
	IPStr     string   `json:"ip_str"`
	Ports     []int    `json:"ports"`
	Hostnames []string `json:"hostnames"`
	Org       string   `json:"org"`
	ASN       string   `json:"asn"`
	Data      []Banner `json:"data"`
}

// Host returns every banner of ip. It costs no credit; an unknown address
// is ErrNotFound.
func (c *Client) Host(ctx context.Context, ip netip.Addr) (*Host, error) {
	path := "/shodan/host/" + ip.String()
	body, err := c.get(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	var h Host
	return &h, decode(path, body, &h)
}
