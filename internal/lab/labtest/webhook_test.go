package labtest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

func startTestSink(t *testing.T, opts WebhookSinkOptions) *WebhookSink {
	t.Helper()
	s, err := StartWebhookSink(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func post(t *testing.T, s *WebhookSink, url, ctype, body string) (int, http.Header, string) {
	t.Helper()
	resp, err := s.HTTPClient().Post(url, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const (
	goodWebhook = `{"version":1,"source":"c2sweep","run":3,"time":"2026-11-27T06:00:00Z","heartbeat":false,"summary":"1 new hit","hits":[{"ip":"203.0.113.9","hunts":["PoshC2"],"time":"2026-11-27T05:00:00.1234567Z"}]}`
	goodTeams   = `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"hi"},{"type":"Container","items":[{"type":"FactSet","facts":[{"title":"a","value":"b"}]}]}]}}]}`
	goodSlack   = `{"text":"hi","blocks":[{"type":"header","text":{"type":"plain_text","text":"hi"}},{"type":"section","text":{"type":"mrkdwn","text":"*x*"}},{"type":"context","elements":[{"type":"mrkdwn","text":"y"}]}]}`
)

func TestWebhookSinkAnswersLikeTheService(t *testing.T) {
	big := `{"@type":"MessageCard","@context":"https://schema.org/extensions","summary":"s","text":"` + strings.Repeat("x", 29*1024) + `"}`
	blocks := make([]string, 51)
	for i := range blocks {
		blocks[i] = `{"type":"divider"}`
	}
	for _, tc := range []struct {
		kind, ctype, body string
		status            int
		answer, problem   string
	}{
		{SinkWebhook, "application/json", goodWebhook, 204, "", ""},
		{SinkWebhook, "application/json", `{"version":1,"source":"c2sweep","run":3,"time":"2026-11-27T06:00:00Z","heartbeat":false,"summary":"","hits":null}`, 400, "hits must be an array", "hits must be an array"},
		{SinkWebhook, "application/json", strings.Replace(goodWebhook, `"203.0.113.9"`, `"203.0.113.9; drop"`, 1), 400, "hits[0].ip", "hits[0].ip"},
		{SinkWebhook, "application/json", strings.Replace(goodWebhook, `"heartbeat":false`, `"heartbeat":true`, 1), 400, "a heartbeat carries no hits", "heartbeat"},
		{SinkWebhook, "text/plain", goodWebhook, 415, "want application/json", "content type"},
		{SinkTeams, "application/json", goodTeams, 200, "1", ""},
		{SinkTeams, "application/json; charset=utf-8", `{"@type":"MessageCard","@context":"https://schema.org/extensions","text":"hello"}`, 200, "1", ""},
		{SinkTeams, "application/json", `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptivCard","version":"1.4","body":[]}}]}`, 400, "Bad payload received by generic incoming webhook.", "AdaptiveCard"},
		{SinkTeams, "application/json", `{"text":"plain"}`, 400, "Bad payload", "MessageCard"},
		{SinkTeams, "application/json", big, 200, "Microsoft Teams endpoint returned HTTP error 413", "over Teams' 28 KB"},
		{SinkSlack, "application/json", goodSlack, 200, "ok", ""},
		{SinkSlack, "application/json", `{"text":"just text"}`, 200, "ok", ""},
		{SinkSlack, "application/json", `{}`, 400, "no_text", "needs text or blocks"},
		{SinkSlack, "application/json", `{"text":`, 400, "invalid_payload", "not a JSON object"},
		{SinkSlack, "application/json", `{"text":"x","blocks":[` + strings.Join(blocks, ",") + `]}`, 400, "invalid_blocks", "more than 50"},
		{SinkSlack, "application/json", `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("a", 3001) + `"}}]}`, 400, "invalid_blocks", "3000"},
		{SinkSlack, "application/json", `{"blocks":[{"type":"header","text":{"type":"mrkdwn","text":"x"}}]}`, 400, "invalid_blocks", "plain_text"},
		{SinkSlack, "application/x-www-form-urlencoded", `payload=%7B%7D`, 400, "invalid_payload", "content type"},
	} {
		s := startTestSink(t, WebhookSinkOptions{Kind: tc.kind})
		status, _, answer := post(t, s, s.URL, tc.ctype, tc.body)
		if status != tc.status || !strings.Contains(answer, tc.answer) {
			t.Errorf("%s %.60s: %d %q, want %d %q", tc.kind, tc.body, status, answer, tc.status, tc.answer)
		}
		reqs := s.Requests()
		if len(reqs) != 1 || !strings.Contains(reqs[0].Problem, tc.problem) || (tc.problem == "") != (reqs[0].Problem == "") {
			t.Errorf("%s %.60s: recorded %+v, want problem %q", tc.kind, tc.body, reqs, tc.problem)
			continue
		}
		if !bytes.Equal(reqs[0].Body, []byte(tc.body)) || reqs[0].Header.Get("Content-Type") != tc.ctype || reqs[0].Status != status {
			t.Errorf("%s: request not recorded faithfully", tc.kind)
		}
		if got := len(s.Accepted()); got != map[bool]int{true: 1, false: 0}[tc.problem == ""] {
			t.Errorf("%s %.60s: %d accepted", tc.kind, tc.body, got)
		}
	}
}

func TestWebhookSinkPathAndMethod(t *testing.T) {
	s := startTestSink(t, WebhookSinkOptions{Kind: SinkSlack})
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") || !strings.Contains(s.URL, "/services/T0LAB0001/B0LAB0001/"+s.Token) || len(s.Token) != 32 {
		t.Fatalf("URL %s token %s", s.URL, s.Token)
	}
	wrong := strings.TrimSuffix(s.URL, s.Token) + "AAAA"
	if status, _, body := post(t, s, wrong, "application/json", goodSlack); status != 404 || body != "no_service" {
		t.Errorf("wrong token: %d %q", status, body)
	}
	resp, err := s.HTTPClient().Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	if len(s.Accepted()) != 0 || len(s.Requests()) != 2 {
		t.Errorf("requests %+v", s.Requests())
	}
	teams := startTestSink(t, WebhookSinkOptions{Kind: SinkTeams})
	if !strings.Contains(teams.URL, "/IncomingWebhook/"+teams.Token+"/") {
		t.Errorf("teams URL %s", teams.URL)
	}
}

func TestWebhookSinkInjectedFailures(t *testing.T) {
	s := startTestSink(t, WebhookSinkOptions{Kind: SinkTeams})
	s.FailNext(1, 429, "7")
	s.BuryNext(1, 429)
	s.DropNext(1)
	status, h, _ := post(t, s, s.URL, "application/json", goodTeams)
	if status != 429 || h.Get("Retry-After") != "7" {
		t.Errorf("FailNext: %d Retry-After %q", status, h.Get("Retry-After"))
	}
	status, _, body := post(t, s, s.URL, "application/json", goodTeams)
	if status != 200 || !strings.HasPrefix(body, "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId") {
		t.Errorf("BuryNext: %d %q", status, body)
	}
	if _, err := s.HTTPClient().Post(s.URL, "application/json", strings.NewReader(goodTeams)); err == nil {
		t.Error("DropNext: the request got an answer")
	}
	if status, _, body := post(t, s, s.URL, "application/json", goodTeams); status != 200 || body != "1" {
		t.Errorf("after the faults: %d %q", status, body)
	}
	reqs := s.Requests()
	if len(reqs) != 4 || !reqs[0].Injected || !reqs[1].Injected || !reqs[2].Injected || reqs[2].Status != 0 || reqs[3].Injected {
		t.Errorf("recorded %+v", reqs)
	}
	if len(s.Accepted()) != 1 {
		t.Errorf("accepted %d", len(s.Accepted()))
	}
}

func TestWebhookSinkPlainHTTPAndLoopbackOnly(t *testing.T) {
	s := startTestSink(t, WebhookSinkOptions{PlainHTTP: true})
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.CAPool != nil {
		t.Fatalf("URL %s", s.URL)
	}
	if status, _, _ := post(t, s, s.URL, "application/json", goodWebhook); status != 204 {
		t.Errorf("status %d", status)
	}
	if _, err := StartWebhookSink(WebhookSinkOptions{Listen: "0.0.0.0:0"}); err == nil {
		t.Error("listened beyond loopback")
	}
	if _, err := StartWebhookSink(WebhookSinkOptions{Kind: "discord"}); err == nil {
		t.Error("unknown kind accepted")
	}
	s.Close()
	if _, err := http.Post(s.URL, "application/json", strings.NewReader(goodWebhook)); err == nil {
		t.Error("sink still answers after Close")
	}
}

func TestWebhookSinkRefusesUntrustingClients(t *testing.T) {
	s := startTestSink(t, WebhookSinkOptions{Kind: SinkWebhook})
	if _, err := http.Post(s.URL, "application/json", strings.NewReader(goodWebhook)); err == nil {
		t.Error("a client without the sink's CA connected")
	}
}
