package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/indicator"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/retry"
)

var t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func mkHit(i int) indicator.Hit {
	return indicator.Hit{
		Table: "DeviceNetworkEvents", Column: "RemoteIP",
		IP:        netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 250)}),
		Timestamp: t0.Add(-time.Duration(i) * time.Minute),
		DeviceID:  fmt.Sprintf("dev%04d", i), Device: fmt.Sprintf("ws-%03d.corp.example", i),
		Account: `corp\alice`, Port: 443, Action: "ConnectionSuccess",
		Process: "rundll32.exe", Command: `rundll32.exe C:\Users\alice\beacon.dll,Start`,
		ReportID: fmt.Sprintf("%d", 1000+i), Hunts: []string{"CobaltStrikeJARM", "PoshC2"},
	}
}

func mkHits(n int) []indicator.Hit {
	hs := make([]indicator.Hit, n)
	for i := range hs {
		hs[i] = mkHit(i)
	}
	return hs
}

func startSink(t *testing.T, kind string) *labtest.WebhookSink {
	t.Helper()
	s, err := labtest.StartWebhookSink(labtest.WebhookSinkOptions{Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sleeps is the fake clock of a target: it records the waits the target
// asks for instead of sleeping.
type sleeps struct {
	once sync.Once
	fake *clock.Fake
}

func (s *sleeps) clock() *clock.Fake {
	s.once.Do(func() { s.fake = clock.NewFake(t0) })
	return s.fake
}

func (s *sleeps) got() []time.Duration { return s.clock().Slept() }

// cancelClock cancels a context when asked to sleep.
type cancelClock struct {
	clock.Clock
	cancel func()
}

func (c cancelClock) Sleep(ctx context.Context, _ time.Duration) error { c.cancel(); return ctx.Err() }

func newTarget(t *testing.T, s *labtest.WebhookSink, sl *sleeps, opts ...Option) Target {
	t.Helper()
	opts = append([]Option{WithClock(sl.clock()), WithJitter(func(d time.Duration) time.Duration { return d })}, opts...)
	tg, err := New("soc", s.Kind, s.URL, s.HTTPClient(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// noSecret fails when text holds the sink's URL or token.
func noSecret(t *testing.T, s *labtest.WebhookSink, what, text string) {
	t.Helper()
	if strings.Contains(text, s.Token) || strings.Contains(text, s.URL) {
		t.Errorf("%s leaks the webhook URL: %s", what, text)
	}
}

func TestNewRefusesUnsafeURLs(t *testing.T) {
	const token = "XyZsecretTOKEN123"
	for _, tc := range []struct{ kind, url, want string }{
		{"slack", "http://hooks.slack.com/services/T/B/" + token, "must be https"},
		{"teams", "ftp://example.com/" + token, "must be https"},
		{"webhook", "https://user:" + token + "@example.com/x", "user information"},
		{"webhook", "hooks.example.com/" + token, "not a valid absolute URL"},
		{"webhook", "https://exa mple.com/" + token, "not a valid absolute URL"},
		{"discord", "https://example.com/" + token, "unknown kind"},
		{"webhook", "http://10.0.0.1/" + token, "must be https"},
	} {
		_, err := New("soc", tc.kind, tc.url, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s, %s) = %v, want error with %q", tc.kind, tc.url, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("error leaks the token: %v", err)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:8080/x", "http://[::1]/x", "http://localhost/x", "https://hooks.slack.com/services/T/B/X"} {
		if _, err := New("soc", "slack", ok, nil); err != nil {
			t.Errorf("New(%s): %v", ok, err)
		}
	}
}

func TestTargetPrintsWithoutURL(t *testing.T) {
	s := startSink(t, labtest.SinkTeams)
	tg := newTarget(t, s, &sleeps{})
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "target", tg)
	for _, text := range []string{fmt.Sprint(tg), fmt.Sprintf("%+v", tg), fmt.Sprintf("%#v", tg), fmt.Sprintf("%s", tg), logged.String()} {
		noSecret(t, s, "formatted target", text)
		if !strings.Contains(text, "soc (teams)") {
			t.Errorf("formatted target %q does not name it", text)
		}
	}
}

func TestWebhookBody(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	tg := newTarget(t, s, &sleeps{})
	hits := mkHits(3)
	hits[1].IP = netip.MustParseAddr("2001:db8::7")
	hits[1].Target = "contoso"
	hits[0].Target = "default"
	hits[2].Hunts = nil
	if err := tg.Send(context.Background(), Alert{RunID: 42, Time: t0, Hits: hits}); err != nil {
		t.Fatal(err)
	}
	acc := s.Accepted()
	if len(acc) != 1 {
		t.Fatalf("accepted %d messages, want 1: %+v", len(acc), s.Requests())
	}
	if ct := acc[0].Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	var b WebhookBody
	if err := json.Unmarshal(acc[0].Body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Version != 1 || b.Run != 42 || b.Heartbeat || b.Time != "2026-11-27T06:00:00Z" || b.Summary != "3 new hits from run 42" || len(b.Hits) != 3 {
		t.Fatalf("body %+v", b)
	}
	h := b.Hits[1]
	want := WebhookHit{Target: "contoso", Device: "ws-001.corp.example", DeviceID: "dev0001", IP: "2001:db8::7", Port: 443,
		Hunts: []string{"CobaltStrikeJARM", "PoshC2"}, Time: "2026-11-27T05:59:00Z", Table: "DeviceNetworkEvents",
		Column: "RemoteIP", Action: "ConnectionSuccess", Process: "rundll32.exe",
		CommandLine: `rundll32.exe C:\Users\alice\beacon.dll,Start`, Account: `corp\alice`, ReportID: "1001"}
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("hit\n got %+v\nwant %+v", h, want)
	}
	if b.Hits[0].Target != "" || b.Hits[2].Target != "" || bytes.Contains(acc[0].Body, []byte(`"target":"default"`)) {
		t.Errorf("the default target is named in the body: %s", acc[0].Body)
	}
	if !bytes.Contains(acc[0].Body, []byte(`"hunts":[]`)) {
		t.Errorf("a hit without hunts must carry an empty array: %s", acc[0].Body)
	}
}

func TestHeartbeatBodies(t *testing.T) {
	for _, kind := range []string{labtest.SinkWebhook, labtest.SinkTeams, labtest.SinkSlack} {
		s := startSink(t, kind)
		tg := newTarget(t, s, &sleeps{})
		if err := tg.Send(context.Background(), Alert{Time: t0, Heartbeat: true}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		acc := s.Accepted()
		if len(acc) != 1 || !bytes.Contains(acc[0].Body, []byte("no new C2 contacts")) && kind != labtest.SinkWebhook {
			t.Fatalf("%s: heartbeat not accepted: %+v", kind, s.Requests())
		}
		if kind == labtest.SinkWebhook && !bytes.Contains(acc[0].Body, []byte(`"heartbeat":true,"summary":"No new hits: c2sweep is running and found nothing new.","hits":[]`)) {
			t.Errorf("webhook heartbeat body: %s", acc[0].Body)
		}
	}
}

func TestCardsListFirstHitsAndSayHowManyMore(t *testing.T) {
	for _, kind := range []string{labtest.SinkTeams, labtest.SinkSlack} {
		s := startSink(t, kind)
		tg := newTarget(t, s, &sleeps{}, WithMaxHits(4))
		if err := tg.Send(context.Background(), Alert{RunID: 7, Time: t0, Hits: mkHits(25)}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		acc := s.Accepted()
		if len(acc) != 1 {
			t.Fatalf("%s: %+v", kind, s.Requests())
		}
		body := string(acc[0].Body)
		for i := range 25 {
			listed := strings.Contains(body, fmt.Sprintf("ws-%03d.corp", i))
			if listed != (i < 4) {
				t.Errorf("%s: hit %d listed=%v", kind, i, listed)
			}
		}
		if !strings.Contains(body, "and 21 more hits") || !strings.Contains(body, "25 new C2 contacts") {
			t.Errorf("%s: body lacks the count of the rest: %s", kind, body)
		}
	}
}

func TestTeamsCardStaysUnderSizeLimit(t *testing.T) {
	s := startSink(t, labtest.SinkTeams)
	tg := newTarget(t, s, &sleeps{}, WithMaxHits(40))
	hits := mkHits(40)
	for i := range hits {
		hits[i].Command = strings.Repeat("powershell -enc QQBBAEEA ", 400) // 10 KB each
	}
	if err := tg.Send(context.Background(), Alert{RunID: 1, Time: t0, Hits: hits}); err != nil {
		t.Fatal(err)
	}
	acc := s.Accepted()
	if len(acc) != 1 {
		t.Fatalf("not accepted: %+v", s.Requests())
	}
	if n := len(acc[0].Body); n > teamsMaxBytes {
		t.Errorf("card is %d bytes, over %d", n, teamsMaxBytes)
	}
	if !strings.Contains(string(acc[0].Body), "more hits") {
		t.Error("a shortened card must say how many hits it left out")
	}
}

func TestSlackCapsBlocksAndEscapes(t *testing.T) {
	s := startSink(t, labtest.SinkSlack)
	tg := newTarget(t, s, &sleeps{}, WithMaxHits(500))
	hits := mkHits(60)
	hits[0].Command = "cmd /c echo <!channel> & <https://evil.example|click me> `whoami`"
	hits[0].Device = "<@U123>"
	if err := tg.Send(context.Background(), Alert{RunID: 1, Time: t0, Hits: hits}); err != nil {
		t.Fatal(err)
	}
	acc := s.Accepted()
	if len(acc) != 1 {
		t.Fatalf("not accepted: %+v", s.Requests())
	}
	var m struct {
		Text   string           `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(acc[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Blocks) != 48 { // header, summary, 45 hits, "and 15 more"
		t.Errorf("%d blocks, want 48", len(m.Blocks))
	}
	first := m.Blocks[2]["text"].(map[string]any)["text"].(string)
	for _, bad := range []string{"<!channel>", "<https://evil", "<@U123>", "`whoami`"} {
		if strings.Contains(first, bad) {
			t.Errorf("slack text keeps control sequence %q: %s", bad, first)
		}
	}
	if !strings.Contains(first, "&lt;!channel&gt; &amp; &lt;https://evil.example|click me&gt;") {
		t.Errorf("slack text not escaped as expected: %s", first)
	}
	if !strings.Contains(m.Text, "60 new C2 contacts") {
		t.Errorf("fallback text %q", m.Text)
	}
}

func TestRetries(t *testing.T) {
	httpDate := t0.Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name     string
		kind     string
		setup    func(s *labtest.WebhookSink)
		opts     []Option
		wantErr  string // "" for success
		retry    bool
		requests int
		sleeps   []time.Duration
	}{
		{name: "429 honours Retry-After", kind: labtest.SinkSlack,
			setup:    func(s *labtest.WebhookSink) { s.FailNext(2, 429, "7") },
			requests: 3, sleeps: []time.Duration{7 * time.Second, 7 * time.Second}},
		{name: "429 without Retry-After backs off", kind: labtest.SinkWebhook,
			setup:    func(s *labtest.WebhookSink) { s.FailNext(1, 429, "0") },
			requests: 2, sleeps: []time.Duration{time.Second}},
		{name: "429 Retry-After as HTTP date", kind: labtest.SinkWebhook,
			setup:    func(s *labtest.WebhookSink) { s.FailNext(1, 429, httpDate) },
			requests: 2},
		{name: "5xx backs off exponentially", kind: labtest.SinkWebhook,
			setup:    func(s *labtest.WebhookSink) { s.FailNext(3, 503, ""); s.FailNext(1, 500, "") },
			requests: 5, sleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{name: "backoff is capped and attempts end", kind: labtest.SinkWebhook,
			setup:   func(s *labtest.WebhookSink) { s.FailNext(10, 502, "") },
			opts:    []Option{WithRetry(4, time.Second, 3*time.Second)},
			wantErr: "HTTP 502", retry: true, requests: 4,
			sleeps: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}},
		{name: "408 is retried", kind: labtest.SinkWebhook,
			setup:    func(s *labtest.WebhookSink) { s.FailNext(1, 408, "") },
			requests: 2, sleeps: []time.Duration{time.Second}},
		{name: "dropped connection is retried", kind: labtest.SinkTeams,
			setup:    func(s *labtest.WebhookSink) { s.DropNext(2) },
			requests: 3, sleeps: []time.Duration{time.Second, 2 * time.Second}},
		{name: "400 is not retried", kind: labtest.SinkSlack,
			setup:   func(s *labtest.WebhookSink) { s.FailNext(1, 400, "") },
			wantErr: "HTTP 400", requests: 1},
		{name: "403 is not retried", kind: labtest.SinkWebhook,
			setup:   func(s *labtest.WebhookSink) { s.FailNext(1, 403, "") },
			wantErr: "HTTP 403", requests: 1},
		{name: "Teams 429 buried in a 200 is retried", kind: labtest.SinkTeams,
			setup:    func(s *labtest.WebhookSink) { s.BuryNext(1, 429) },
			requests: 2, sleeps: []time.Duration{time.Second}},
		{name: "Teams 400 buried in a 200 is a failure", kind: labtest.SinkTeams,
			setup:   func(s *labtest.WebhookSink) { s.BuryNext(1, 400) },
			wantErr: "Teams refused the message with HTTP 400", requests: 1},
		{name: "Retry-After beyond the bound is left for the next run", kind: labtest.SinkSlack,
			setup:   func(s *labtest.WebhookSink) { s.FailNext(1, 429, "3600") },
			wantErr: "left for the next run", retry: true, requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSink(t, tc.kind)
			tc.setup(s)
			sl := &sleeps{}
			tg := newTarget(t, s, sl, tc.opts...)
			err := tg.Send(context.Background(), Alert{RunID: 1, Time: t0, Hits: mkHits(2)})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if len(s.Accepted()) != 1 {
					t.Errorf("accepted %d messages, want 1", len(s.Accepted()))
				}
			} else {
				var de *DeliveryError
				if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Send = %v, want a DeliveryError with %q", err, tc.wantErr)
				}
				if de.Retryable != tc.retry {
					t.Errorf("Retryable = %v, want %v", de.Retryable, tc.retry)
				}
				if !strings.HasPrefix(err.Error(), "notify: soc ("+tc.kind+"): ") {
					t.Errorf("error does not name the target: %v", err)
				}
				noSecret(t, s, "error", err.Error())
			}
			if n := len(s.Requests()); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
			got := sl.got()
			if tc.name == "429 Retry-After as HTTP date" {
				if len(got) != 1 || got[0] != 90*time.Second {
					t.Errorf("slept %v, want 90s (the fake clock)", got)
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.sleeps) && !(len(got) == 0 && len(tc.sleeps) == 0) {
				t.Errorf("slept %v, want %v", got, tc.sleeps)
			}
		})
	}
}

func TestDefaultJitterStaysWithinBackoff(t *testing.T) {
	for range 1000 {
		d := retry.Equal(8 * time.Second)
		if d < 4*time.Second || d > 8*time.Second {
			t.Fatalf("jittered %v out of [4s, 8s]", d)
		}
	}
}

func TestTransportErrorHidesURL(t *testing.T) {
	s := startSink(t, labtest.SinkSlack)
	url := s.URL
	s.Close() // nothing listens any more
	tg, err := New("soc", "slack", url, s.HTTPClient(), WithRetry(2, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Send(context.Background(), Alert{Heartbeat: true, Time: t0})
	var de *DeliveryError
	if !errors.As(err, &de) || !de.Retryable || de.Attempts != 2 || !strings.Contains(err.Error(), "sending failed") {
		t.Fatalf("Send = %#v", err)
	}
	noSecret(t, s, "transport error", err.Error())
	noSecret(t, s, "transport error", fmt.Sprintf("%+v %#v", err, err))
}

func TestUntrustedCertificateFails(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	tg, err := New("soc", "webhook", s.URL, &http.Client{}, WithRetry(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Send(context.Background(), Alert{Heartbeat: true, Time: t0})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Send to an untrusted certificate = %v", err)
	}
	noSecret(t, s, "TLS error", err.Error())
}

func TestContextEndsRetries(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	s.FailNext(10, 503, "")
	ctx, cancel := context.WithCancel(context.Background())
	tg := newTarget(t, s, &sleeps{}, WithClock(cancelClock{clock.NewFake(t0), cancel}))
	err := tg.Send(ctx, Alert{Heartbeat: true, Time: t0})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d requests after cancel, want 1", n)
	}
	noSecret(t, s, "error", err.Error())
}

func TestRedirectIsNotFollowed(t *testing.T) {
	s := startSink(t, labtest.SinkWebhook)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, s.URL, http.StatusFound) })
	// A plain-HTTP loopback receiver that redirects: New accepts http for
	// loopback, and the redirect must not be followed.
	srv := &http.Server{Handler: mux}
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	tg, err := New("relay", "webhook", "http://"+ln.Addr().String()+"/hook/secretpath", s.HTTPClient(), WithRetry(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Send(context.Background(), Alert{Heartbeat: true, Time: t0})
	if err == nil || !strings.Contains(err.Error(), "HTTP 302") || strings.Contains(err.Error(), "secretpath") {
		t.Fatalf("Send = %v", err)
	}
	if len(s.Requests()) != 0 {
		t.Error("redirect was followed")
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func BenchmarkTeamsCard(b *testing.B) {
	a := Alert{RunID: 1, Time: t0, Hits: mkHits(50)}
	b.ReportAllocs()
	for b.Loop() {
		teamsBody(a, 10)
	}
}

func BenchmarkSlackBody(b *testing.B) {
	a := Alert{RunID: 1, Time: t0, Hits: mkHits(50)}
	b.ReportAllocs()
	for b.Loop() {
		slackBody(a, 10)
	}
}

// A receiver that never answers fails each attempt at its deadline; the
// delivery ends, retryable, instead of hanging the run.
func TestSilentReceiverTimesOut(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	sl := &sleeps{}
	tg, err := New("soc", KindWebhook, srv.URL+"/hook", srv.Client(), WithClock(sl.clock()),
		WithRetry(2, time.Second, time.Second), WithAttemptTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Send(context.Background(), Alert{Heartbeat: true, Time: t0})
	var de *DeliveryError
	if !errors.As(err, &de) || !de.Retryable || de.Attempts != 2 || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("Send = %v", err)
	}
	if got := sl.got(); len(got) != 1 {
		t.Errorf("slept %v, want one backoff", got)
	}
}

// Teams and Slack name a hit's sweep target in a line of its own, escaped
// for the format, and say nothing of the default target.
func TestCardsNameTheTarget(t *testing.T) {
	for _, kind := range []string{labtest.SinkTeams, labtest.SinkSlack} {
		s := startSink(t, kind)
		tg := newTarget(t, s, &sleeps{})
		hits := mkHits(2)
		hits[0].Target = "agency<@U123>"
		hits[1].Target = "default"
		if err := tg.Send(context.Background(), Alert{RunID: 3, Time: t0, Hits: hits}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		acc := s.Accepted()
		if len(acc) != 1 {
			t.Fatalf("%s: %+v", kind, s.Requests())
		}
		body := string(acc[0].Body)
		if strings.Count(body, "Target") != 1 || !strings.Contains(body, "agency") {
			t.Errorf("%s: want one Target line, for agency: %s", kind, body)
		}
		if strings.Contains(body, "<@U123>") {
			t.Errorf("%s: target not escaped: %s", kind, body)
		}
		switch kind {
		case labtest.SinkSlack:
			if !strings.Contains(body, `*Target:* agency`) {
				t.Errorf("slack: no Target line: %s", body)
			}
		case labtest.SinkTeams:
			if !strings.Contains(body, `{"title":"Target","value":"agency`) {
				t.Errorf("teams: no Target fact: %s", body)
			}
		}
	}
}
