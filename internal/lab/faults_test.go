package lab_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/emulator"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/lab/labtest"
)

// Faults covered elsewhere: expire (TestTokenEarlyExpiry), error200
// (TestShodanError200Fault), toolarge (TestHuntingErrors). This file covers
// the SPEC and the transport faults: 5xx, drop, latency, only.

func TestParseFaults(t *testing.T) {
	f, err := lab.ParseFaults(" 5xx=0.1, latency=200ms,drop=0.05,expire=30s,error200=0.25,toolarge=5000,only=graph ")
	want := lab.Faults{Rate5xx: 0.1, Latency: 200 * time.Millisecond, DropRate: 0.05, TokenExpiry: 30 * time.Second,
		Error200Rate: 0.25, TooLarge: 5000, Only: "graph"}
	if err != nil || f != want {
		t.Errorf("ParseFaults: %+v, %v; want %+v", f, err, want)
	}
	if f, err := lab.ParseFaults(""); err != nil || f != (lab.Faults{}) {
		t.Errorf("empty SPEC: %+v, %v", f, err)
	}
	for spec, msg := range map[string]string{
		"5xx":             "want key=value",
		"5xx=2":           "fraction between 0 and 1",
		"drop=-0.1":       "fraction between 0 and 1",
		"error200=often":  "fraction between 0 and 1",
		"latency=fast":    "not a duration",
		"latency=-1s":     "not a duration",
		"expire=-30s":     "not a duration",
		"toolarge=0":      "query length",
		"toolarge=big":    "fault toolarge",
		"only=shodan.io":  "unknown service",
		"jitter=1s":       "unknown fault \"jitter\" (5xx, latency",
		"5xx=0.1,drop=2x": "fault drop",
	} {
		if _, err := lab.ParseFaults(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error with %q", spec, err, msg)
		}
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestFault5xxOnlyOneService(t *testing.T) {
	l := labtest.Start(t, lab.Options{Faults: lab.Faults{Rate5xx: 1, Only: "graph"}, ShodanRate: time.Nanosecond})
	seen := map[int]bool{}
	for range 12 {
		resp, err := labtest.Client(l).Post(l.URL+"/v1.0/security/runHuntingQuery", "application/json", strings.NewReader(`{"Query":"DeviceNetworkEvents"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[resp.StatusCode] = true
		if resp.StatusCode != 502 && resp.StatusCode != 503 {
			t.Fatalf("graph with 5xx=1: %d %s", resp.StatusCode, body)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<center>nginx</center>") ||
			!strings.Contains(string(body), http.StatusText(resp.StatusCode)) {
			t.Fatalf("5xx body should be the gateway's HTML page: %q", body)
		}
	}
	if !seen[502] || !seen[503] {
		t.Errorf("5xx should answer both 502 and 503, saw %v", seen)
	}
	// only=graph: the other services answer normally.
	if a := shodanGet(t, l, "/api-info"); a.status != 200 {
		t.Errorf("shodan under only=graph: %d %s", a.status, a.body)
	}
	resp, err := labtest.Client(l).Get(l.URL + "/" + l.Creds.TenantID + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("entra under only=graph: %d", resp.StatusCode)
	}
	if c := l.Calls(); c["graph"] != 12 || c["shodan"] != 1 || c["entra"] != 1 {
		t.Errorf("calls %v", c)
	}
}

func TestFaultDropClosesWithoutAnswer(t *testing.T) {
	var logs syncBuffer
	l := labtest.Start(t, lab.Options{Faults: lab.Faults{DropRate: 1, Only: "shodan"}, ShodanRate: time.Nanosecond,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	// HTTP/2 (Go's clients) and HTTP/1.1 (Python requests, curl --http1.1).
	h1 := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: l.CAPool},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	t.Cleanup(h1.CloseIdleConnections)
	for name, c := range map[string]*http.Client{"h2": labtest.Client(l), "h1": h1} {
		resp, err := c.Get(l.URL + "/api-info?key=" + url.QueryEscape(l.Creds.ShodanKey))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: drop=1 answered %s, want no answer", name, resp.Status)
		}
		// The other services are untouched.
		resp, err = c.Get(l.URL + "/" + l.Creds.TenantID + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatalf("%s: entra under only=shodan: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: entra under only=shodan: %d", name, resp.StatusCode)
		}
	}
	// A dropped request is still logged, in one line, with the key redacted.
	out := logs.String()
	if n := strings.Count(out, "status=dropped"); n < 2 || !strings.Contains(out, "key=REDACTED") || strings.Contains(out, l.Creds.ShodanKey) {
		t.Errorf("want 2 dropped requests logged with the key redacted, got:\n%s", out)
	}
	if strings.Count(out, "\n") != strings.Count(out, "msg=request") {
		t.Errorf("one line a request:\n%s", out)
	}
}

func TestFaultLatency(t *testing.T) {
	const d = 150 * time.Millisecond
	l := labtest.Start(t, lab.Options{Faults: lab.Faults{Latency: d, Only: "entra"}})
	start := time.Now()
	resp, err := labtest.Client(l).Get(l.URL + "/" + l.Creds.TenantID + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 200 || took < d {
		t.Errorf("latency=%s: %d after %s", d, resp.StatusCode, took)
	}
}

// A taken port is a typed error (the command line gives its hint).
func TestStartFailsTypedWhenThePortIsTaken(t *testing.T) {
	a := labtest.Start(t, lab.Options{})
	_, err := emulator.Start(t.Context(), lab.Options{Listen: strings.TrimPrefix(a.URL, "https://")})
	if !errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "hint:") {
		t.Errorf("second lab on the same port: %v", err)
	}
}

// jsonKeys lists the keys of a JSON object in the order they appear.
func jsonKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestWireFieldOrder checks that bodies carry their fields in the
// services' order (api-contracts.md), not Go's alphabetical map order.
func TestWireFieldOrder(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	post := func(path string, form url.Values) []byte {
		t.Helper()
		resp, err := labtest.Client(l).PostForm(l.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	tenant := "/" + l.Creds.TenantID
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {l.Creds.ClientID}, "client_secret": {l.Creds.ClientSecret},
		"scope": {entralab.ResourceGraph + "/.default"}}
	v2 := post(tenant+"/oauth2/v2.0/token", form)
	if k := jsonKeys(t, v2); !slices.Equal(k, []string{"token_type", "expires_in", "ext_expires_in", "access_token"}) {
		t.Errorf("v2 token keys %v", k)
	}
	if !bytes.HasPrefix(v2, []byte(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"ey`)) {
		t.Errorf("v2 token body %.120s", v2)
	}
	form.Del("scope")
	form.Set("resource", entralab.ResourceSecurityCtr)
	v1 := post(tenant+"/oauth2/token", form)
	if k := jsonKeys(t, v1); !slices.Equal(k, []string{"token_type", "expires_in", "ext_expires_in", "expires_on", "not_before", "resource", "access_token"}) {
		t.Errorf("v1 token keys %v", k)
	}
	if !bytes.HasPrefix(v1, []byte(`{"token_type":"Bearer","expires_in":"3599","ext_expires_in":"3599","expires_on":"`)) {
		t.Errorf("v1 token body %.120s", v1)
	}
	form.Set("client_secret", "wrong")
	bad := post(tenant+"/oauth2/token", form)
	if k := jsonKeys(t, bad); !slices.Equal(k, []string{"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}) {
		t.Errorf("entra error keys %v: %s", k, bad)
	}

	for _, tc := range []struct {
		path  string
		keys  []string
		inner []string
	}{
		{"/v1.0/security/runHuntingQuery", []string{"code", "message", "innerError"}, []string{"date", "request-id", "client-request-id"}},
		{"/api/advancedqueries/run", []string{"code", "message", "target"}, nil},
	} {
		a := hunt(t, l, tc.path, `{"Query":"DeviceNetworkEvents"}`)
		var env struct {
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(a.raw, &env); err != nil || a.status != 401 {
			t.Fatalf("%s: %d %s", tc.path, a.status, a.raw)
		}
		if k := jsonKeys(t, a.raw); !slices.Equal(k, []string{"error"}) {
			t.Errorf("%s: envelope keys %v", tc.path, k)
		}
		if k := jsonKeys(t, env.Error); !slices.Equal(k, tc.keys) {
			t.Errorf("%s: error keys %v, want %v", tc.path, k, tc.keys)
		}
		if tc.inner != nil {
			var e struct {
				Inner json.RawMessage `json:"innerError"`
			}
			json.Unmarshal(env.Error, &e)
			if k := jsonKeys(t, e.Inner); !slices.Equal(k, tc.inner) {
				t.Errorf("%s: innerError keys %v, want %v", tc.path, k, tc.inner)
			}
		}
	}
}

// TestFaultDraws: faults follow the world's seed (runs repeat, seeds
// differ) and show up from the first requests, so `c2sweep demo --faults
// 5xx=0.2` (about ten requests) sees some.
func TestFaultDraws(t *testing.T) {
	draws := func(seed int64, n int) string {
		l, err := lab.Start(t.Context(), lab.Options{World: lab.WorldConfig{Seed: seed}, Faults: lab.Faults{Rate5xx: 0.2}}, func(*lab.Lab) ([]lab.Service, error) { return nil, nil })
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var b strings.Builder
		for range n {
			if l.FaultChance(0.2) {
				b.WriteByte('X')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	if a, b := draws(1, 50), draws(1, 50); a != b {
		t.Error("the same seed should draw the same faults")
	}
	if draws(1, 50) == draws(2, 50) {
		t.Error("the seed should change the draws")
	}
	for seed := range int64(5) {
		if d := draws(seed, 10); !strings.Contains(d, "X") {
			t.Errorf("seed %d: no fault in the first 10 requests at 0.2: %s", seed, d)
		}
	}
}

type answer struct {
	status int
	body   []byte
	raw    []byte // the same as body
}

// shodanGet GETs a Shodan path with the lab's key.
func shodanGet(t *testing.T, l *lab.Lab, path string) answer {
	t.Helper()
	resp, err := labtest.Client(l).Get(l.URL + path + "?key=" + url.QueryEscape(l.Creds.ShodanKey))
	return read(t, resp, err)
}

// hunt POSTs a JSON body to a hunting API without a token.
func hunt(t *testing.T, l *lab.Lab, path, body string) answer {
	t.Helper()
	resp, err := labtest.Client(l).Post(l.URL+path, "application/json; charset=utf-8", strings.NewReader(body))
	return read(t, resp, err)
}

func read(t *testing.T, resp *http.Response, err error) answer {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, b, b}
}

func TestParseBoundFaults(t *testing.T) {
	f, err := lab.ParseFaults("hang=0.5,trickle=10ms,huge=1g,cpuquota=1,echo=0.2,total=-1,loop=true,only=graph")
	if err != nil || f.HangRate != 0.5 || f.Trickle != 10*time.Millisecond || f.Huge != 1<<30 || f.CPUQuotaRate != 1 ||
		f.EchoRate != 0.2 || f.ShodanTotal == nil || *f.ShodanTotal != -1 || !f.ShodanLoop || f.Only != "graph" {
		t.Errorf("ParseFaults: %+v, %v", f, err)
	}
	for spec, want := range map[string]int64{"huge=512k": 512 << 10, "huge=64M": 64 << 20, "huge=1000": 1000} {
		if f, err := lab.ParseFaults(spec); err != nil || f.Huge != want {
			t.Errorf("%s: %d, %v", spec, f.Huge, err)
		}
	}
	for spec, msg := range map[string]string{
		"hang=2":      "fraction between 0 and 1",
		"trickle=x":   "not a duration",
		"huge=0":      "not a size",
		"huge=lots":   "not a size",
		"huge=2000g":  "not a size",
		"total=many":  "not a whole number",
		"loop=maybe":  "not true or false",
		"cpuquota=-1": "fraction between 0 and 1",
	} {
		if _, err := lab.ParseFaults(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error with %q", spec, err, msg)
		}
	}
}
