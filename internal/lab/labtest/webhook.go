package labtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"c2sweep/internal/lab"
)

// Webhook kinds a WebhookSink can play.
const (
	SinkWebhook = "webhook" // c2sweep's generic JSON webhook
	SinkTeams   = "teams"   // a Microsoft Teams incoming webhook
	SinkSlack   = "slack"   // a Slack incoming webhook
)

// WebhookSinkOptions configures a fake webhook receiver.
type WebhookSinkOptions struct {
	Kind      string // webhook (default), teams or slack
	Listen    string // default 127.0.0.1:0; loopback only
	PlainHTTP bool   // serve http:// instead of https:// with a lab CA
}

// WebhookRequest is one request the sink received.
type WebhookRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Status int // what the sink answered (0 for a dropped connection)
	// Problem says why the body was refused ("" when it was valid).
	Problem string
	// Injected marks an answer forced by FailNext, DropNext or BuryNext.
	Injected bool
}

// Accepted reports whether the receiver took the message: the path and
// body were valid and no failure was injected.
func (r WebhookRequest) Accepted() bool { return r.Status/100 == 2 && r.Problem == "" && !r.Injected }

// WebhookSink is a fake incoming webhook (generic, Teams or Slack) on
// loopback. It answers like the real service, validates the body shape
// per kind, records every request, and fails on demand. Its URL holds a
// random token, as real webhook URLs do, so tests can check it never leaks.
//
// Answers, per kind, for a valid message / a bad body / an unknown path:
//
//	webhook  204 / 400 {"error":...} / 404
//	teams    200 "1" / 400 "Bad payload received by generic incoming webhook." / 404;
//	         over 28 KB: 200 with "Webhook message delivery failed with error:
//	         Microsoft Teams endpoint returned HTTP error 413 ..." (Teams buries it)
//	slack    200 "ok" / 400 invalid_payload|no_text|invalid_blocks / 404 no_service
type WebhookSink struct {
	URL    string         // the full webhook URL, token included
	Token  string         // the secret part of URL
	CAPool *x509.CertPool // trusts the sink; nil with PlainHTTP
	Kind   string

	path string
	srv  *http.Server
	ln   net.Listener

	mu     sync.Mutex
	reqs   []WebhookRequest
	faults []sinkFault
}

type sinkFault struct {
	drop       bool
	bury       bool // Teams: 200 with the real status in the body
	status     int
	retryAfter string
}

// teamsMaxMessage is Teams' message size limit (28 KB).
const teamsMaxMessage = 28 * 1024

// StartWebhookSink starts a sink; Close stops it.
func StartWebhookSink(opts WebhookSinkOptions) (*WebhookSink, error) {
	if opts.Kind == "" {
		opts.Kind = SinkWebhook
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("lab: webhook sink listen address %q: %w", opts.Listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("lab: webhook sink listen address %q is not loopback", opts.Listen)
	}
	s := &WebhookSink{Kind: opts.Kind, Token: randHex(16)}
	switch opts.Kind {
	case SinkWebhook:
		s.path = "/hooks/c2sweep/" + s.Token
	case SinkTeams:
		s.path = fmt.Sprintf("/webhookb2/%s@%s/IncomingWebhook/%s/%s", labUUID(), labUUID(), s.Token, labUUID())
	case SinkSlack:
		s.path = "/services/T0LAB0001/B0LAB0001/" + s.Token
	default:
		return nil, fmt.Errorf("lab: unknown webhook kind %q (webhook, teams, slack)", opts.Kind)
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second,
		// Refused handshakes (tests of untrusted certificates) are expected.
		ErrorLog: log.New(io.Discard, "", 0)}
	scheme := "http"
	if !opts.PlainHTTP {
		cert, pool, err := lab.ServerTLS()
		if err != nil {
			return nil, err
		}
		s.CAPool = pool
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		// HTTP/1.1 only, so that DropNext can cut the connection.
		s.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		scheme = "https"
	}
	if s.ln, err = net.Listen("tcp", opts.Listen); err != nil {
		return nil, fmt.Errorf("lab: webhook sink: %w", err)
	}
	s.URL = scheme + "://" + s.ln.Addr().String() + s.path
	if opts.PlainHTTP {
		go s.srv.Serve(s.ln)
	} else {
		go s.srv.ServeTLS(s.ln, "", "")
	}
	return s, nil
}

// Close stops the sink.
func (s *WebhookSink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	return err
}

// HTTPClient returns a client that trusts the sink.
func (s *WebhookSink) HTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if s.CAPool != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: s.CAPool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: 10 * time.Second}
}

