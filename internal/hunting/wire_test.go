package hunting_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
)

// staticCredential hands out one token and remembers the scopes asked for.
type staticCredential struct {
	mu     sync.Mutex
	scopes []string
}

func (s *staticCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s.mu.Lock()
	s.scopes = append(s.scopes, o.Scopes...)
	s.mu.Unlock()
	return azcore.AccessToken{Token: "tok-123", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// seen is one request as the server got it.
type seen struct {
	method, path, ctype, auth string
	body                      map[string]any
}

// wireServer answers each request with the next of answers (status,
// headers, body), and records what it got.
func wireServer(t *testing.T, answers ...func(w http.ResponseWriter)) (*httptest.Server, *[]seen) {
	t.Helper()
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		mu.Lock()
		n := len(got)
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body})
		mu.Unlock()
		if n >= len(answers) {
			t.Errorf("unexpected request %d", n+1)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		answers[n](w)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func answer(status int, body string, hdr ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const graphOK = `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults",` +
	`"schema":[{"name":"Timestamp","type":"DateTime"},{"name":"RemoteIP","type":"String"}],` +
	`"results":[{"Timestamp":"2026-11-20T10:00:00.1234567Z","RemoteIP":"::ffff:203.0.113.7"}]}`

const mdeOK = `{"Stats":{"ExecutionTime":0.1},"Schema":[{"Name":"Timestamp","Type":"DateTime"}],"Results":[{"Timestamp":"2026-11-20T10:00:00.1234567Z"}]}`

// TestWireFormats checks what goes over the wire against api-contracts.md:
// Graph's path, body {"Query","Timespan"} and token scope; MDE's body with
// only "Query"; the Microsoft 365 Defender variant's path and scope; and
// the answer's schema and rows in either case of keys.
func TestWireFormats(t *testing.T) {
	start := time.Date(2026, 10, 28, 7, 0, 0, 0, time.UTC)
	end := time.Date(2026, 11, 27, 7, 0, 0, 123456789, time.FixedZone("X", 3600))
	req := hunting.Request{Query: "DeviceNetworkEvents | take 1", Start: start, End: end}
	clk := clock.NewFake(start)

	t.Run("graph", func(t *testing.T) {
		srv, got := wireServer(t, answer(200, graphOK))
		cred := &staticCredential{}
		cols, rows, st, err := collect(t, hunting.NewGraph(hunting.Options{BaseURL: srv.URL + "/", Credential: cred, HTTPClient: srv.Client(), Clock: clk}), req)
		if err != nil || st.Attempts != 1 || len(rows) != 1 || len(cols) != 2 || cols[1] != (hunting.Column{Name: "RemoteIP", Type: "String"}) || rows[0]["RemoteIP"] != "::ffff:203.0.113.7" {
			t.Fatalf("%v %v %v %+v", err, cols, rows, st)
		}
		r := (*got)[0]
		if r.method != "POST" || r.path != "/v1.0/security/runHuntingQuery" || r.ctype != "application/json; charset=utf-8" || r.auth != "Bearer tok-123" {
			t.Errorf("request %+v", r)
		}
		if len(r.body) != 2 || r.body["Query"] != req.Query || r.body["Timespan"] != "2026-10-28T07:00:00.0000000Z/2026-11-27T06:00:00.1234567Z" {
			t.Errorf("body %v", r.body)
		}
		if len(cred.scopes) != 1 || cred.scopes[0] != "https://graph.microsoft.com/.default" {
			t.Errorf("scopes %v", cred.scopes)
		}
	})
	t.Run("mde", func(t *testing.T) {
		srv, got := wireServer(t, answer(200, mdeOK))
		cred := &staticCredential{}
		cols, rows, _, err := collect(t, hunting.NewMDE(hunting.Options{BaseURL: srv.URL, Credential: cred, HTTPClient: srv.Client(), Clock: clk}), req)
		if err != nil || len(rows) != 1 || len(cols) != 1 || cols[0].Name != "Timestamp" {
			t.Fatalf("%v %v %v", err, cols, rows)
		}
		r := (*got)[0]
		if r.path != "/api/advancedqueries/run" || len(r.body) != 1 || r.body["Query"] != req.Query {
			t.Errorf("request %+v", r)
		}
		if cred.scopes[0] != "https://api.securitycenter.microsoft.com/.default" {
			t.Errorf("scopes %v", cred.scopes)
		}
	})
	t.Run("m365 defender", func(t *testing.T) {
		srv, got := wireServer(t, answer(200, mdeOK))
		hc := srv.Client()
		hc.Transport = redirectTo{srv.URL, hc.Transport}
		cred := &staticCredential{}
		if _, _, _, err := collect(t, hunting.NewMDE(hunting.Options{BaseURL: "https://eu.api.security.microsoft.com", Credential: cred, HTTPClient: hc, Clock: clk}), req); err != nil {
			t.Fatal(err)
		}
		if r := (*got)[0]; r.path != "/api/advancedhunting/run" || cred.scopes[0] != "https://api.security.microsoft.com/.default" {
			t.Errorf("path %s, scopes %v", r.path, cred.scopes)
		}
	})
}

// redirectTo sends every request to base instead, keeping the path.
type redirectTo struct {
	base string
	next http.RoundTripper
}

func (r redirectTo) RoundTrip(req *http.Request) (*http.Response, error) {
	u, _ := url.Parse(r.base)
	c := req.Clone(req.Context())
	c.URL.Scheme, c.URL.Host, c.Host = u.Scheme, u.Host, ""
	return r.next.RoundTrip(c)
}

// TestErrorAnswers: Retry-After is honoured to the second; 413 and 400
// "exceeded the allowed limits" ask for a split; 403 names the permission
// to grant.
func TestErrorAnswers(t *testing.T) {
	req := hunting.Request{Query: "DeviceNetworkEvents | take 1"}
	graphErr := func(code, msg string) string {
		return `{"error":{"code":"` + code + `","message":"` + msg + `","innerError":{"request-id":"rid-1","date":"2026-11-27T07:00:00"}}}`
	}
	newGraph := func(srv *httptest.Server, clk *clock.Fake) hunting.Hunter {
		return hunting.NewGraph(hunting.Options{BaseURL: srv.URL, Credential: &staticCredential{}, HTTPClient: srv.Client(), Clock: clk})
	}

	t.Run("retry-after", func(t *testing.T) {
		clk := clock.NewFake(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
		srv, got := wireServer(t,
			answer(429, graphErr("TooManyRequests", "Rate limit is exceeded. Try again in 7 seconds."), "Retry-After", "7"),
			answer(200, graphOK))
		_, rows, st, err := collect(t, newGraph(srv, clk), req)
		if err != nil || len(rows) != 1 || st.Throttled != 1 || st.Attempts != 2 || len(*got) != 2 {
			t.Fatalf("%v, %d rows, %+v", err, len(rows), st)
		}
		if len(clk.Slept()) != 1 || clk.Slept()[0] != 7*time.Second {
			t.Errorf("slept %v, want [7s]", clk.Slept())
		}
	})
	for name, a := range map[string]func(http.ResponseWriter){
		"413":        answer(413, `<html><body>413 Request Entity Too Large</body></html>`),
		"400 limits": answer(400, graphErr("BadRequest", "Query execution has exceeded the allowed limits. The query execution was prematurely canceled.")),
	} {
		t.Run(name, func(t *testing.T) {
			srv, got := wireServer(t, a)
			_, _, _, err := collect(t, newGraph(srv, clock.NewFake(time.Time{})), req)
			if !errors.Is(err, hunting.ErrTooLarge) || len(*got) != 1 {
				t.Errorf("%v after %d calls", err, len(*got))
			}
		})
	}
	t.Run("403", func(t *testing.T) {
		for name, mk := range map[string]func(hunting.Options) hunting.Hunter{"graph": hunting.NewGraph, "mde": hunting.NewMDE} {
			srv, got := wireServer(t, answer(403, graphErr("Forbidden", "Missing role permissions on the request.")))
			_, _, _, err := collect(t, mk(hunting.Options{BaseURL: srv.URL, Credential: &staticCredential{}, HTTPClient: srv.Client(), Clock: clock.NewFake(time.Time{})}), req)
			var apiErr *hunting.APIError
			var access *hunting.AccessError
			perm := map[string]string{"graph": "ThreatHunting.Read.All", "mde": "AdvancedQuery.Read.All"}[name]
			if !errors.Is(err, hunting.ErrAuth) || !errors.As(err, &apiErr) || apiErr.RequestID != "rid-1" || len(*got) != 1 ||
				!strings.Contains(err.Error(), "Missing role permissions") || !errors.As(err, &access) || !strings.HasPrefix(access.Permission, perm) || access.Status != 403 {
				t.Errorf("%s: %v after %d calls", name, err, len(*got))
			}
		}
	})
}
