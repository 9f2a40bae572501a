package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"c2sweep/internal/clock"
)

func newFakeClock() *clock.Fake {
	return clock.NewFake(time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC))
}

// waitWaiters blocks until n waiters are registered on c (the loop has
// armed its timer), polling briefly; it fails the test after 5 s.
func waitWaiters(t *testing.T, c *clock.Fake, n int) {
	t.Helper()
	eventually(t, func() bool { return c.Waiters() == n }, "%d waiters on the clock", n)
}

func eventually(t *testing.T, cond func() bool, format string, a ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, a...)
		}
		time.Sleep(time.Millisecond)
	}
}

// harness runs Serve in the background on 127.0.0.1:0.
type harness struct {
	t       *testing.T
	clock   *clock.Fake
	metrics *Metrics
	url     string
	cancel  context.CancelFunc
	errc    chan error
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, opts Options, sweep SweepFunc) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: newFakeClock(), metrics: NewMetrics(), url: "http://" + ln.Addr().String(),
		errc: make(chan error, 1), logs: &syncBuffer{}}
	if opts.Schedule.IsZero() {
		opts.Schedule, _ = Every(time.Hour)
	}
	opts.Listener = ln
	opts.Clock = h.clock
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.errc <- Serve(ctx, opts, sweep, h.metrics) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.errc:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return h
}

// stop asks Serve to stop and returns its error.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err := <-h.errc:
		h.errc <- err // for Cleanup
		return err
	case <-time.After(5 * time.Second):
		h.t.Fatal("Serve did not return")
		return nil
	}
}

func (h *harness) health() (int, Health) {
	h.t.Helper()
	resp, err := http.Get(h.url + "/healthz")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var hl Health
	if err := json.NewDecoder(resp.Body).Decode(&hl); err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, hl
}

func (h *harness) runs(outcome string) int { return int(h.metrics.Value(MetricRuns, outcome)) }

