package huntinglab

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"c2sweep/internal/lab"
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

func TestRowCap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large world")
	}
	h := newService(t, lab.WorldConfig{Seed: 3, Now: labNow, Devices: 10, Events: 200000, Contacts: 1, Servers: 5, Banners: 1})
	w := h.l.World
	// Find the most popular destination and ask for more than the cap by
	// listing every address of the pool.
	seen := map[netip.Addr]bool{}
	for i := range w.Events {
		seen[w.Events[i].IP] = true
	}
	m := &matchQuery{ips: seen, start: labNow.Add(-retention), end: labNow.Add(time.Second)}
	m.table, _ = schema.Lookup("DeviceNetworkEvents")
	m.columns = []string{"RemoteIP"}
	idx := h.matches(m, 0)
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
