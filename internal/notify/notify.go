// Package notify tells hunters about new hits: a generic JSON webhook,
// Microsoft Teams and Slack incoming webhooks. Deliveries are retried with
// capped, jittered exponential backoff, and a webhook URL (which embeds the
// channel's token) never appears in an error, a log line or a formatted
// value: a target shows itself as "NAME (kind)".
//
// The generic webhook receives one JSON object a message (version 1):
//
//	{
//	  "version": 1,
//	  "source": "c2sweep",
//	  "run": 42,                       // run id, 0 for a heartbeat
//	  "time": "2026-11-27T07:00:00Z",  // when the alert was made (UTC)
//	  "heartbeat": false,              // true: a quiet-day "still alive" message
//	  "summary": "2 new hits from run 42",
//	  "hits": [                        // never null; empty for a heartbeat
//	    {"target": "contoso",         // the sweep target; left out for "default"
//	     "device": "ws-001", "device_id": "…", "ip": "203.0.113.9", "port": 443,
//	     "hunts": ["CobaltStrikeJARM"], "time": "…", "table": "DeviceNetworkEvents",
//	     "column": "RemoteIP", "action": "ConnectionSuccess", "process": "rundll32.exe",
//	     "command_line": "…", "account": "corp\\alice", "report_id": "…"}
//	  ]
//	}
//
// Empty hit fields are left out. Teams and Slack messages name a hit's
// sweep target in a "Target" line unless it is "default". They list at most
// MaxHits hits (default 10) and say "and M more"; the generic webhook
// carries every hit of the batch.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/indicator"
	"c2sweep/internal/retry"
)

// Alert is one message to a target: new hits of a run, or a heartbeat on a
// quiet day.
type Alert struct {
	RunID     int64
	Time      time.Time
	Hits      []indicator.Hit
	Heartbeat bool
	// Summary is one human line; when empty a default is written.
	Summary string
	// Title replaces the headline (a hunt health warning); "" keeps it.
	Title string
}

// summary is the alert's one-line text.
func (a Alert) summary() string {
	if a.Summary != "" {
		return a.Summary
	}
	if a.Heartbeat || len(a.Hits) == 0 {
		return "No new hits: c2sweep is running and found nothing new."
	}
	s := fmt.Sprintf("%d new %s", len(a.Hits), plural(len(a.Hits), "hit", "hits"))
	if a.RunID != 0 {
		s += fmt.Sprintf(" from run %d", a.RunID)
	}
	return s
}

