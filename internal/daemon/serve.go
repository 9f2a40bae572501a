package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"c2sweep/internal/clock"
)

// DefaultListen is where /healthz and /metrics are served by default
// (9464 is the port Prometheus exporters conventionally pick for this).
const DefaultListen = "127.0.0.1:9464"

// Options configures Serve.
type Options struct {
	Schedule Schedule
	// Listen is the address of /healthz and /metrics (default
	// DefaultListen). A non-loopback address is refused unless AllowRemote:
	// the endpoints have no authentication.
	Listen      string
	AllowRemote bool
	// Listener, when set, is used instead of Listen (tests: 127.0.0.1:0).
	Listener net.Listener
	Logger   *slog.Logger // default slog.Default()
	Clock    clock.Clock  // default the real clock; tests drive clock.Fake
	// RunAtStart starts a sweep at once instead of waiting for the first
	// scheduled time.
	RunAtStart bool
	// Grace is how long a running sweep may go on after Serve is asked to
	// stop before its context is cancelled (default 30s); Abandon is how
	// long it then has to return (default 30s) before Serve gives up on it.
	Grace, Abandon time.Duration
}

// Health is what /healthz reports.
//
// Status is one of:
//
//	starting  no sweep has finished yet                          200
//	ok        the last sweep succeeded                           200
//	failing   the last sweep failed                              503
//	stale     no success for more than two and a half intervals  503
//	          since the last success (or since start): two
//	          scheduled runs missed, and half an interval for the
//	          third to finish; a hung sweep shows up here
//
// Reason says in words why a 503 is answered.
type Health struct {
	Status              string     `json:"status"`
	Reason              string     `json:"reason,omitempty"`
	Schedule            string     `json:"schedule"`
	Running             bool       `json:"running"`
	LastSuccess         *time.Time `json:"last_success"`
	LastError           string     `json:"last_error"`
	LastErrorAt         *time.Time `json:"last_error_at"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	NextRun             *time.Time `json:"next_run"`
}

// Healthy reports whether Status should be answered with 200.
func (h Health) Healthy() bool { return h.Status != "failing" && h.Status != "stale" }

// Report is what a sweep tells the daemon about itself, for the log line
// of each sweep (a failed sweep may still have found and stored hits).
type Report struct {
	Outcome string // the sweep's own outcome, e.g. "hits", "partial"
	NewHits int
	Results string // where its result files are
}

// SweepFunc runs one sweep. It must return soon after ctx is cancelled,
// leaving nothing half done (the state store's transactions see to that).
type SweepFunc func(ctx context.Context) (Report, error)

// errPanic marks a sweep that panicked; the daemon survives it.
var errPanic = errors.New("sweep panicked")

// Serve runs sweep on opts.Schedule until ctx ends, serving /healthz and
// /metrics. Sweeps never overlap: a tick that comes while one runs is
// skipped and logged. A failed (or panicking) sweep is logged and counted,
// and the next tick runs as usual. When ctx ends, a running sweep has
// Grace to finish, then its context is cancelled and it has Abandon to
// return. Serve returns nil after a clean stop.
func Serve(ctx context.Context, opts Options, sweep SweepFunc, metrics *Metrics) error {
	if opts.Schedule.IsZero() {
		return errors.New("serve: no schedule")
	}
	if sweep == nil {
		return errors.New("serve: no sweep")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	if opts.Abandon <= 0 {
		opts.Abandon = 30 * time.Second
	}
	if metrics == nil {
		metrics = NewMetrics()
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = listen(opts.Listen, opts.AllowRemote); err != nil {
			return err
		}
	} else if err := checkLoopback(ln.Addr().String(), opts.AllowRemote); err != nil {
		ln.Close()
		return err
	}
	d := &daemon{opts: opts, log: opts.Logger, clock: opts.Clock, metrics: metrics, sweep: sweep,
		started: opts.Clock.Now(), done: make(chan result, 1)}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", d.serveHealth)
	mux.Handle("/metrics", metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("serve: health and metrics endpoint stopped", "err", err)
		}
	}()
	d.log.Info("serve: started", "schedule", opts.Schedule.String(), "listen", ln.Addr().String())

	err := d.loop(ctx)

	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	<-httpDone
	d.log.Info("serve: stopped")
	return err
}

func listen(addr string, allowRemote bool) (net.Listener, error) {
	if addr == "" {
		addr = DefaultListen
	}
	if err := checkLoopback(addr, allowRemote); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return ln, nil
}

// checkLoopback refuses to expose the unauthenticated endpoints beyond
// this host unless asked to.
func checkLoopback(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("serve: listen address %q: %w", addr, err)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("serve: listen address %q is not loopback; /healthz and /metrics have no authentication (allow it explicitly to expose them)", addr)
}

type result struct {
	report     Report
	err        error
	start, end time.Time
}

type daemon struct {
	opts    Options
	log     *slog.Logger
	clock   clock.Clock
	metrics *Metrics
	sweep   SweepFunc
	started time.Time
	done    chan result

	// owned by loop
	cancelSweep context.CancelFunc
	runID       int

	mu          sync.Mutex
	running     bool
	cancelled   bool
	lastSuccess time.Time
	lastError   string
	lastErrorAt time.Time
	failures    int
	nextRun     time.Time
}

func (d *daemon) loop(ctx context.Context) error {
	if d.opts.RunAtStart {
		d.launch(ctx)
	}
	next := d.opts.Schedule.Next(d.clock.Now())
	tick := d.arm(next)
	for {
		select {
		case <-ctx.Done():
			return d.stop()
		case r := <-d.done:
			d.finish(r)
		case now := <-tick:
			if d.isRunning() {
				d.metrics.sweepFinished(OutcomeSkipped, 0, now)
				d.log.Warn("serve: skipped a scheduled sweep: the previous one is still running", "tick", now)
			} else {
				d.launch(ctx)
			}
			// Count from the later of the tick and the planned time, so a
			// late timer (suspended host) runs once, not once per missed run.
			if now.Before(next) {
				now = next
			}
			next = d.opts.Schedule.Next(now)
			tick = d.arm(next)
		}
	}
}

// arm waits for next; a zero next (a schedule that ends) never fires.
func (d *daemon) arm(next time.Time) <-chan time.Time {
	d.mu.Lock()
	d.nextRun = next
	d.mu.Unlock()
	if next.IsZero() {
		d.log.Warn("serve: the schedule has no further runs")
		return nil
	}
	return d.clock.After(next.Sub(d.clock.Now()))
}

func (d *daemon) isRunning() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// launch starts a sweep in its own goroutine. Its context is not the
// daemon's: stopping the daemon gives it a grace period first.
func (d *daemon) launch(parent context.Context) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	d.cancelSweep = cancel
	d.runID++
	d.mu.Lock()
	d.running = true
	d.cancelled = false
	d.mu.Unlock()
	start := d.clock.Now()
	d.log.Info("serve: sweep started", "sweep", d.runID)
	go func() {
		rep, err := d.safeSweep(sctx)
		d.done <- result{report: rep, err: err, start: start, end: d.clock.Now()}
	}()
}

func (d *daemon) safeSweep(ctx context.Context) (rep Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("serve: sweep panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return d.sweep(ctx)
}

// finish records a finished sweep.
func (d *daemon) finish(r result) {
	d.cancelSweep()
	dur := r.end.Sub(r.start)
	d.mu.Lock()
	d.running = false
	cancelled := d.cancelled
	outcome := OutcomeSuccess
	switch {
	case r.err == nil:
		d.lastSuccess = r.end
		d.failures = 0
	case cancelled:
		outcome = OutcomeCancelled
	default:
		outcome = OutcomeFailure
		d.failures++
		d.lastError = r.err.Error()
		d.lastErrorAt = r.end
	}
	failures := d.failures
	d.mu.Unlock()
	d.metrics.sweepFinished(outcome, dur, r.end)
	// One line per sweep, at the default level, with what an operator
	// reads first: did it work, and how many new hits.
	attrs := []any{"sweep", d.runID, "outcome", orOutcome(r.report.Outcome, outcome), "new_hits", r.report.NewHits,
		"duration", dur.Round(time.Millisecond)}
	if r.report.Results != "" {
		attrs = append(attrs, "results", r.report.Results)
	}
	switch outcome {
	case OutcomeSuccess:
		d.log.Info("serve: sweep finished", attrs...)
	case OutcomeCancelled:
		d.log.Warn("serve: sweep cancelled at shutdown", append(attrs, "err", r.err)...)
	default:
		d.log.Error("serve: sweep failed; waiting for the next run", append(attrs, "failures_in_a_row", failures, "err", r.err)...)
	}
}

// orOutcome is the sweep's own outcome, else the daemon's.
func orOutcome(sweep, daemon string) string {
	if sweep != "" {
		return sweep
	}
	return daemon
}

// stop lets a running sweep finish within Grace, then cancels it.
func (d *daemon) stop() error {
	if !d.isRunning() {
		return nil
	}
	d.log.Info("serve: stopping; letting the running sweep finish", "grace", d.opts.Grace)
	select {
	case r := <-d.done:
		d.finish(r)
		return nil
	case <-d.clock.After(d.opts.Grace):
	}
	d.log.Warn("serve: grace period over; cancelling the running sweep", "wait", d.opts.Abandon)
	d.mu.Lock()
	d.cancelled = true
	d.mu.Unlock()
	d.cancelSweep()
	select {
	case r := <-d.done:
		d.finish(r)
		return nil
	case <-d.clock.After(d.opts.Abandon):
		return fmt.Errorf("serve: the running sweep did not return %s after it was cancelled", d.opts.Abandon)
	}
}

// Health reports the daemon's state as of now.
func (d *daemon) health() Health {
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	h := Health{Schedule: d.opts.Schedule.String(), Running: d.running, LastError: d.lastError,
		ConsecutiveFailures: d.failures}
	if !d.lastSuccess.IsZero() {
		t := d.lastSuccess.UTC()
		h.LastSuccess = &t
	}
	if !d.lastErrorAt.IsZero() {
		t := d.lastErrorAt.UTC()
		h.LastErrorAt = &t
	}
	if !d.nextRun.IsZero() {
		t := d.nextRun.UTC()
		h.NextRun = &t
	}
	ref := d.lastSuccess
	if ref.IsZero() {
		ref = d.started
	}
	iv := d.opts.Schedule.Interval(ref)
	switch {
	case d.failures > 0:
		h.Status = "failing"
		h.Reason = fmt.Sprintf("the last sweep failed (%d in a row): %s", d.failures, d.lastError)
	case iv > 0 && now.Sub(ref) > 2*iv+iv/2:
		h.Status = "stale"
		h.Reason = fmt.Sprintf("no sweep has succeeded since %s", ref.UTC().Format(time.RFC3339))
	case d.lastSuccess.IsZero():
		h.Status = "starting"
	default:
		h.Status = "ok"
	}
	return h
}

func (d *daemon) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := d.health()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !h.Healthy() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	if r.Method == http.MethodGet {
		json.NewEncoder(w).Encode(h)
	}
}
