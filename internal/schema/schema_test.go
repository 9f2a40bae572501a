package schema

import "testing"

func TestTables(t *testing.T) {
	for _, tc := range []struct {
		table, col string
		ok         bool
	}{
		{"DeviceNetworkEvents", "RemoteIP", true},
		{"DeviceLogonEvents", "RemoteIP", true},
		{"IdentityLogonEvents", "IPAddress", true},
		{"CloudAppEvents", "IPAddress", true},
		{"AADSignInEventsBeta", "IPAddress", true},
		{"DeviceNetworkEvents", "DeviceName", false},
		{"NoSuchTable", "RemoteIP", false},
	} {
		err := CheckTarget(tc.table, tc.col)
		if (err == nil) != tc.ok {
			t.Errorf("CheckTarget(%s, %s) = %v, want ok=%v", tc.table, tc.col, err, tc.ok)
		}
	}
	tb, _ := Lookup("DeviceNetworkEvents")
	if tb.TimeColumn != "Timestamp" || !tb.Has("InitiatingProcessCommandLine") || len(tb.Columns) != 46 {
		t.Fatalf("DeviceNetworkEvents schema looks wrong: %+v", tb)
	}
}
