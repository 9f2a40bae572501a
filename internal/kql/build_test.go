package kql

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/schema"
)

var (
	t0 = time.Date(2026, 10, 28, 7, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// randomIPs returns n distinct addresses, about a third of them IPv6,
// deterministically for a seed.
func randomIPs(seed uint64, n int) []netip.Addr {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	seen := make(map[netip.Addr]bool, n)
	out := make([]netip.Addr, 0, n)
	for len(out) < n {
		var ip netip.Addr
		if r.IntN(3) == 0 {
			var b [16]byte
			b[0], b[1] = 0x20, 0x01
			for i := 2; i < 16; i++ {
				if r.IntN(3) > 0 { // runs of zeros exercise :: compression
					b[i] = byte(r.UintN(256))
				}
			}
			ip = netip.AddrFrom16(b)
		} else {
			ip = netip.AddrFrom4([4]byte{byte(1 + r.UintN(223)), byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256))})
		}
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	return out
}

// literalRE finds the string literals of the `in` list.
var literalRE = regexp.MustCompile(`"([0-9a-f.:]+)"`)

// inList reads back the literals a query matches.
func inList(t *testing.T, q Query) []string {
	t.Helper()
	i := strings.Index(q.Text, " in (")
	j := strings.Index(q.Text, ")\n| project ")
	if i < 0 || j < i {
		t.Fatalf("query has no in list:\n%s", q.Text)
	}
	var out []string
	for _, m := range literalRE.FindAllStringSubmatch(q.Text[i:j], -1) {
		out = append(out, m[1])
	}
	return out
}

func TestBuildChunkingBounds(t *testing.T) {
	ips := randomIPs(1, 3000)
	// Feed them twice, unsorted, in several groups of the same window, plus
	// mapped forms of some IPv4: all must collapse to one set.
	var groups []Group
	for i := 0; i < len(ips); i += 700 {
		end := min(i+700, len(ips))
		groups = append(groups, Group{IPs: ips[i:end], Start: t0, End: t1})
	}
	var mapped []netip.Addr
	for _, ip := range ips[:200] {
		if ip.Is4() {
			mapped = append(mapped, netip.AddrFrom16(ip.As16()))
		}
	}
	rev := slices.Clone(ips)
	slices.Reverse(rev)
	groups = append(groups, Group{IPs: rev, Start: t0, End: t1}, Group{IPs: mapped, Start: t0.In(time.FixedZone("x", 7200)), End: t1})

	for _, lim := range []Limits{
		{MaxIPs: 1}, {MaxIPs: 7}, {MaxIPs: 1000}, {MaxIPs: 2999}, {MaxIPs: 3000}, {},
		{MaxBytes: 1000}, {MaxBytes: 4096}, {MaxIPs: 100, MaxBytes: 3000}, {MaxIPs: 50, MaxBytes: 100_000},
	} {
		t.Run(fmt.Sprintf("ips=%d,bytes=%d", lim.MaxIPs, lim.MaxBytes), func(t *testing.T) {
			qs, err := Build(DefaultTarget, groups, lim)
			if err != nil {
				t.Fatal(err)
			}
			eff, _ := lim.resolve()
			covered := make(map[netip.Addr]int)
			var prev netip.Addr
			for qi, q := range qs {
				if len(q.IPs) == 0 || len(q.IPs) > eff.MaxIPs {
					t.Fatalf("query %d covers %d IPs, limit %d", qi, len(q.IPs), eff.MaxIPs)
				}
				if len(q.Text) > eff.MaxBytes {
					t.Fatalf("query %d is %d bytes, limit %d", qi, len(q.Text), eff.MaxBytes)
				}
				if !q.Start.Equal(t0) || !q.End.Equal(t1) || q.Start.Location() != time.UTC {
					t.Fatalf("query %d window %v .. %v", qi, q.Start, q.End)
				}
				var want []string
				for _, ip := range q.IPs {
					if ip.Is4In6() || !ip.IsValid() {
						t.Fatalf("query %d carries a mapped or invalid IP %v", qi, ip)
					}
					if prev.IsValid() && ip.Compare(prev) <= 0 {
						t.Fatalf("IPs not strictly ascending across queries: %v after %v", ip, prev)
					}
					prev = ip
					covered[ip]++
					want = append(want, ip.String())
					if ip.Is4() {
						want = append(want, "::ffff:"+ip.String())
					}
				}
				if got := inList(t, q); !slices.Equal(got, want) {
					t.Fatalf("query %d literals %v, want %v", qi, got, want)
				}
			}
			for _, ip := range ips {
				if covered[ip] != 1 {
					t.Fatalf("%v covered %d times", ip, covered[ip])
				}
			}
			if len(covered) != len(ips) {
				t.Fatalf("covered %d IPs, want %d", len(covered), len(ips))
			}
			// As few queries as the limits allow: greedy packing in order
			// cannot leave room for the next IP in any query but the last.
			for qi := 0; qi+1 < len(qs); qi++ {
				next := qs[qi+1].IPs[0]
				fits := len(qs[qi].IPs) < eff.MaxIPs && len(qs[qi].Text)+len(sep)+ipBytes(next) <= eff.MaxBytes
				if fits {
					t.Fatalf("query %d had room for %v", qi, next)
				}
			}
			again, _ := Build(DefaultTarget, groups, lim)
			if !slices.EqualFunc(qs, again, func(a, b Query) bool { return a.Text == b.Text }) {
				t.Fatal("Build is not deterministic")
			}
		})
	}
}

func TestBuildMergesWindows(t *testing.T) {
	t2 := t1.Add(24 * time.Hour)
	groups := []Group{
		{IPs: addrs("198.51.100.2"), Start: t0, End: t1},
		{IPs: addrs("2001:db8::2"), Start: t1, End: t2},
		{IPs: addrs("198.51.100.1", "198.51.100.2"), Start: t0.Add(time.Nanosecond), End: t1.Add(50 * time.Nanosecond)}, // same 100 ns tick
		{IPs: nil, Start: t0, End: t0},                                                                                  // empty: ignored, even with a bad window
		{IPs: addrs("198.51.100.1"), Start: t0, End: t2},
	}
	qs, err := Build(DefaultTarget, groups, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		ips        string
		start, end time.Time
	}
	var g []got
	for _, q := range qs {
		g = append(g, got{fmt.Sprint(q.IPs), q.Start, q.End})
	}
	want := []got{
		{"[198.51.100.1 198.51.100.2]", t0, t1},
		{"[198.51.100.1]", t0, t2},
		{"[2001:db8::2]", t1, t2},
	}
	if !slices.Equal(g, want) {
		t.Fatalf("queries %v, want %v", g, want)
	}
}

func TestBuildEmpty(t *testing.T) {
	for _, groups := range [][]Group{nil, {}, {{Start: t0, End: t1}}, {{IPs: []netip.Addr{}, Start: t0, End: t1}}} {
		qs, err := Build(DefaultTarget, groups, Limits{})
		if err != nil || len(qs) != 0 {
			t.Errorf("Build(%v) = %v, %v; want no query", groups, qs, err)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	ok := []Group{{IPs: addrs("203.0.113.7"), Start: t0, End: t1}}
	for name, tc := range map[string]struct {
		target Target
		groups []Group
		lim    Limits
	}{
		"unknown table":         {Target{"DeviceNetworkEvent", "RemoteIP"}, ok, Limits{}},
		"unknown column":        {Target{"DeviceNetworkEvents", "RemoteIp"}, ok, Limits{}},
		"column not an IP":      {Target{"DeviceNetworkEvents", "DeviceName"}, ok, Limits{}},
		"injected table":        {Target{"DeviceNetworkEvents | take 1", "RemoteIP"}, ok, Limits{}},
		"empty target":          {Target{}, ok, Limits{}},
		"invalid IP":            {DefaultTarget, []Group{{IPs: []netip.Addr{{}}, Start: t0, End: t1}}, Limits{}},
		"zoned IP":              {DefaultTarget, []Group{{IPs: []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}, Start: t0, End: t1}}, Limits{}},
		"end before start":      {DefaultTarget, []Group{{IPs: addrs("203.0.113.7"), Start: t1, End: t0}}, Limits{}},
		"empty window":          {DefaultTarget, []Group{{IPs: addrs("203.0.113.7"), Start: t0, End: t0.Add(99)}}, Limits{}},
		"zero start":            {DefaultTarget, []Group{{IPs: addrs("203.0.113.7"), End: t1}}, Limits{}},
		"beyond year 9999":      {DefaultTarget, []Group{{IPs: addrs("203.0.113.7"), Start: t0, End: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, Limits{}},
		"negative limit":        {DefaultTarget, ok, Limits{MaxIPs: -1}},
		"bytes too few for one": {DefaultTarget, ok, Limits{MaxBytes: 300}},
	} {
		if qs, err := Build(tc.target, tc.groups, tc.lim); err == nil {
			t.Errorf("%s: Build = %d queries, want an error", name, len(qs))
		}
	}
}

func TestSplit(t *testing.T) {
	ips := randomIPs(7, 9)
	qs, err := Build(DefaultTarget, []Group{{IPs: ips, Start: t0, End: t1}}, Limits{})
	if err != nil || len(qs) != 1 {
		t.Fatalf("Build = %d, %v", len(qs), err)
	}
	q := qs[0]
	var parts []Query
	queue := []Query{q}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		a, b, err := Split(cur, Limits{})
		if len(cur.IPs) == 1 {
			if !errors.Is(err, ErrSingleIP) {
				t.Fatalf("Split of one IP: %v", err)
			}
			parts = append(parts, cur)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(a.IPs)+len(b.IPs) != len(cur.IPs) || len(a.IPs) != len(cur.IPs)/2 {
			t.Fatalf("Split %d -> %d + %d", len(cur.IPs), len(a.IPs), len(b.IPs))
		}
		for _, h := range []Query{a, b} {
			if h.Target != cur.Target || !h.Start.Equal(cur.Start) || !h.End.Equal(cur.End) {
				t.Fatalf("half changed target or window: %+v", h)
			}
			// A half is exactly what Build makes for its IPs.
			re, err := Build(h.Target, []Group{{IPs: h.IPs, Start: h.Start, End: h.End}}, Limits{})
			if err != nil || len(re) != 1 || re[0].Text != h.Text {
				t.Fatalf("half differs from Build of its IPs:\n%s\n%v", h.Text, err)
			}
			if len(h.Text) >= len(cur.Text) {
				t.Fatalf("half is not shorter")
			}
		}
		queue = append(queue, a, b)
	}
	var all []netip.Addr
	for _, p := range parts {
		all = append(all, p.IPs...)
	}
	slices.SortFunc(all, netip.Addr.Compare)
	if !slices.Equal(all, q.IPs) {
		t.Fatalf("split leaves cover %v, want %v", all, q.IPs)
	}

	if _, _, err := Split(Query{Target: Target{"Nope", "RemoteIP"}, IPs: ips, Start: t0, End: t1}, Limits{}); err == nil {
		t.Error("Split with an unknown table: no error")
	}
	if _, _, err := Split(Query{Target: DefaultTarget, IPs: ips}, Limits{}); err == nil {
		t.Error("Split without a window: no error")
	}
	if _, _, err := Split(Query{Target: DefaultTarget, IPs: addrs("1.2.3.4", "::ffff:1.2.3.4"), Start: t0, End: t1}, Limits{}); !errors.Is(err, ErrSingleIP) {
		t.Errorf("Split of one IP in two forms: %v, want ErrSingleIP", err)
	}
}

func TestProjectAndFields(t *testing.T) {
	supported := []string{"DeviceNetworkEvents", "DeviceLogonEvents", "DeviceEvents", "IdentityLogonEvents",
		"CloudAppEvents", "AADSignInEventsBeta", "EntraIdSignInEvents", "UrlClickEvents", "EmailEvents"}
	for _, name := range schema.Names() {
		tb, _ := schema.Lookup(name)
		cols := Project(name)
		if len(cols) == 0 || cols[0] != tb.TimeColumn {
			t.Errorf("%s: Project = %v, want the time column first", name, cols)
		}
		for _, c := range cols {
			if !tb.Has(c) {
				t.Errorf("%s: projects unknown column %s", name, c)
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(cols)))) != len(cols) {
			t.Errorf("%s: Project repeats a column: %v", name, cols)
		}
		for _, ipc := range tb.IPColumns {
			if !slices.Contains(cols, ipc) {
				t.Errorf("%s: Project lacks IP column %s", name, ipc)
			}
			f := FieldsForTarget(Target{name, ipc})
			for role, c := range map[string]string{"time": f.Time, "device id": f.DeviceID, "device": f.Device,
				"account": f.Account, "port": f.Port, "action": f.Action, "process": f.Process, "command": f.Command, "report id": f.ReportID} {
				if c != "" && !slices.Contains(cols, c) {
					t.Errorf("%s.%s: %s column %s is not projected", name, ipc, role, c)
				}
			}
		}
	}
	for _, name := range supported {
		f := FieldsFor(name)
		if f.Time != "Timestamp" || f.ReportID != "ReportId" {
			t.Errorf("%s: %+v lacks time or report id", name, f)
		}
	}
	for tg, want := range map[Target]Fields{
		DefaultTarget: {Time: "Timestamp", DeviceID: "DeviceId", Device: "DeviceName", Account: "InitiatingProcessAccountName",
			Port: "RemotePort", Action: "ActionType", Process: "InitiatingProcessFileName", Command: "InitiatingProcessCommandLine", ReportID: "ReportId"},
		{"DeviceNetworkEvents", "LocalIP"}: {Time: "Timestamp", DeviceID: "DeviceId", Device: "DeviceName", Account: "InitiatingProcessAccountName",
			Port: "LocalPort", Action: "ActionType", Process: "InitiatingProcessFileName", Command: "InitiatingProcessCommandLine", ReportID: "ReportId"},
		{"DeviceNetworkEvents", "InitiatingProcessRemoteSessionIP"}: {Time: "Timestamp", DeviceID: "DeviceId", Device: "DeviceName", Account: "InitiatingProcessAccountName",
			Action: "ActionType", Process: "InitiatingProcessFileName", Command: "InitiatingProcessCommandLine", ReportID: "ReportId"},
		{"DeviceLogonEvents", "RemoteIP"}: {Time: "Timestamp", DeviceID: "DeviceId", Device: "DeviceName", Account: "AccountName",
			Port: "RemotePort", Action: "ActionType", Process: "InitiatingProcessFileName", Command: "InitiatingProcessCommandLine", ReportID: "ReportId"},
		{"IdentityLogonEvents", "IPAddress"}:            {Time: "Timestamp", Device: "DeviceName", Account: "AccountUpn", Port: "Port", Action: "ActionType", Process: "Application", ReportID: "ReportId"},
		{"IdentityLogonEvents", "DestinationIPAddress"}: {Time: "Timestamp", Device: "DeviceName", Account: "AccountUpn", Port: "DestinationPort", Action: "ActionType", Process: "Application", ReportID: "ReportId"},
		{"CloudAppEvents", "IPAddress"}:                 {Time: "Timestamp", Account: "AccountDisplayName", Action: "ActionType", Process: "Application", ReportID: "ReportId"},
		{"AADSignInEventsBeta", "IPAddress"}:            {Time: "Timestamp", Device: "DeviceName", Account: "AccountUpn", Process: "Application", ReportID: "ReportId"},
		{"UrlClickEvents", "IPAddress"}:                 {Time: "Timestamp", Account: "AccountUpn", Action: "ActionType", ReportID: "ReportId"},
		{"EmailEvents", "SenderIPv4"}:                   {Time: "Timestamp", Account: "RecipientEmailAddress", Action: "DeliveryAction", ReportID: "ReportId"},
	} {
		if got := FieldsForTarget(tg); got != want {
			t.Errorf("FieldsForTarget(%s) = %+v, want %+v", tg, got, want)
		}
	}
	if got := FieldsFor("EmailEvents"); got.Account != "RecipientEmailAddress" || got.Port != "" {
		t.Errorf("FieldsFor(EmailEvents) = %+v", got)
	}
	if Project("NoSuchTable") != nil || FieldsFor("NoSuchTable") != (Fields{}) || DefaultColumn("NoSuchTable") != "" {
		t.Error("unknown table: want nil Project, zero Fields, no default column")
	}
	if DefaultColumn("DeviceInfo") != "PublicIP" || DefaultColumn("DeviceNetworkEvents") != "RemoteIP" {
		t.Error("DefaultColumn picks the wrong column")
	}
}

func BenchmarkBuild100k(b *testing.B) {
	ips := randomIPs(100, 100_000)
	groups := []Group{{IPs: ips, Start: t0, End: t1}}
	b.ReportAllocs()
	var bytes int
	for b.Loop() {
		qs, err := Build(DefaultTarget, groups, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		bytes = 0
		for _, q := range qs {
			bytes += len(q.Text)
		}
	}
	b.SetBytes(int64(bytes))
}

// Sentinel's tables name their evidence columns; a table without ReportId
// is keyed by Log Analytics' _ItemId.
func TestFieldsInSentinel(t *testing.T) {
	for tg, want := range map[Target]Fields{
		{Table: "CommonSecurityLog", Column: "DestinationIP"}: {Time: "TimeGenerated", Device: "SourceHostName", Account: "SourceUserName", Port: "DestinationPort", Action: "DeviceAction", Process: "DeviceProduct", ReportID: "_ItemId"},
		{Table: "CommonSecurityLog", Column: "SourceIP"}:      {Time: "TimeGenerated", Device: "SourceHostName", Account: "SourceUserName", Port: "SourcePort", Action: "DeviceAction", Process: "DeviceProduct", ReportID: "_ItemId"},
		{Table: "SigninLogs", Column: "IPAddress"}:            {Time: "TimeGenerated", Account: "UserPrincipalName", Action: "ResultType", Process: "AppDisplayName", ReportID: "_ItemId"},
		{Table: "OfficeActivity", Column: "ClientIP"}:         {Time: "TimeGenerated", Account: "UserId", Action: "Operation", Process: "OfficeWorkload", ReportID: "_ItemId"},
		{Table: "DeviceNetworkEvents", Column: "RemoteIP"}: {Time: "TimeGenerated", DeviceID: "DeviceId", Device: "DeviceName", Account: "InitiatingProcessAccountName",
			Port: "RemotePort", Action: "ActionType", Process: "InitiatingProcessFileName", Command: "InitiatingProcessCommandLine", ReportID: "ReportId"},
	} {
		if got := FieldsIn("sentinel", tg); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tg, got, want)
		}
	}
	if got := FieldsIn("defender", Target{Table: "CommonSecurityLog", Column: "DestinationIP"}); got != (Fields{}) {
		t.Errorf("a Sentinel-only table in Defender's catalogue: %+v", got)
	}
	if p := ProjectIn("sentinel", "SigninLogs"); p[0] != "TimeGenerated" || !slices.Contains(p, "_ItemId") || !slices.Contains(p, "IPAddress") {
		t.Errorf("ProjectIn sentinel SigninLogs: %v", p)
	}
}