// title is the message headline.
func (a Alert) title() string {
	if a.Title != "" {
		return a.Title
	}
	if a.Heartbeat || len(a.Hits) == 0 {
		return "c2sweep: no new C2 contacts"
	}
	return fmt.Sprintf("c2sweep: %d new C2 %s", len(a.Hits), plural(len(a.Hits), "contact", "contacts"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Target is a place alerts go. Send returns nil only when the receiver
// accepted the message; any error means it may not have been delivered and
// the hits must stay pending. Errors never contain the target's URL.
type Target interface {
	Name() string
	Send(ctx context.Context, a Alert) error
}

// Kinds of target accepted by New.
const (
	KindWebhook = "webhook"
	KindTeams   = "teams"
	KindSlack   = "slack"
)

// Option tunes a target made by New.
type Option func(*config)

type config struct {
	maxHits       int
	attempts      int
	baseDelay     time.Duration
	maxDelay      time.Duration
	maxRetryAfter time.Duration
	attemptTime   time.Duration
	clock         clock.Clock
	jitter        func(d time.Duration) time.Duration
	log           *slog.Logger
	userAgent     string
	heartbeat     *bool // WithHeartbeat; nil: as Deliver is told
}

// WithMaxHits sets how many hits a Teams or Slack message lists before
// "and M more" (default 10; Slack allows at most 45 by its 50-block limit).
func WithMaxHits(n int) Option { return func(c *config) { c.maxHits = n } }

// WithRetry sets the number of attempts (default 5) and the backoff: base
// delay doubled each retry (default 1s) and capped (default 30s).
func WithRetry(attempts int, base, max time.Duration) Option {
	return func(c *config) { c.attempts, c.baseDelay, c.maxDelay = attempts, base, max }
}

// WithMaxRetryAfter bounds how long a Retry-After is honoured (default 2m).
// A receiver asking for longer is not waited for: the delivery fails now
// and its hits stay pending for the next run.
func WithMaxRetryAfter(d time.Duration) Option { return func(c *config) { c.maxRetryAfter = d } }

// WithClock replaces the clock that waits between attempts and reads
// Retry-After dates (tests give a clock.Fake, which records the waits).
func WithClock(c clock.Clock) Option {
	return func(cfg *config) { cfg.clock = clock.Or(c) }
}

// WithAttemptTimeout bounds one attempt, the answer read included
// (default 30s): a receiver that never answers fails that attempt.
func WithAttemptTimeout(d time.Duration) Option { return func(c *config) { c.attemptTime = d } }

// WithJitter replaces the jitter applied to a backoff delay (default:
// uniformly between half and all of it). Retry-After is never jittered.
func WithJitter(jitter func(d time.Duration) time.Duration) Option {
	return func(c *config) { c.jitter = jitter }
}

// WithHeartbeat says whether this target wants a heartbeat on a quiet run
// (the config's per-target `heartbeat`). It overrides Deliver's heartbeat
// argument for this target, so one target's heartbeat is not sent to all.
func WithHeartbeat(on bool) Option { return func(c *config) { c.heartbeat = &on } }

// HeartbeatSetter is implemented by targets that know whether they want a
// heartbeat; set is false when they leave it to Deliver.
type HeartbeatSetter interface {
	Heartbeat() (on, set bool)
}

// Heartbeat reports the WithHeartbeat setting.
func (t *target) Heartbeat() (on, set bool) {
	if t.cfg.heartbeat == nil {
		return false, false
	}
	return *t.cfg.heartbeat, true
}

// WithLogger logs retries (default: discard). The URL is never logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

func defaults() config {
	return config{
		maxHits:       10,
		attempts:      5,
		baseDelay:     time.Second,
		maxDelay:      30 * time.Second,
		maxRetryAfter: 2 * time.Minute,
		attemptTime:   30 * time.Second,
		clock:         clock.Real,
		jitter:        retry.Equal,
		log:           slog.New(slog.DiscardHandler),
		userAgent:     "c2sweep",
	}
}

// New makes a target. kind is webhook, teams or slack. rawURL must be
// https; plain http is accepted only for a loopback host (tests, a local
// relay). httpClient nil means http.DefaultClient; redirects are never
// followed, so a token cannot be carried elsewhere.
func New(name, kind, rawURL string, httpClient *http.Client, opts ...Option) (Target, error) {
	if name == "" {
		return nil, fmt.Errorf("notify: a target needs a name")
	}
	label := fmt.Sprintf("%s (%s)", name, kind)
	var f formatter
	switch kind {
	case KindWebhook:
		f = webhookBody
	case KindTeams:
		f = teamsBody
	case KindSlack:
		f = slackBody
	default:
		return nil, fmt.Errorf("notify: target %s: unknown kind %q (webhook, teams, slack)", name, kind)
	}
	u, err := checkURL(rawURL)
	if err != nil {
		// err never quotes the URL: it may hold the token.
		return nil, fmt.Errorf("notify: target %s: %w", label, err)
	}
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxHits < 0 {
		cfg.maxHits = 0
	}
	if kind == KindSlack && cfg.maxHits > slackMaxHits {
		cfg.maxHits = slackMaxHits
	}
	if cfg.attempts < 1 {
		cfg.attempts = 1
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	c := *httpClient
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &target{name: name, kind: kind, label: label, url: u, client: &c, cfg: cfg, format: f}, nil
}

// checkURL accepts https, or http to loopback. Its errors do not contain
// the URL.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("URL is not a valid absolute URL")
	}
	if u.User != nil {
		return nil, fmt.Errorf("URL must not carry user information")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("URL must be https (http is allowed for loopback only)")
		}
	default:
		return nil, fmt.Errorf("URL must be https")
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// target is one configured receiver. Its String, GoString and LogValue
// hide the URL so that printing it by mistake leaks nothing.
type target struct {
	name, kind, label string
	url               *url.URL
	client            *http.Client
	cfg               config
	format            formatter
}

func (t *target) Name() string               { return t.name }
func (t *target) String() string             { return t.label }
func (t *target) GoString() string           { return "notify.Target(" + t.label + ")" }
func (t *target) LogValue() slog.Value       { return slog.StringValue(t.label) }
func (t *target) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.label) }