// FailNext answers the next n requests with status, and a Retry-After
// header when retryAfter is not empty.
func (s *WebhookSink) FailNext(n, status int, retryAfter string) {
	s.addFaults(n, sinkFault{status: status, retryAfter: retryAfter})
}

// DropNext closes the connection of the next n requests without answering.
func (s *WebhookSink) DropNext(n int) { s.addFaults(n, sinkFault{drop: true}) }

// BuryNext answers the next n requests as Teams' classic connectors do
// when Teams refused the message: status 200, the real status in the text.
func (s *WebhookSink) BuryNext(n, status int) { s.addFaults(n, sinkFault{bury: true, status: status}) }

func (s *WebhookSink) addFaults(n int, f sinkFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// Requests returns a copy of every request received, in order.
func (s *WebhookSink) Requests() []WebhookRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookRequest(nil), s.reqs...)
}

// Accepted returns the messages the receiver took, in order.
func (s *WebhookSink) Accepted() []WebhookRequest {
	var out []WebhookRequest
	for _, r := range s.Requests() {
		if r.Accepted() {
			out = append(out, r)
		}
	}
	return out
}

func (s *WebhookSink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := WebhookRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	var f *sinkFault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()
	if f != nil {
		rec.Injected = true
		switch {
		case f.drop:
			s.record(rec)
			panic(http.ErrAbortHandler)
		case f.bury:
			rec.Status = http.StatusOK
			s.record(rec)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(w, teamsBuried(f.status))
		default:
			rec.Status = f.status
			s.record(rec)
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			s.answerError(w, f.status, fmt.Sprintf("injected failure %d", f.status))
		}
		return
	}
	status, text, ctype := s.judge(r, body, &rec)
	rec.Status = status
	s.record(rec)
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	io.WriteString(w, text)
}

func (s *WebhookSink) record(r WebhookRequest) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

// answerError writes an error the way the kind's service does.
func (s *WebhookSink) answerError(w http.ResponseWriter, status int, msg string) {
	switch s.Kind {
	case SinkSlack:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		if status == http.StatusTooManyRequests {
			msg = "rate_limited"
		}
		io.WriteString(w, msg)
	case SinkTeams:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, msg)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
}

func teamsBuried(status int) string {
	return fmt.Sprintf("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error %d with ContextId tcid=0,server=lab,cv=%s.0..", status, randHex(8))
}