// gate is a sweep that signals its start and waits to be released.
type gate struct {
	started  chan context.Context
	release  chan error
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func newGate() *gate {
	return &gate{started: make(chan context.Context, 10), release: make(chan error, 10)}
}

func (g *gate) sweep(ctx context.Context) (Report, error) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		m := g.maxSeen.Load()
		if n <= m || g.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	g.started <- ctx
	select {
	case err := <-g.release:
		return Report{}, err
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
}

func (g *gate) waitStart(t *testing.T) context.Context {
	t.Helper()
	select {
	case ctx := <-g.started:
		return ctx
	case <-time.After(5 * time.Second):
		t.Fatal("sweep did not start")
		return nil
	}
}

func TestServeRunsOnScheduleNeverTwoAtOnce(t *testing.T) {
	g := newGate()
	h := start(t, Options{}, g.sweep)
	waitWaiters(t, h.clock, 1)
	if code, hl := h.health(); code != 200 || hl.Status != "starting" || hl.NextRun == nil ||
		!hl.NextRun.Equal(time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)) || hl.LastSuccess != nil {
		t.Fatalf("health at start: %d %+v", code, hl)
	}
	select {
	case <-g.started:
		t.Fatal("a sweep ran before its time")
	default:
	}

	h.clock.Advance(time.Hour) // 06:00: first sweep
	g.waitStart(t)
	waitWaiters(t, h.clock, 1)
	if _, hl := h.health(); !hl.Running {
		t.Error("health does not show the running sweep")
	}
	h.clock.Advance(time.Hour) // 07:00: still running -> skipped
	waitWaiters(t, h.clock, 1)
	eventually(t, func() bool { return h.runs(OutcomeSkipped) == 1 }, "a skipped tick")
	if !strings.Contains(h.logs.String(), "skipped a scheduled sweep") {
		t.Errorf("skip not logged:\n%s", h.logs)
	}
	h.clock.Advance(30 * time.Minute)
	g.release <- nil // ends at 07:30
	eventually(t, func() bool { return h.runs(OutcomeSuccess) == 1 }, "the first success")
	h.clock.Advance(30 * time.Minute) // 08:00: second sweep
	g.waitStart(t)
	g.release <- nil
	eventually(t, func() bool { return h.runs(OutcomeSuccess) == 2 }, "the second success")

	code, hl := h.health()
	if code != 200 || hl.Status != "ok" || hl.LastSuccess == nil || !hl.LastSuccess.Equal(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)) ||
		!hl.NextRun.Equal(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("health: %d %+v", code, hl)
	}
	if g.maxSeen.Load() != 1 {
		t.Errorf("%d sweeps ran at once", g.maxSeen.Load())
	}
	if d := h.metrics.Value(MetricSweepDuration); d != 0 {
		t.Errorf("second sweep took %vs of fake time, want 0", d)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestServeRunAtStart(t *testing.T) {
	g := newGate()
	h := start(t, Options{RunAtStart: true}, g.sweep)
	g.waitStart(t)
	g.release <- nil
	eventually(t, func() bool { return h.runs(OutcomeSuccess) == 1 }, "a success")
	if h.metrics.Value(MetricLastSuccess) != float64(h.clock.Now().Unix()) {
		t.Errorf("last success %v", h.metrics.Value(MetricLastSuccess))
	}
}

func TestServeSurvivesFailuresAndPanics(t *testing.T) {
	var n atomic.Int32
	sweep := func(ctx context.Context) (Report, error) {
		switch n.Add(1) {
		case 1, 2:
			return Report{}, errors.New("graph: HTTP 503")
		case 3:
			panic("nil map")
		}
		return Report{Outcome: "hits", NewHits: 4, Results: "out/r4"}, nil
	}
	h := start(t, Options{}, sweep)
	// Before any sweep: 200, nothing to complain about yet.
	if code, hl := h.health(); code != 200 || hl.Status != "starting" || hl.Reason != "" {
		t.Errorf("before the first sweep: %d %+v", code, hl)
	}
	want := []struct {
		code     int
		status   string
		failures int
		reason   string
	}{
		{503, "failing", 1, "the last sweep failed (1 in a row): graph: HTTP 503"},
		{503, "failing", 2, "the last sweep failed (2 in a row): graph: HTTP 503"},
		{503, "failing", 3, "the last sweep failed (3 in a row): sweep panicked: nil map"},
		{200, "ok", 0, ""},
	}
	for i, w := range want {
		waitWaiters(t, h.clock, 1)
		h.clock.Advance(time.Hour)
		eventually(t, func() bool {
			return h.runs(OutcomeFailure)+h.runs(OutcomeSuccess) == i+1
		}, "sweep %d to finish", i+1)
		code, hl := h.health()
		if code != w.code || hl.Status != w.status || hl.ConsecutiveFailures != w.failures || hl.Reason != w.reason {
			t.Errorf("after sweep %d: %d %+v, want %d %s %q", i+1, code, hl, w.code, w.status, w.reason)
		}
		if i == 2 && !strings.Contains(hl.LastError, "sweep panicked: nil map") {
			t.Errorf("last error %q", hl.LastError)
		}
		if i == 3 && (hl.LastErrorAt == nil || hl.LastSuccess == nil) {
			t.Errorf("health after recovery: %+v", hl)
		}
	}
	if h.runs(OutcomeFailure) != 3 || h.runs(OutcomeSuccess) != 1 {
		t.Errorf("runs: %v failures, %v successes", h.runs(OutcomeFailure), h.runs(OutcomeSuccess))
	}
	// Each sweep is one line at the info level or above, with its outcome
	// and new-hit count.
	logs := h.logs.String()
	for _, re := range []string{
		`level=ERROR msg="serve: sweep failed; waiting for the next run" sweep=1 outcome=failure new_hits=0 .*failures_in_a_row=1 err="graph: HTTP 503"`,
		`level=ERROR msg="serve: sweep failed; waiting for the next run" sweep=3 outcome=failure new_hits=0 .*err="sweep panicked: nil map"`,
		`level=INFO msg="serve: sweep finished" sweep=4 outcome=hits new_hits=4 duration=0s results=out/r4`,
	} {
		if !regexp.MustCompile(re).MatchString(logs) {
			t.Errorf("log lacks %s:\n%s", re, logs)
		}
	}
}

func TestServeStaleWhenNoSuccessForTwoIntervals(t *testing.T) {
	g := newGate()
	h := start(t, Options{}, g.sweep)
	waitWaiters(t, h.clock, 1)
	h.clock.Advance(time.Hour) // 06:00 success
	g.waitStart(t)
	g.release <- nil
	eventually(t, func() bool { return h.runs(OutcomeSuccess) == 1 }, "a success")
	waitWaiters(t, h.clock, 1)
	h.clock.Advance(time.Hour) // 07:00: this sweep hangs
	g.waitStart(t)
	waitWaiters(t, h.clock, 1)
	h.clock.Advance(time.Hour) // 08:00 skipped
	waitWaiters(t, h.clock, 1)
	h.clock.Advance(29 * time.Minute) // 08:29, 2h29m after the success
	if code, hl := h.health(); code != 200 || hl.Status != "ok" {
		t.Errorf("at 2h29m: %d %+v", code, hl)
	}
	h.clock.Advance(2 * time.Minute) // 08:31
	if code, hl := h.health(); code != 503 || hl.Status != "stale" || !hl.Running {
		t.Errorf("at 2h31m: %d %+v", code, hl)
	}
	g.release <- nil
}

func TestServeStopLetsTheSweepFinish(t *testing.T) {
	g := newGate()
	h := start(t, Options{RunAtStart: true, Grace: time.Minute}, g.sweep)
	ctx := g.waitStart(t)
	waitWaiters(t, h.clock, 1)
	h.cancel()
	waitWaiters(t, h.clock, 2) // the grace timer
	h.clock.Advance(59 * time.Second)
	g.release <- nil
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil {
		// cancelled only after it returned, to free resources
		t.Error("sweep context still live after Serve returned")
	}
	if h.runs(OutcomeSuccess) != 1 || h.runs(OutcomeCancelled) != 0 {
		t.Errorf("runs: %v success, %v cancelled", h.runs(OutcomeSuccess), h.runs(OutcomeCancelled))
	}
}

func TestServeStopCancelsASweepPastGrace(t *testing.T) {
	g := newGate()
	h := start(t, Options{RunAtStart: true, Grace: time.Minute}, g.sweep)
	ctx := g.waitStart(t)
	waitWaiters(t, h.clock, 1)
	h.cancel()
	waitWaiters(t, h.clock, 2)
	if ctx.Err() != nil {
		t.Fatal("the sweep was cancelled before its grace period ended")
	}
	h.clock.Advance(time.Minute)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Error("sweep context not cancelled")
	}
	if h.runs(OutcomeCancelled) != 1 || h.runs(OutcomeFailure) != 0 {
		t.Errorf("runs: %v cancelled, %v failure", h.runs(OutcomeCancelled), h.runs(OutcomeFailure))
	}
}

