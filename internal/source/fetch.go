package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/redact"
	"c2sweep/internal/retry"
)

// DefaultRetry is how a source's download is retried when Settings.Retry
// leaves a field zero: four attempts, 1s doubling to 30s, 60s an attempt.
var DefaultRetry = retry.Policy{Attempts: 4, Base: time.Second, Max: 30 * time.Second, PerAttempt: 60 * time.Second}

// DefaultMaxBody bounds one download: feeds and blocklists are kilobytes
// to a few megabytes, a week of ThreatFox a few megabytes.
const DefaultMaxBody int64 = 64 << 20

// Errors of a download, matched with errors.Is on a *HTTPError or the
// error Fetch returns.
var (
	// ErrCredentials: the service refused the key (401 or 403).
	ErrCredentials = errors.New("credentials refused")
	// ErrNotFound: 404 or 410; for a feed, it vanished.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: 5xx or 429 after every retry.
	ErrUnavailable = errors.New("service unavailable")
	// ErrStatus: any other status a source does not expect.
	ErrStatus = errors.New("unexpected status")
	// ErrInsecureURL: the URL is not https (TLS is never turned off).
	ErrInsecureURL = errors.New("not an https URL")
	// ErrStale is matched by a *StaleError.
	ErrStale = errors.New("source is stale")
)

// HTTPError is an answer other than 200 (or 304 with a cached body). Its
// text names the kind, the URL and the status; never a secret.
type HTTPError struct {
	Kind    string
	URL     string // redacted
	Status  int
	Excerpt string // of the body, redacted, one line
	// Body is the (capped) body, for a kind that reads its error
	// envelope; it is not part of the message.
	Body []byte
	Err  error // one of the Err* sentinels
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s: %s answered HTTP %d %s", e.Kind, e.URL, e.Status, http.StatusText(e.Status))
	if e.Excerpt != "" {
		msg += ": " + e.Excerpt
	}
	return msg
}

func (e *HTTPError) Unwrap() error { return e.Err }

// StaleError is a source whose data is older than the hunt's max_age: a
// feed whose Last-Modified (or file time) is before the window. Its items
// are dropped and counted, never used.
type StaleError struct {
	Kind, Hunt string
	Modified   time.Time
	MaxAge     time.Duration
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("%s hunt %q: the feed was last modified %s, older than max_age %s: its items are dropped",
		e.Kind, e.Hunt, e.Modified.UTC().Format(time.RFC3339), e.MaxAge)
}

func (e *StaleError) Is(target error) bool { return target == ErrStale }

// SkipStale counts the items of a stale feed.
const SkipStale = "feed older than max_age"

// Request is one download of a source.
type Request struct {
	Kind   string // registry name, for messages
	Method string // default GET
	URL    string
	Body   []byte // sent as JSON when set
	Header http.Header
	// Secrets are hidden from every error (an Auth-Key).
	Secrets []string
	// Conditional keeps the body in Settings.CacheDir and asks again with
	// If-None-Match / If-Modified-Since; a 304 reuses the kept body.
	Conditional bool
	MaxBody     int64 // default DefaultMaxBody
}

// Response is a downloaded body.
type Response struct {
	Body []byte
	// Modified is the server's Last-Modified (UTC), zero without one.
	Modified time.Time
	// Fetched is when the answer came, on Settings.Clock.
	Fetched time.Time
	// NotModified says the server answered 304 and Body is the cached one.
	NotModified bool
	// Requests counts the attempts made.
	Requests int
}

// CheckHTTPS refuses any URL but an absolute https one without user info.
func CheckHTTPS(kind, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		shown := "(unreadable)"
		if err == nil {
			shown = redact.URL(u)
		}
		return nil, fmt.Errorf("%s: %s: %w", kind, shown, ErrInsecureURL)
	}
	return u, nil
}

