package report

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/store"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

func hit(id int64, dev, devID, ip string, at time.Duration, acct, proc, cmd string, port int, hunts ...string) store.StoredHit {
	return store.StoredHit{ID: id, Hit: indicator.Hit{Table: "DeviceNetworkEvents", Column: "RemoteIP", IP: netip.MustParseAddr(ip),
		Timestamp: t0.Add(at), DeviceID: devID, Device: dev, Account: acct, Port: port, Process: proc, Command: cmd, Hunts: hunts}}
}

// A beacon (many events of one device and C2 across days), one device
// talking to two C2s, a device renamed, a suppressed pair and a pair with
// one suppressed event: exact rows.
func TestRollupRows(t *testing.T) {
	const ws1, ws2 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	ps := "powershell.exe -nop -w hidden -encodedcommand SQBFAFgA"
	hits := []store.StoredHit{
		hit(1, "ws01", ws1, "203.0.113.7", 0, "alice", "powershell.exe", ps, 443, "CobaltStrikeJARM"),
		hit(2, "ws01", ws1, "203.0.113.7", 24*time.Hour, "alice", "powershell.exe", ps, 443, "CobaltStrikeJARM"),
		hit(3, "WS01.contoso.local", ws1, "203.0.113.7", 72*time.Hour, "bob", "rundll32.exe", "rundll32.exe x.dll,Start", 8443, "CobaltStrikeJARM", "CobaltStrikeCert"),
		hit(4, "ws01", ws1, "198.51.100.9", time.Hour, "alice", "svchost.exe", "", 80, "DeimosC2"),
		hit(5, "ws02", ws2, "203.0.113.7", 2*time.Hour, "carol", "powershell.exe", ps, 443, "CobaltStrikeJARM"),
		hit(6, "ws02", ws2, "198.51.100.9", 3*time.Hour, "carol", "svchost.exe", "", 80, "DeimosC2"),
		hit(7, "ws02", ws2, "198.51.100.9", 5*time.Hour, "carol", "svchost.exe", "", 80, "DeimosC2"),
		hit(8, "", "", "192.0.2.1", 4*time.Hour, "dave@contoso.com", "", "", 0, "DeimosC2"),
	}
	hits[5].Suppressed = "ip 198.51.100.9: lab scanner" // one of two: the pair stays live
	hits[7].Suppressed = "hunt DeimosC2: noisy"
	// The newest triaged hit of a pair gives its status, whatever the order.
	hits[0].Triage, hits[2].Triage = "investigating", "malicious"
	hits[5].Triage = "benign"
	got := Rollup(hits)
	want := []Rolled{
		{Device: "WS01.contoso.local", DeviceID: ws1, IP: netip.MustParseAddr("203.0.113.7"), Ports: []int{443, 8443},
			Users: []string{"alice", "bob"}, Processes: []string{"powershell.exe", "rundll32.exe"},
			Commands: []string{ps, "rundll32.exe x.dll,Start"}, Hunts: []string{"CobaltStrikeCert", "CobaltStrikeJARM"},
			Tables: []string{"DeviceNetworkEvents"}, First: t0, Last: t0.Add(72 * time.Hour), Events: 3, Status: "malicious", HitIDs: []int64{1, 2, 3}},
		{Device: "ws02", DeviceID: ws2, IP: netip.MustParseAddr("198.51.100.9"), Ports: []int{80}, Users: []string{"carol"},
			Processes: []string{"svchost.exe"}, Commands: []string{}, Hunts: []string{"DeimosC2"}, Tables: []string{"DeviceNetworkEvents"},
			First: t0.Add(3 * time.Hour), Last: t0.Add(5 * time.Hour), Events: 2, Status: "benign", HitIDs: []int64{6, 7}},
		{IP: netip.MustParseAddr("192.0.2.1"), Ports: []int{}, Users: []string{"dave@contoso.com"}, Processes: []string{}, Commands: []string{},
			Hunts: []string{"DeimosC2"}, Tables: []string{"DeviceNetworkEvents"}, First: t0.Add(4 * time.Hour), Last: t0.Add(4 * time.Hour),
			Events: 1, Suppressed: "hunt DeimosC2: noisy", Status: "suppressed", HitIDs: []int64{8}},
		{Device: "ws02", DeviceID: ws2, IP: netip.MustParseAddr("203.0.113.7"), Ports: []int{443}, Users: []string{"carol"},
			Processes: []string{"powershell.exe"}, Commands: []string{ps}, Hunts: []string{"CobaltStrikeJARM"}, Tables: []string{"DeviceNetworkEvents"},
			First: t0.Add(2 * time.Hour), Last: t0.Add(2 * time.Hour), Events: 1, Status: "new", HitIDs: []int64{5}},
		{Device: "ws01", DeviceID: ws1, IP: netip.MustParseAddr("198.51.100.9"), Ports: []int{80}, Users: []string{"alice"},
			Processes: []string{"svchost.exe"}, Commands: []string{}, Hunts: []string{"DeimosC2"}, Tables: []string{"DeviceNetworkEvents"},
			First: t0.Add(time.Hour), Last: t0.Add(time.Hour), Events: 1, Status: "new", HitIDs: []int64{4}},
	}
	for i := range want {
		want[i].Target = indicator.DefaultTarget // hits without a target are the default target's
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// Input order does not matter.
	rev := make([]store.StoredHit, len(hits))
	for i := range hits {
		rev[len(hits)-1-i] = hits[i]
	}
	if got := Rollup(rev); !reflect.DeepEqual(got, want) {
		t.Errorf("reversed input gives other rows:\n%+v", got)
	}
	if got := Rollup(nil); len(got) != 0 {
		t.Errorf("no hits: %+v", got)
	}
}

// Without a device id, events group by name, case-insensitively.
func TestRollupByNameWithoutID(t *testing.T) {
	got := Rollup([]store.StoredHit{
		hit(1, "WS09", "", "203.0.113.7", 0, "", "", "", 443),
		hit(2, "ws09", "", "203.0.113.7", time.Hour, "", "", "", 443),
		hit(3, "ws10", "", "203.0.113.7", time.Hour, "", "", "", 443),
	})
	if len(got) != 2 || got[0].Device != "ws09" || got[0].Events != 2 || got[1].Device != "ws10" {
		t.Errorf("rows: %+v", got)
	}
}

// The same device and C2 server in two sweep targets are two rows; target
// names compare ignoring case, and a hit without one is the default's.
func TestRollupByTarget(t *testing.T) {
	in := []store.StoredHit{
		hit(1, "ws01", "", "203.0.113.7", 0, "", "", "", 443),
		hit(2, "ws01", "", "203.0.113.7", time.Hour, "", "", "", 443),
		hit(3, "ws01", "", "203.0.113.7", 2*time.Hour, "", "", "", 443),
		hit(4, "ws01", "", "203.0.113.7", 3*time.Hour, "", "", "", 443),
	}
	in[1].Target, in[2].Target, in[3].Target = "contoso", "Contoso", "default"
	got := Rollup(in)
	if len(got) != 2 {
		t.Fatalf("rows: %+v", got)
	}
	if got[0].Target != "default" || !reflect.DeepEqual(got[0].HitIDs, []int64{1, 4}) ||
		got[1].Target != "contoso" || !reflect.DeepEqual(got[1].HitIDs, []int64{2, 3}) {
		t.Errorf("rows by target: %+v", got)
	}
	if h := Hits(Model{Rows: []Row{{Rolled: got[1]}}}); h[0].Target != "contoso" {
		t.Errorf("hits.json row has target %q", h[0].Target)
	}
}
