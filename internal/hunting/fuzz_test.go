package hunting

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/clock"
)

// The services' error envelopes and Entra's sign-in reports are outside
// data: parsed or kept as redacted text, never a panic, never the token.

const fuzzToken = "eyJ0eXAiOiJKV1QifuzzTokenSecretPart.signature"

func FuzzAPIError(f *testing.F) {
	for _, s := range []struct{ body, retryAfter string }{
		{`{"error":{"code":"BadRequest","message":"Query execution has exceeded the allowed limits.","innerError":{"request-id":"r1"}}}`, ""},
		{`{"error":{"code":"TooManyRequests","message":"slow down","target":"t"}}`, "7"},
		{`{"error":{"code":"Unauthorized","message":"bad token ` + fuzzToken + `"}}`, "Wed, 21 Oct 2026 07:28:00 GMT"},
		{`<html><body>502 Bad Gateway</body></html>`, "-1"},
		{`{"error":"flat"}`, ""},
	} {
		f.Add([]byte(s.body), s.retryAfter)
	}
	c := &client{api: "graph", clock: clock.NewFake(time.Date(2026, 10, 21, 7, 0, 0, 0, time.UTC))}
	f.Fuzz(func(t *testing.T, body []byte, retryAfter string) {
		body = bytes.ReplaceAll(body, []byte("TOKEN"), []byte(fuzzToken)) // lets the fuzzer place the token
		resp := &http.Response{StatusCode: 400, Header: http.Header{"Retry-After": {retryAfter}}, Body: io.NopCloser(bytes.NewReader(body))}
		e := c.apiError(resp, fuzzToken)
		if strings.Contains(e.Error(), fuzzToken) || strings.Contains(e.RequestID, fuzzToken) {
			t.Fatalf("the token shows in %q", e.Error())
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative Retry-After %v", e.RetryAfter)
		}
	})
}

func FuzzSummariseSignIn(f *testing.F) {
	for _, s := range []string{
		"ClientSecretCredential: authentication failed\nPOST https://login.example/t/oauth2/v2.0/token\n---\nRESPONSE 401\n{\n  \"error\": \"invalid_client\",\n  \"error_description\": \"AADSTS7000215: Invalid client secret provided. Trace ID: x\",\n  \"error_codes\": [7000215]\n}\n---\nTo troubleshoot, visit https://aka.ms/x",
		"DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing",
		"\n{\n}", "x\n}\n{", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		out, _ := summariseSignIn(msg)
		if !strings.Contains(msg, "\n{") && out != msg {
			t.Fatalf("a report without an Entra body changed: %q -> %q", msg, out)
		}
	})
}
