package loganalyticslab_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/lab/loganalyticslab"
)

type answer struct {
	status int
	header http.Header
	raw    string
}

func token(t *testing.T, l *lab.Lab, resource string) string {
	t.Helper()
	resp, err := labtest.Client(l).PostForm(l.URL+"/"+l.Creds.TenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {l.Creds.ClientID}, "client_secret": {l.Creds.ClientSecret}, "scope": {resource + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token for %s: %d %v", resource, resp.StatusCode, err)
	}
	return body.AccessToken
}

func query(t *testing.T, l *lab.Lab, workspace, tok, contentType, body string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", l.URL+"/v1/workspaces/"+workspace+"/query", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := labtest.Client(l).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

// The service's wire quirks, as a client sees them.
func TestWire(t *testing.T) {
	now := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
	l := labtest.Start(t, lab.Options{Now: func() time.Time { return now }})
	tok := token(t, l, entralab.ResourceLogAnalytics)
	ok := `{"query":"SigninLogs\n| where IPAddress in (\"198.51.100.7\")"}`
	const js = "application/json"
	for _, tc := range []struct {
		name, workspace, tok, ctype, body string
		status                            int
		contains                          string
	}{
		{"no token", loganalyticslab.Workspace, "", js, ok, 401, `"AuthenticationFailed"`},
		{"graph token", loganalyticslab.Workspace, token(t, l, entralab.ResourceGraph), js, ok, 403, `"InvalidAuthenticationTokenAudience"`},
		{"unknown workspace", "11111111-2222-3333-4444-555555555555", tok, js, ok, 404, `"WorkspaceNotFoundError"`},
		{"not JSON: 200, empty", loganalyticslab.Workspace, tok, "text/plain", ok, 200, ""},
		{"empty workspace", loganalyticslab.EmptyWorkspace, tok, js, ok, 204, ""},
		{"no query", loganalyticslab.Workspace, tok, js, `{"timespan":"P1D"}`, 400, `"BadArgumentError"`},
		{"unknown table", loganalyticslab.Workspace, tok, js, `{"query":"Nope | take 1"}`, 400, `"SyntaxError"`},
		{"rows", loganalyticslab.Workspace, tok, js, ok, 200, `{"tables":[{"name":"PrimaryResult","columns":[{"name":"TimeGenerated","type":"datetime"}`},
	} {
		a := query(t, l, tc.workspace, tc.tok, tc.ctype, tc.body)
		if a.status != tc.status || !strings.Contains(a.raw, tc.contains) || (tc.contains == "" && a.raw != "") {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, a.status, a.raw, tc.status, tc.contains)
		}
	}
	// 200 calls per 30 s a principal: the calls above count (the refused
	// ones before the token check do not).
	n := 0
	for ; n < 300; n++ {
		if a := query(t, l, loganalyticslab.Workspace, tok, js, ok); a.status == 429 {
			if a.header.Get("Retry-After") != "30" || !strings.Contains(a.raw, `"TooManyRequests"`) {
				t.Errorf("429: Retry-After %q, %s", a.header.Get("Retry-After"), a.raw)
			}
			break
		}
	}
	if n+6 != 200 {
		t.Errorf("throttled after %d calls, want 200 in all", n+6)
	}
}
