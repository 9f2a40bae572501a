package huntinglab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/schema"
)

var labNow = time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)

func TestParseQuery(t *testing.T) {
	now := labNow
	start, end := now.Add(-retention), now
	q := `DeviceNetworkEvents
| where Timestamp between (datetime(2026-11-20T00:00:00.0000000Z) .. datetime(2026-11-25T00:00:00.0000000Z))
| where RemoteIP in ("203.0.113.7", "::ffff:203.0.113.7", "2001:db8::1", "2001:DB8::2", 'not an ip', @"198.51.100.1")
| project Timestamp, DeviceId, RemoteIP, ReportId`
	m, err := parseQuery(q, now, start, end)
	if err != nil {
		t.Fatal(err)
	}
	wantIPs := []string{"198.51.100.1", "2001:db8::1", "203.0.113.7", "::ffff:203.0.113.7"}
	var got []string
	for a := range m.ips {
		got = append(got, a.String())
	}
	slices.Sort(got)
	if !slices.Equal(got, wantIPs) {
		t.Errorf("ips %v, want %v (a non-canonical spelling matches nothing)", got, wantIPs)
	}
	if m.table.Name != "DeviceNetworkEvents" || !slices.Equal(m.columns, []string{"RemoteIP"}) ||
		!slices.Equal(m.project, []string{"Timestamp", "DeviceId", "RemoteIP", "ReportId"}) {
		t.Errorf("parsed %+v", m)
	}
	if !m.start.Equal(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)) || !m.end.Equal(time.Date(2026, 11, 25, 0, 0, 0, 1, time.UTC)) {
		t.Errorf("window %v .. %v", m.start, m.end)
	}

	m, err = parseQuery("let iocs = datatable(ip:string)[\"192.0.2.1\"];\nIdentityLogonEvents | where Timestamp > ago(2d) | where IPAddress in (iocs) | take 5", now, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if !m.ips[netip.MustParseAddr("192.0.2.1")] || m.columns[0] != "IPAddress" || m.take != 5 || !m.start.Equal(now.Add(-48*time.Hour+time.Nanosecond)) {
		t.Errorf("let query: %+v", m)
	}
	m, err = parseQuery(`CloudAppEvents | where Timestamp >= datetime(2026-11-01) | where IPAddress has_any ("192.0.2.1")`, now, now.Add(-time.Hour), now)
	if err != nil || !m.start.Equal(now.Add(-time.Hour)) {
		t.Errorf("the API window should win when narrower: %v %+v", err, m)
	}

	for _, bad := range []string{
		``,
		`NoSuchTable | take 1`,
		`DeviceNetworkEvents | where RemoteIP in ("1.2.3.4)`,
		"DeviceNetworkEvents | where RemoteIP in (\"1.2.3.4\n\")",
		`DeviceNetworkEvents | where RemoteIP in ("1.2.3.4"`,
		`DeviceNetworkEvents | where NoColumn in ("1.2.3.4")`,
		`DeviceNetworkEvents | project Timestamp, NoColumn`,
		`DeviceNetworkEvents | summarize count() by RemoteIP`,
		`DeviceNetworkEvents | where Timestamp > datetime(yesterday)`,
		`DeviceNetworkEvents | where Timestamp > ago(3 days)`,
		`DeviceNetworkEvents; DeviceLogonEvents`,
	} {
		if _, err := parseQuery(bad, now, start, end); err == nil {
			t.Errorf("%q: parsed, want an error", bad)
		} else if _, ok := err.(*queryError); !ok {
			t.Errorf("%q: %T, want *queryError", bad, err)
		}
	}
}