func TestServeGivesUpOnASweepThatIgnoresCancel(t *testing.T) {
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	started := make(chan struct{}, 1)
	h := start(t, Options{RunAtStart: true, Grace: time.Minute, Abandon: 10 * time.Second}, func(ctx context.Context) (Report, error) {
		started <- struct{}{}
		<-stuck
		return Report{}, nil
	})
	<-started
	waitWaiters(t, h.clock, 1)
	h.cancel()
	waitWaiters(t, h.clock, 2)
	h.clock.Advance(time.Minute)
	waitWaiters(t, h.clock, 2) // the abandon timer
	h.clock.Advance(10 * time.Second)
	if err := h.stop(); err == nil || !strings.Contains(err.Error(), "did not return 10s after it was cancelled") {
		t.Fatalf("Serve = %v", err)
	}
}

func TestServeIdleStopsAtOnce(t *testing.T) {
	h := start(t, Options{}, func(context.Context) (Report, error) { return Report{}, nil })
	waitWaiters(t, h.clock, 1)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(h.url + "/healthz"); err == nil {
		t.Error("endpoint still answers after Serve returned")
	}
}

func TestServeMetricsEndpoint(t *testing.T) {
	g := newGate()
	h := start(t, Options{RunAtStart: true}, g.sweep)
	g.waitStart(t)
	g.release <- errors.New("boom")
	eventually(t, func() bool { return h.runs(OutcomeFailure) == 1 }, "a failure")
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	fams, err := parseExposition(string(body))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range fams[MetricRuns].samples {
		if s.labels["outcome"] == "failure" && s.value == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("metrics lack the failed run:\n%s", body)
	}
	req, _ := http.NewRequest(http.MethodPost, h.url+"/healthz", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %v %v", resp, err)
	}
	if resp, err := http.Get(h.url + "/"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /: %v %v", resp, err)
	}
}

func TestServeRefusesRemoteListen(t *testing.T) {
	s, _ := Every(time.Hour)
	for _, addr := range []string{"0.0.0.0:0", ":9464", "192.0.2.10:9464", "[::]:0", "example.com:80"} {
		err := Serve(context.Background(), Options{Schedule: s, Listen: addr}, func(context.Context) (Report, error) { return Report{}, nil }, nil)
		if err == nil || !strings.Contains(err.Error(), "not loopback") {
			t.Errorf("Listen %q: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:9464", "[::1]:9464", "localhost:9464", "127.0.0.2:1"} {
		if err := checkLoopback(addr, false); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if err := checkLoopback("0.0.0.0:9464", true); err != nil {
		t.Errorf("AllowRemote: %v", err)
	}
	if err := Serve(context.Background(), Options{Listen: "127.0.0.1:0"}, func(context.Context) (Report, error) { return Report{}, nil }, nil); err == nil {
		t.Error("Serve without a schedule")
	}
}

func TestServeRealClock(t *testing.T) {
	// The one test on the real clock: a 1 s interval with RunAtStart, and
	// a stop right after the first sweep; no waiting on the schedule.
	s, _ := Every(time.Second)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ran := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Serve(ctx, Options{Schedule: s, Listener: ln, RunAtStart: true, Logger: slog.New(slog.DiscardHandler)},
			func(context.Context) (Report, error) { ran <- struct{}{}; return Report{}, nil }, nil)
	}()
	<-ran
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
