package huntinglab_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/lab/huntinglab"
	"c2sweep/internal/lab/labtest"
)

// The APIs over HTTP, on a lab with every service.

var labNow = time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)

// testClock is a settable clock shared by a lab and its clients.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type tokenAnswer struct {
	status int
	body   map[string]any
}

func postForm(t *testing.T, l *lab.Lab, path string, form url.Values) tokenAnswer {
	t.Helper()
	resp, err := labtest.Client(l).PostForm(l.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: body is not JSON: %v", path, err)
	}
	return tokenAnswer{resp.StatusCode, body}
}

// huntLab starts a lab with a fixed clock and returns it with a Graph and
// an MDE token.
func huntLab(t *testing.T, o lab.Options) (*lab.Lab, string, string) {
	t.Helper()
	if o.Now == nil {
		clk := &testClock{t: labNow}
		o.Now = clk.Now
	}
	l := labtest.Start(t, o)
	tok := func(resource string) string {
		a := postForm(t, l, "/"+l.Creds.TenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {l.Creds.ClientID}, "client_secret": {l.Creds.ClientSecret}, "scope": {resource + "/.default"}})
		if a.status != 200 {
			t.Fatalf("token: %d %v", a.status, a.body)
		}
		return a.body["access_token"].(string)
	}
	return l, tok(entralab.ResourceGraph), tok(entralab.ResourceSecurityCtr)
}

type huntAnswer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func hunt(t *testing.T, l *lab.Lab, path, tok string, body any) huntAnswer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", l.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := labtest.Client(l).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := huntAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&a.body); err != nil {
		t.Fatalf("%s: %d body is not JSON: %v\n%s", path, resp.StatusCode, err, raw)
	}
	return a
}

// contactQuery is the query c2sweep writes for the DeviceNetworkEvents
// contacts' servers, IPv4 in both forms.
func contactQuery(l *lab.Lab, table, column string, start, end time.Time) (string, []netip.Addr) {
	var lits []string
	var ips []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, c := range l.World.Contacts {
		if c.Table != table || seen[c.ServerIP] {
			continue
		}
		seen[c.ServerIP] = true
		lits = append(lits, fmt.Sprintf("%q", c.ServerIP.String()))
		ips = append(ips, c.ServerIP)
		if c.ServerIP.Is4() {
			m := netip.AddrFrom16(c.ServerIP.As16())
			lits = append(lits, fmt.Sprintf("%q", m.String()))
			ips = append(ips, m)
		}
	}
	q := fmt.Sprintf("%s\n| where Timestamp between (datetime(%s) .. datetime(%s))\n| where %s in (%s)",
		table, huntinglab.DefenderTime(start), huntinglab.DefenderTime(end), column, strings.Join(lits, ", "))
	return q, ips
}