// judge validates a request and picks the answer.
func (s *WebhookSink) judge(r *http.Request, body []byte, rec *WebhookRequest) (int, string, string) {
	fail := func(status int, problem, text, ctype string) (int, string, string) {
		rec.Problem = problem
		return status, text, ctype
	}
	if r.URL.Path != s.path {
		if s.Kind == SinkSlack {
			return fail(http.StatusNotFound, "unknown webhook path", "no_service", "text/html")
		}
		return fail(http.StatusNotFound, "unknown webhook path", "", "")
	}
	if r.Method != http.MethodPost {
		return fail(http.StatusMethodNotAllowed, "method "+r.Method, "", "")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		problem := fmt.Sprintf("content type %q is not application/json", r.Header.Get("Content-Type"))
		switch s.Kind {
		case SinkSlack:
			return fail(http.StatusBadRequest, problem, "invalid_payload", "text/html")
		case SinkTeams:
			return fail(http.StatusBadRequest, problem, "Bad payload received by generic incoming webhook.", "text/plain; charset=utf-8")
		}
		return fail(http.StatusUnsupportedMediaType, problem, `{"error":"want application/json"}`, "application/json")
	}
	var err error
	switch s.Kind {
	case SinkTeams:
		if err = ValidateTeams(body); err != nil {
			return fail(http.StatusBadRequest, err.Error(), "Bad payload received by generic incoming webhook.", "text/plain; charset=utf-8")
		}
		if len(body) > teamsMaxMessage {
			return fail(http.StatusOK, fmt.Sprintf("message of %d bytes is over Teams' 28 KB", len(body)), teamsBuried(413), "text/plain; charset=utf-8")
		}
		return http.StatusOK, "1", "text/plain; charset=utf-8"
	case SinkSlack:
		if code, err := ValidateSlack(body); err != nil {
			return fail(http.StatusBadRequest, err.Error(), code, "text/html")
		}
		return http.StatusOK, "ok", "text/html"
	default:
		if err = ValidateWebhook(body); err != nil {
			msg, _ := json.Marshal(map[string]string{"error": err.Error()})
			return fail(http.StatusBadRequest, err.Error(), string(msg), "application/json")
		}
		return http.StatusNoContent, "", ""
	}
}