func TestParseTimespan(t *testing.T) {
	now := labNow
	for _, tc := range []struct {
		in         string
		start, end time.Time
	}{
		{"P30D", now.Add(-30 * 24 * time.Hour), now},
		{"PT12H", now.Add(-12 * time.Hour), now},
		{"P1DT2H30M", now.Add(-26*time.Hour - 30*time.Minute), now},
		{"2026-11-01T00:00:00Z/2026-11-02T00:00:00.0000000Z", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)},
		{"2026-11-01T00:00:00Z/P2D", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)},
		{"P1D/2026-11-02T00:00:00Z", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)},
	} {
		s, e, err := parseTimespan(tc.in, now)
		if err != nil || !s.Equal(tc.start) || !e.Equal(tc.end) {
			t.Errorf("%s: %v %v %v", tc.in, s, e, err)
		}
	}
	for _, bad := range []string{"30D", "P", "PT", "P1H", "P1D/P2D", "yesterday/today", "P1X"} {
		if _, _, err := parseTimespan(bad, now); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// huntLab starts a lab with a fixed clock and returns it with a Graph and
// an MDE token.
func huntLab(t *testing.T, o lab.Options) (*lab.Lab, string, string) {
	t.Helper()
	if o.Now == nil {
		clk := &testClock{t: labNow}
		o.Now = clk.Now
	}
	l := startLab(t, o)
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
	resp, err := client(l).Do(req)
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
		table, DefenderTime(start), DefenderTime(end), column, strings.Join(lits, ", "))
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
	if g.status != 200 || g.body["@odata.context"] != graphContext {
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
		if r["Timestamp"] != DefenderTime(want[i].Time) {
			t.Errorf("row %d time %v, want %s", i, r["Timestamp"], DefenderTime(want[i].Time))
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
		"Timespan": DefenderTime(now.Add(-time.Hour)) + "/" + DefenderTime(now)})
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

func TestRowCap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large world")
	}
	l := startLab(t, lab.Options{World: lab.WorldConfig{Seed: 3, Now: labNow, Devices: 10, Events: 200000, Contacts: 1, Servers: 5, Banners: 1}})
	w := l.World
	// Find the most popular destination and ask for more than the cap by
	// listing every address of the pool.
	seen := map[netip.Addr]bool{}
	for i := range w.Events {
		seen[w.Events[i].IP] = true
	}
	m := &matchQuery{ips: seen, start: labNow.Add(-retention), end: labNow.Add(time.Second)}
	m.table, _ = schema.Lookup("DeviceNetworkEvents")
	m.columns = []string{"RemoteIP"}
	h := huntingOf(l)
	idx := h.matches(m)
	if len(idx) != maxRows {
		t.Errorf("%d rows, want the cap %d", len(idx), maxRows)
	}
	if !slices.IsSorted(idx) {
		t.Error("rows are not oldest first")
	}
}

func TestTelemetry(t *testing.T) {
	cfg := lab.WorldConfig{Seed: 9, Now: labNow, Events: 20000, Contacts: 12}
	a, b := lab.NewWorld(cfg), lab.NewWorld(cfg)
	if len(a.Events) != len(b.Events) || len(a.Contacts) != len(b.Contacts) {
		t.Fatal("the world is not deterministic")
	}
	for i := range a.Events {
		if a.Events[i] != b.Events[i] {
			t.Fatalf("event %d differs", i)
		}
	}
	servers := map[netip.Addr]bool{}
	for _, s := range a.Servers {
		servers[s.IP.Unmap()] = true
	}
	contacts := map[int64]bool{}
	kinds := map[string]int{}
	for _, c := range a.Contacts {
		contacts[c.ReportID] = true
		kinds[c.Table]++
		if c.Stale {
			kinds["stale"]++
		}
		if c.Old {
			kinds["old"]++
		}
		if c.Logged != c.ServerIP.String() {
			kinds["mapped"]++
		}
		if !servers[c.ServerIP] {
			t.Errorf("contact with a non-server %v", c.ServerIP)
		}
	}
	if len(a.Servers) > 0 && (len(a.Contacts) != 12 || kinds["DeviceLogonEvents"] == 0 || kinds["IdentityLogonEvents"] == 0 ||
		kinds["CloudAppEvents"] == 0 || kinds["old"] == 0 || kinds["mapped"] == 0) {
		t.Errorf("contact kinds %v", kinds)
	}
	if len(a.Events) != cfg.Events+len(a.Contacts) {
		t.Errorf("%d events, want %d", len(a.Events), cfg.Events+len(a.Contacts))
	}
	for i := range a.Events {
		e := &a.Events[i]
		if !contacts[e.ReportID] && servers[e.IP.Unmap()] {
			t.Fatalf("ordinary event %d talks to a C2 server", i)
		}
		if e.Time.After(labNow) || e.Time.Before(labNow.Add(-35*24*time.Hour)) || e.Time.Nanosecond()%100 != 0 {
			t.Fatalf("event %d time %v", i, e.Time)
		}
		if i > 0 && e.Time.Before(a.Events[i-1].Time) {
			t.Fatal("events are not oldest first")
		}
	}
}