func TestHuntingAnswers(t *testing.T) {
	l, graphTok, mdeTok := huntLab(t, lab.Options{})
	if len(l.World.Contacts) == 0 {
		t.Fatal("the world has no planted contacts")
	}
	now := l.Options().Now()
	start, end := now.Add(-30*24*time.Hour), now
	q, ips := contactQuery(l, "DeviceNetworkEvents", "RemoteIP", start, end)
	want := l.World.Hits("DeviceNetworkEvents", "RemoteIP", ips, start, end.Add(time.Nanosecond))
	if len(want) == 0 {
		t.Fatal("no ground truth hits")
	}
	mapped := 0
	for _, e := range want {
		if e.IP.Is4In6() {
			mapped++
		}
	}
	if mapped == 0 {
		t.Error("the world has no ::ffff: contact")
	}
	dt := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

	g := hunt(t, l, "/v1.0/security/runHuntingQuery", graphTok, map[string]string{"Query": q, "Timespan": "P30D"})
	if g.status != 200 || g.body["@odata.context"] != huntinglab.GraphContext {
		t.Fatalf("graph: %d %s", g.status, g.raw)
	}
	sch := g.body["schema"].([]any)
	if len(sch) != 46 || sch[0].(map[string]any)["name"] != "Timestamp" || sch[0].(map[string]any)["type"] != "DateTime" {
		t.Errorf("graph schema %v", sch)
	}
	rows := g.body["results"].([]any)
	if len(rows) != len(want) {
		t.Fatalf("graph: %d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		r := r.(map[string]any)
		if r["RemoteIP"] != want[i].Logged() || r["ReportId"] != json.Number(fmt.Sprint(want[i].ReportID)) ||
			!dt.MatchString(r["Timestamp"].(string)) || len(r) != 46 {
			t.Errorf("row %d: %v, want %+v", i, r, want[i])
		}
		if r["Timestamp"] != huntinglab.DefenderTime(want[i].Time) {
			t.Errorf("row %d time %v, want %s", i, r["Timestamp"], huntinglab.DefenderTime(want[i].Time))
		}
	}
	// Every planted DeviceNetworkEvents contact in the window is found,
	// and the one older than 30 days is not.
	for _, c := range l.World.Contacts {
		if c.Table != "DeviceNetworkEvents" {
			continue
		}
		found := strings.Contains(string(g.raw), fmt.Sprintf(`"ReportId":%d`, c.ReportID))
		if found == c.Old {
			t.Errorf("contact %+v: found=%v", c, found)
		}
	}

	// MDE: PascalCase, Stats, no Timespan; a project limits the columns.
	m := hunt(t, l, "/api/advancedqueries/run", mdeTok, map[string]string{"Query": q + "\n| project Timestamp, DeviceName, RemoteIP"})
	if m.status != 200 || m.body["Stats"] == nil {
		t.Fatalf("mde: %d %s", m.status, m.raw)
	}
	msch := m.body["Schema"].([]any)
	if len(msch) != 3 || msch[2].(map[string]any)["Name"] != "RemoteIP" || msch[2].(map[string]any)["Type"] != "String" {
		t.Errorf("mde schema %v", msch)
	}
	mrows := m.body["Results"].([]any)
	if len(mrows) != len(want) || len(mrows[0].(map[string]any)) != 3 {
		t.Errorf("mde rows %v", mrows)
	}

	// The Microsoft 365 Defender path answers the same.
	if x := hunt(t, l, "/api/advancedhunting/run", mdeTok, map[string]string{"Query": q}); x.status != 200 || len(x.body["Results"].([]any)) != len(want) {
		t.Errorf("advancedhunting: %d %s", x.status, x.raw)
	}

	// Only the plain form in the list: ::ffff: rows are not returned.
	var plain []string
	for _, ip := range ips {
		if !ip.Is4In6() {
			plain = append(plain, fmt.Sprintf("%q", ip.String()))
		}
	}
	pq := "DeviceNetworkEvents | where RemoteIP in (" + strings.Join(plain, ",") + ")"
	p := hunt(t, l, "/api/advancedqueries/run", mdeTok, map[string]string{"Query": pq})
	if n := len(p.body["Results"].([]any)); n != len(want)-mapped {
		t.Errorf("plain-only query: %d rows, want %d", n, len(want)-mapped)
	}

	// The other tables' contacts.
	for _, tc := range [][2]string{{"DeviceLogonEvents", "RemoteIP"}, {"IdentityLogonEvents", "IPAddress"}, {"CloudAppEvents", "IPAddress"}} {
		q, ips := contactQuery(l, tc[0], tc[1], start, end)
		want := l.World.Hits(tc[0], tc[1], ips, start, end.Add(time.Nanosecond))
		if len(want) == 0 {
			t.Errorf("%s: no contact planted", tc[0])
			continue
		}
		a := hunt(t, l, "/v1.0/security/runHuntingQuery", graphTok, map[string]string{"Query": q})
		if a.status != 200 || len(a.body["results"].([]any)) != len(want) {
			t.Errorf("%s: %d %s", tc[0], a.status, a.raw)
		}
	}

	// A narrow Timespan wins over the text.
	a := hunt(t, l, "/v1.0/security/runHuntingQuery", graphTok, map[string]string{"Query": q,
		"Timespan": huntinglab.DefenderTime(now.Add(-time.Hour)) + "/" + huntinglab.DefenderTime(now)})
	if n := len(a.body["results"].([]any)); n != len(l.World.Hits("DeviceNetworkEvents", "RemoteIP", ips, now.Add(-time.Hour), now.Add(time.Nanosecond))) {
		t.Errorf("narrow timespan: %d rows", n)
	}
}

func TestHuntingErrors(t *testing.T) {
	l, graphTok, mdeTok := huntLab(t, lab.Options{Faults: lab.Faults{TooLarge: 200}})
	const graph, mde = "/v1.0/security/runHuntingQuery", "/api/advancedqueries/run"
	q := map[string]string{"Query": `DeviceNetworkEvents | where RemoteIP in ("192.0.2.1")`}
	for _, tc := range []struct {
		name, path, tok string
		body            any
		status          int
		code, msg       string
	}{
		{"graph no token", graph, "", q, 401, "InvalidAuthenticationToken", "empty"},
		{"graph MDE token", graph, mdeTok, q, 401, "InvalidAuthenticationToken", "Invalid audience"},
		{"mde Graph token", mde, graphTok, q, 401, "Unauthorized", "audience"},
		{"graph forged", graph, graphTok[:len(graphTok)-3] + "abc", q, 401, "InvalidAuthenticationToken", "signature"},
		{"graph bad query", graph, graphTok, map[string]string{"Query": "NoTable | take 1"}, 400, "BadRequest", "Failed to resolve table"},
		{"mde lowercase key", mde, mdeTok, map[string]string{"query": "DeviceNetworkEvents"}, 400, "BadRequest", "Query"},
		{"graph bad timespan", graph, graphTok, map[string]string{"Query": "DeviceNetworkEvents", "Timespan": "P30"}, 400, "BadRequest", "Timespan"},
		{"too large", mde, mdeTok, map[string]string{"Query": "DeviceNetworkEvents | where RemoteIP in (\"" + strings.Repeat("1", 200) + "\")"}, 400, "BadRequest", "Query execution has exceeded the allowed limits"},
	} {
		a := hunt(t, l, tc.path, tc.tok, tc.body)
		e, _ := a.body["error"].(map[string]any)
		if a.status != tc.status || e["code"] != tc.code || !strings.Contains(fmt.Sprint(e["message"]), tc.msg) {
			t.Errorf("%s: %d %s", tc.name, a.status, a.raw)
			continue
		}
		if tc.path == graph {
			inner, _ := e["innerError"].(map[string]any)
			if inner["request-id"] == nil || inner["date"] == nil {
				t.Errorf("%s: graph envelope without innerError: %s", tc.name, a.raw)
			}
		} else if e["target"] == nil {
			t.Errorf("%s: mde envelope without target: %s", tc.name, a.raw)
		}
	}
}

func TestHuntingRateLimit(t *testing.T) {
	clk := &testClock{t: labNow}
	l, graphTok, mdeTok := huntLab(t, lab.Options{Now: clk.Now, HuntingPerMinute: 3})
	q := map[string]string{"Query": "DeviceNetworkEvents | take 1"}
	for i := range 3 {
		if a := hunt(t, l, "/v1.0/security/runHuntingQuery", graphTok, q); a.status != 200 {
			t.Fatalf("call %d: %d", i, a.status)
		}
		clk.Add(10 * time.Second)
	}
	// 4th call at +30 s: the first call leaves the window at +60 s.
	a := hunt(t, l, "/api/advancedqueries/run", mdeTok, q)
	e, _ := a.body["error"].(map[string]any)
	if a.status != 429 || a.header.Get("Retry-After") != "30" || e["code"] != "TooManyRequests" || !strings.Contains(fmt.Sprint(e["message"]), "3 per 1 minute") {
		t.Fatalf("over the limit: %d %v %s", a.status, a.header, a.raw)
	}
	clk.Add(29 * time.Second)
	if a := hunt(t, l, "/v1.0/security/runHuntingQuery", graphTok, q); a.status != 429 || a.header.Get("Retry-After") != "1" {
		t.Errorf("at +59 s: %d Retry-After %s", a.status, a.header.Get("Retry-After"))
	}
	clk.Add(time.Second)
	if a := hunt(t, l, "/v1.0/security/runHuntingQuery", graphTok, q); a.status != 200 {
		t.Errorf("at +60 s: %d %s", a.status, a.raw)
	}
	// Sliding, not fixed: the second call (at +10 s) still counts.
	if a := hunt(t, l, "/v1.0/security/runHuntingQuery", graphTok, q); a.status != 429 || a.header.Get("Retry-After") != "10" {
		t.Errorf("sliding window: %d Retry-After %s", a.status, a.header.Get("Retry-After"))
	}
}

func TestHuntingExpiredToken(t *testing.T) {
	clk := &testClock{t: labNow}
	l, graphTok, mdeTok := huntLab(t, lab.Options{Now: clk.Now, TokenLifetime: 2 * time.Minute})
	clk.Add(2 * time.Minute)
	q := map[string]string{"Query": "DeviceNetworkEvents | take 1"}
	a := hunt(t, l, "/v1.0/security/runHuntingQuery", graphTok, q)
	if a.status != 401 || !strings.Contains(string(a.raw), "expired") || a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("graph expired: %d %s", a.status, a.raw)
	}
	if a := hunt(t, l, "/api/advancedqueries/run", mdeTok, q); a.status != 401 {
		t.Errorf("mde expired: %d %s", a.status, a.raw)
	}
}