// ValidateWebhook checks c2sweep's generic webhook body (version 1).
func ValidateWebhook(body []byte) error {
	var m struct {
		Version   *int    `json:"version"`
		Source    string  `json:"source"`
		Run       *int64  `json:"run"`
		Time      string  `json:"time"`
		Heartbeat *bool   `json:"heartbeat"`
		Summary   *string `json:"summary"`
		Hits      *[]struct {
			IP    string   `json:"ip"`
			Hunts []string `json:"hunts"`
			Time  string   `json:"time"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	switch {
	case m.Version == nil || *m.Version != 1:
		return errors.New("version must be 1")
	case m.Source != "c2sweep":
		return errors.New(`source must be "c2sweep"`)
	case m.Run == nil:
		return errors.New("run is missing")
	case m.Heartbeat == nil:
		return errors.New("heartbeat is missing")
	case m.Summary == nil:
		return errors.New("summary is missing")
	case m.Hits == nil:
		return errors.New("hits must be an array")
	}
	if _, err := time.Parse(time.RFC3339Nano, m.Time); err != nil {
		return fmt.Errorf("time: %v", err)
	}
	if *m.Heartbeat && len(*m.Hits) > 0 {
		return errors.New("a heartbeat carries no hits")
	}
	for i, h := range *m.Hits {
		if _, err := netip.ParseAddr(h.IP); err != nil {
			return fmt.Errorf("hits[%d].ip: %v", i, err)
		}
		if h.Hunts == nil {
			return fmt.Errorf("hits[%d].hunts must be an array", i)
		}
		if _, err := time.Parse(time.RFC3339Nano, h.Time); err != nil {
			return fmt.Errorf("hits[%d].time: %v", i, err)
		}
	}
	return nil
}

// ValidateTeams checks a Teams incoming webhook body: a legacy MessageCard
// or a message whose attachments are Adaptive Cards.
func ValidateTeams(body []byte) error {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if m["@type"] == "MessageCard" {
		_, text := m["text"].(string)
		_, summary := m["summary"].(string)
		if !text && !summary {
			return errors.New("MessageCard needs text or summary")
		}
		if secs, ok := m["sections"].([]any); ok && len(secs) > 10 {
			return errors.New("MessageCard has more than 10 sections")
		}
		return nil
	}
	if m["type"] != "message" {
		return errors.New(`want "@type":"MessageCard" or "type":"message"`)
	}
	atts, ok := m["attachments"].([]any)
	if !ok || len(atts) == 0 {
		return errors.New("message needs attachments")
	}
	for i, a := range atts {
		att, _ := a.(map[string]any)
		if att["contentType"] != "application/vnd.microsoft.card.adaptive" {
			return fmt.Errorf("attachments[%d].contentType is not application/vnd.microsoft.card.adaptive", i)
		}
		card, _ := att["content"].(map[string]any)
		if card["type"] != "AdaptiveCard" {
			return fmt.Errorf(`attachments[%d].content.type must be "AdaptiveCard"`, i)
		}
		if v, _ := card["version"].(string); v == "" {
			return fmt.Errorf("attachments[%d].content.version is missing", i)
		}
		items, ok := card["body"].([]any)
		if !ok {
			return fmt.Errorf("attachments[%d].content.body must be an array", i)
		}
		if err := validateCardElements(items, fmt.Sprintf("attachments[%d].content.body", i)); err != nil {
			return err
		}
	}
	return nil
}

func validateCardElements(items []any, where string) error {
	for j, it := range items {
		el, _ := it.(map[string]any)
		typ, _ := el["type"].(string)
		at := fmt.Sprintf("%s[%d]", where, j)
		switch typ {
		case "TextBlock":
			if _, ok := el["text"].(string); !ok {
				return fmt.Errorf("%s: TextBlock needs text", at)
			}
		case "FactSet":
			facts, ok := el["facts"].([]any)
			if !ok {
				return fmt.Errorf("%s: FactSet needs facts", at)
			}
			for k, f := range facts {
				fm, _ := f.(map[string]any)
				_, t := fm["title"].(string)
				_, v := fm["value"].(string)
				if !t || !v {
					return fmt.Errorf("%s.facts[%d]: needs title and value strings", at, k)
				}
			}
		case "Container":
			sub, ok := el["items"].([]any)
			if !ok {
				return fmt.Errorf("%s: Container needs items", at)
			}
			if err := validateCardElements(sub, at+".items"); err != nil {
				return err
			}
		case "ColumnSet", "Image", "ImageSet", "ActionSet", "RichTextBlock", "Table":
		default:
			return fmt.Errorf("%s: unknown element type %q", at, typ)
		}
	}
	return nil
}

// ValidateSlack checks a Slack incoming webhook body and returns the
// error code Slack would answer with.
func ValidateSlack(body []byte) (string, error) {
	var m struct {
		Text   *string          `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "invalid_payload", fmt.Errorf("not a JSON object: %v", err)
	}
	if (m.Text == nil || *m.Text == "") && len(m.Blocks) == 0 {
		return "no_text", errors.New("needs text or blocks")
	}
	if len(m.Blocks) > 50 {
		return "invalid_blocks", fmt.Errorf("%d blocks, more than 50", len(m.Blocks))
	}
	for i, b := range m.Blocks {
		typ, _ := b["type"].(string)
		text, _ := b["text"].(map[string]any)
		ttype, _ := text["type"].(string)
		tval, _ := text["text"].(string)
		switch typ {
		case "header":
			if ttype != "plain_text" || tval == "" || len([]rune(tval)) > 150 {
				return "invalid_blocks", fmt.Errorf("blocks[%d]: header needs plain_text of 1 to 150 characters", i)
			}
		case "section":
			if text == nil && b["fields"] == nil {
				return "invalid_blocks", fmt.Errorf("blocks[%d]: section needs text or fields", i)
			}
			if text != nil && (ttype != "mrkdwn" && ttype != "plain_text" || tval == "" || len([]rune(tval)) > 3000) {
				return "invalid_blocks", fmt.Errorf("blocks[%d]: section text must be mrkdwn or plain_text of 1 to 3000 characters", i)
			}
		case "context":
			els, ok := b["elements"].([]any)
			if !ok || len(els) == 0 || len(els) > 10 {
				return "invalid_blocks", fmt.Errorf("blocks[%d]: context needs 1 to 10 elements", i)
			}
		case "divider", "image", "actions", "rich_text":
		default:
			return "invalid_blocks", fmt.Errorf("blocks[%d]: unknown block type %q", i, typ)
		}
	}
	return "", nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func labUUID() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