// Fetch downloads r.URL through retry (backoff with jitter, Retry-After,
// a deadline on every attempt, a capped body), on s's clock and client.
// 5xx, 429 and transport failures are retried; other statuses fail at once
// as *HTTPError. Errors never hold r.Secrets nor the URL's key.
func Fetch(ctx context.Context, s Settings, r Request) (*Response, error) {
	u, err := CheckHTTPS(r.Kind, r.URL)
	if err != nil {
		return nil, err
	}
	shown := redact.URL(u, r.Secrets...)
	clk := clock.Or(s.Clock)
	client := s.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	maxBody := r.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	p := s.Retry
	d := DefaultRetry
	if p.Attempts <= 0 {
		p.Attempts = d.Attempts
	}
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.PerAttempt <= 0 {
		p.PerAttempt = d.PerAttempt
	}
	p.Clock = clk
	var cached *cacheEntry
	if r.Conditional && s.CacheDir != "" {
		cached = loadCache(s.CacheDir, u.String())
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	resp := &Response{}
	hide := func(s string) string { return redact.Text(s, r.Secrets...) }
	err = retry.Do(ctx, p, func(actx context.Context, _ int) error {
		var body *bytes.Reader
		if r.Body != nil {
			body = bytes.NewReader(r.Body)
		}
		var req *http.Request
		var err error
		if body != nil {
			req, err = http.NewRequestWithContext(actx, method, u.String(), body)
		} else {
			req, err = http.NewRequestWithContext(actx, method, u.String(), nil)
		}
		if err != nil {
			return retry.Permanent(fmt.Errorf("%s: %s: %s", r.Kind, shown, hide(err.Error())))
		}
		for k, vs := range r.Header {
			req.Header[k] = vs
		}
		if r.Body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("User-Agent", "c2sweep")
		if cached != nil {
			if cached.ETag != "" {
				req.Header.Set("If-None-Match", cached.ETag)
			}
			if cached.LastModified != "" {
				req.Header.Set("If-Modified-Since", cached.LastModified)
			}
		}
		resp.Requests++
		hr, err := client.Do(req)
		if err != nil {
			// url.Error's text holds the URL: rebuild it redacted.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return retry.Permanent(ctx.Err())
			}
			return &fetchErr{msg: fmt.Sprintf("%s: %s: %s", r.Kind, shown, hide(err.Error())), err: err}
		}
		defer hr.Body.Close()
		data, err := retry.ReadAll(hr.Body, maxBody)
		if errors.Is(err, retry.ErrBodyTooLarge) {
			return retry.Permanent(fmt.Errorf("%s: %s: %w", r.Kind, shown, err))
		}
		if err != nil {
			return &fetchErr{msg: fmt.Sprintf("%s: %s: reading the answer: %s", r.Kind, shown, hide(err.Error())), err: err}
		}
		resp.Fetched = clk.Now().UTC()
		switch code := hr.StatusCode; {
		case code == http.StatusOK:
			resp.Body = data
			resp.Modified = lastModified(hr.Header)
			if r.Conditional && s.CacheDir != "" {
				// A cache that cannot be written costs a full download next
				// time, not this hunt.
				_ = saveCache(s.CacheDir, u.String(), hr.Header, data)
			}
			return nil
		case code == http.StatusNotModified && cached != nil:
			b, err := os.ReadFile(cached.bodyPath)
			if err != nil {
				return retry.Permanent(fmt.Errorf("%s: %s: answered 304 but the cached body is gone: %w", r.Kind, shown, err))
			}
			resp.Body, resp.NotModified = b, true
			resp.Modified, _ = http.ParseTime(cached.LastModified)
			resp.Modified = resp.Modified.UTC()
			if lm := lastModified(hr.Header); !lm.IsZero() {
				resp.Modified = lm
			}
			return nil
		}
		he := &HTTPError{Kind: r.Kind, URL: shown, Status: hr.StatusCode,
			Excerpt: redact.Excerpt(data, 200, r.Secrets...), Body: []byte(hide(string(data)))}
		switch code := hr.StatusCode; {
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			he.Err = ErrCredentials
		case code == http.StatusNotFound || code == http.StatusGone:
			he.Err = ErrNotFound
		case code == http.StatusTooManyRequests:
			he.Err = ErrUnavailable
			return retry.After(max(time.Second, retry.ParseRetryAfter(hr.Header.Get("Retry-After"), clk.Now())), he)
		case code >= 500:
			he.Err = ErrUnavailable
			if ra := retry.ParseRetryAfter(hr.Header.Get("Retry-After"), clk.Now()); ra > 0 {
				return retry.After(ra, he)
			}
			return he
		default:
			he.Err = ErrStatus
		}
		return retry.Permanent(he)
	})
	if err != nil {
		return resp, err
	}
	return resp, nil
}

// fetchErr is a transport failure with its text already redacted; the
// chain stays for errors.Is (timeouts, net errors).
type fetchErr struct {
	msg string
	err error
}

func (e *fetchErr) Error() string { return e.msg }
func (e *fetchErr) Unwrap() error { return e.err }

func lastModified(h http.Header) time.Time {
	t, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// cacheEntry is what is kept of one URL: <hash>.body and <hash>.json.
type cacheEntry struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	bodyPath     string
}

func cacheName(dir, rawURL string) string {
	h := sha256.Sum256([]byte(rawURL))
	return filepath.Join(dir, hex.EncodeToString(h[:16]))
}

func loadCache(dir, rawURL string) *cacheEntry {
	base := cacheName(dir, rawURL)
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		return nil
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || (e.ETag == "" && e.LastModified == "") {
		return nil
	}
	if _, err := os.Stat(base + ".body"); err != nil {
		return nil
	}
	e.bodyPath = base + ".body"
	return &e
}

// saveCache keeps body and its validators; the body is renamed into place
// before the validators, so validators never name a body not yet there.
func saveCache(dir, rawURL string, h http.Header, body []byte) error {
	e := cacheEntry{ETag: strings.TrimSpace(h.Get("ETag")), LastModified: strings.TrimSpace(h.Get("Last-Modified"))}
	base := cacheName(dir, rawURL)
	if e.ETag == "" && e.LastModified == "" {
		os.Remove(base + ".json")
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	meta, _ := json.Marshal(e)
	os.Remove(base + ".json")
	if err := writeAtomic(base+".body", body); err != nil {
		return err
	}
	return writeAtomic(base+".json", meta)
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
