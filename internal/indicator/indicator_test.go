package indicator

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestParseIP(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" = rejected
	}{
		{"203.0.113.7", "203.0.113.7"},
		{" 203.0.113.7\n", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"},
		{"2001:DB8::1", "2001:db8::1"},
		{`1.2.3.4") | union (DeviceInfo`, ""},
		{"1.2.3.4', '5.6.7.8", ""},
		{"fe80::1%eth0", ""},
		{"0.0.0.0", ""},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"224.0.0.1", ""},
		{"169.254.1.1", ""},
		{"", ""},
		{"1.2.3", ""},
		{"01.2.3.4", ""},
		{"example.com", ""},
	} {
		ip, err := ParseIP(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrNotIP) {
				t.Errorf("ParseIP(%q) = %v, %v; want ErrNotIP", tc.in, ip, err)
			}
			continue
		}
		if err != nil || ip.String() != tc.want {
			t.Errorf("ParseIP(%q) = %v, %v; want %s", tc.in, ip, err, tc.want)
		}
	}
}

func TestSetKeepsEverySighting(t *testing.T) {
	var s Set
	ip := netip.MustParseAddr("203.0.113.7")
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	s.Add(ip, Sighting{Hunt: "B", Port: 443, LastSeen: t0})
	s.Add(ip, Sighting{Hunt: "A", Port: 8443, LastSeen: t0.Add(time.Hour)})
	s.Add(ip, Sighting{Hunt: "B", Port: 443, LastSeen: t0}) // the same banner twice
	s.Add(netip.MustParseAddr("2001:db8::1"), Sighting{Hunt: "A", Port: 80, LastSeen: t0})
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
	in, ok := s.Get(netip.MustParseAddr("::ffff:203.0.113.7"))
	if !ok {
		t.Fatal("mapped lookup missed the IPv4 indicator")
	}
	if len(in.Sightings) != 2 || in.Hunts()[0] != "A" || in.Hunts()[1] != "B" {
		t.Fatalf("sightings %+v hunts %v", in.Sightings, in.Hunts())
	}
	if !in.LastSeen().Equal(t0.Add(time.Hour)) {
		t.Fatalf("LastSeen = %v", in.LastSeen())
	}
	if got := s.IPs("B"); len(got) != 1 || got[0] != ip {
		t.Fatalf("IPs(B) = %v", got)
	}
	if got := s.IPs(""); len(got) != 2 || !got[0].Less(got[1]) {
		t.Fatalf("IPs() = %v, want both sorted", got)
	}
	if all := s.All(); all[0].IP != ip {
		t.Fatalf("All not sorted: %v", all[0].IP)
	}
}

func TestSkips(t *testing.T) {
	s := Skips{}
	s.Add("invalid ip_str")
	s.Add("invalid ip_str")
	o := Skips{"bad timestamp": 1}
	s.Merge(o)
	if s.Total() != 3 || s["invalid ip_str"] != 2 {
		t.Fatalf("skips %v", s)
	}
}

func TestHitKeyIsStable(t *testing.T) {
	h := Hit{Table: "DeviceNetworkEvents", DeviceID: "d1", ReportID: "42", IP: netip.MustParseAddr("203.0.113.7"),
		Timestamp: time.Date(2026, 11, 20, 10, 0, 0, 123456700, time.UTC)}
	k := h.Key()
	h.Hunts = []string{"X"}
	h.Row = map[string]any{"a": 1}
	if h.Key() != k {
		t.Fatal("key depends on attribution or row")
	}
	h.ReportID = "43"
	if h.Key() == k {
		t.Fatal("key ignores the report id")
	}
}
