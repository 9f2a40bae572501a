package defenderlab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/defenderlab"
	"c2sweep/internal/lab/labtest"
)

type fixture struct {
	l   *lab.Lab
	hc  *http.Client
	tok string
	svc *defenderlab.Service
}

func setup(t *testing.T, clk *clock.Fake, scope string) *fixture {
	t.Helper()
	l := labtest.Start(t, lab.Options{Now: clk.Now})
	hc := labtest.Client(l)
	cred, err := hunting.NewCredential(hunting.AuthOptions{TenantID: l.Creds.TenantID, ClientID: l.Creds.ClientID,
		ClientSecret: l.Creds.ClientSecret, AuthorityHost: l.URL + "/", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{l: l, hc: hc, tok: tok.Token, svc: defenderlab.Of(l)}
}

func (f *fixture) call(t *testing.T, method, path string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, f.l.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+f.tok)
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: %q", method, path, data)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func item(ip string) map[string]any {
	return map[string]any{"indicatorValue": ip, "indicatorType": "IpAddress", "action": "Audit", "generateAlert": true,
		"title": "t", "description": "d", "application": "c2sweep"}
}

func code(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestImportListPageDelete(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	f := setup(t, clk, "https://api.securitycenter.microsoft.com/.default")
	var items []any
	for i := range 5 {
		items = append(items, item(fmt.Sprintf("192.0.2.%d", i+1)))
	}
	bad := item("192.0.2.0/24")
	items = append(items, bad)
	st, _, body := f.call(t, "POST", "/api/indicators/import", map[string]any{"Indicators": items})
	vals, _ := body["value"].([]any)
	if st != 200 || len(vals) != 6 || vals[5].(map[string]any)["isFailed"] != true {
		t.Fatalf("import: %d %v", st, body)
	}
	// Page through c2sweep's with $top/$skip; the analyst's three are not among them.
	var seen []string
	for skip := 0; ; skip += 2 {
		st, _, body = f.call(t, "GET", "/api/indicators?%24filter=application+eq+%27c2sweep%27&%24top=2&%24skip="+fmt.Sprint(skip), nil)
		page, _ := body["value"].([]any)
		if st != 200 {
			t.Fatalf("list: %d %v", st, body)
		}
		for _, p := range page {
			seen = append(seen, p.(map[string]any)["id"].(string))
		}
		if len(page) < 2 {
			break
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paged %d of 5", len(seen))
	}
	if st, _, body = f.call(t, "GET", "/api/indicators", nil); len(body["value"].([]any)) != 8 {
		t.Fatalf("all: %d %v", st, body)
	}
	if st, _, body = f.call(t, "GET", "/api/indicators?%24filter=colour+eq+%27red%27", nil); st != 400 || code(body) != "InvalidInput" {
		t.Fatalf("bad filter: %d %v", st, body)
	}
	// BatchDelete is all or nothing: one missing id deletes none.
	if st, _, body = f.call(t, "POST", "/api/indicators/BatchDelete", map[string]any{"IndicatorIds": []string{seen[0], "999999"}}); st != 404 || code(body) != "ResourceNotFound" {
		t.Fatalf("missing id: %d %v", st, body)
	}
	if st, _, _ = f.call(t, "POST", "/api/indicators/BatchDelete", map[string]any{"IndicatorIds": seen[:2]}); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if n := len(f.svc.Indicators()); n != 6 {
		t.Fatalf("%d left, want 6", n)
	}
	if st, _, body = f.call(t, "POST", "/api/indicators/BatchDelete", map[string]any{"IndicatorIds": []string{}}); st != 400 {
		t.Fatalf("empty delete: %d %v", st, body)
	}
	// More than 500 a call is refused whole.
	var many []any
	for i := range 501 {
		many = append(many, item(fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
	}
	if st, _, body = f.call(t, "POST", "/api/indicators/import", map[string]any{"Indicators": many}); st != 400 || code(body) != "MaximumBatchSizeExceeded" {
		t.Fatalf("501: %d %v", st, body)
	}
}

func TestCapAndExpiry(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	f := setup(t, clk, "https://api.securitycenter.microsoft.com/.default")
	f.svc.SetCap(4) // the analyst's 3 + 1
	exp := clk.Now().Add(time.Hour)
	a, b := item("192.0.2.1"), item("192.0.2.2")
	a["expirationTime"] = exp
	_, _, body := f.call(t, "POST", "/api/indicators/import", map[string]any{"Indicators": []any{a, b}})
	vals := body["value"].([]any)
	if vals[0].(map[string]any)["isFailed"] != false || vals[1].(map[string]any)["isFailed"] != true ||
		!strings.Contains(vals[1].(map[string]any)["failureReason"].(string), "maximum") {
		t.Fatalf("cap: %v", body)
	}
	clk.Advance(time.Hour)
	if n := len(f.svc.Indicators()); n != 3 {
		t.Fatalf("an expired indicator is still listed: %d", n)
	}
}

func TestRateLimitAndTokens(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	f := setup(t, clk, "https://api.securitycenter.microsoft.com/.default")
	for i := range 30 {
		if st, _, body := f.call(t, "POST", "/api/indicators/import", map[string]any{"Indicators": []any{item(fmt.Sprintf("192.0.2.%d", i))}}); st != 200 {
			t.Fatalf("call %d: %d %v", i, st, body)
		}
	}
	st, h, body := f.call(t, "POST", "/api/indicators/import", map[string]any{"Indicators": []any{item("192.0.2.99")}})
	if st != 429 || code(body) != "TooManyRequests" || h.Get("Retry-After") != "60" {
		t.Fatalf("31st call: %d %v %v", st, h, body)
	}
	clk.Advance(time.Minute)
	if st, _, _ := f.call(t, "POST", "/api/indicators/import", map[string]any{"Indicators": []any{item("192.0.2.99")}}); st != 200 {
		t.Fatalf("after a minute: %d", st)
	}
	f.tok = "not-a-token"
	if st, _, body := f.call(t, "GET", "/api/indicators", nil); st != 401 || code(body) != "Unauthorized" {
		t.Fatalf("forged: %d %v", st, body)
	}
	g := setup(t, clk, "https://graph.microsoft.com/.default")
	if st, _, body := g.call(t, "GET", "/api/indicators", nil); st != 401 || !strings.Contains(fmt.Sprint(body), "audience") {
		t.Fatalf("graph token: %d %v", st, body)
	}
	h2 := setup(t, clk, "https://api.securitycenter.microsoft.com/.default")
	h2.svc.Deny(true)
	if st, _, body := h2.call(t, "GET", "/api/indicators", nil); st != 403 || !strings.Contains(fmt.Sprint(body), "Ti.ReadWrite.All") {
		t.Fatalf("denied: %d %v", st, body)
	}
}
