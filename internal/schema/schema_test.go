package schema

import (
	"slices"
	"testing"
)

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

func TestSentinelCatalogue(t *testing.T) {
	c := Sentinel()
	want := []string{"AADNonInteractiveUserSignInLogs", "AZFWApplicationRule", "AZFWNetworkRule", "AZFWThreatIntel",
		"CommonSecurityLog", "DeviceNetworkEvents", "OfficeActivity", "SigninLogs", "VMConnection", "W3CIISLog"}
	if got := c.Names(); !slices.Equal(got, want) {
		t.Fatalf("tables %v, want %v", got, want)
	}
	for _, name := range c.Names() {
		tb, _ := c.Lookup(name)
		if tb.TimeColumn != "TimeGenerated" || !tb.Has("TimeGenerated") {
			t.Errorf("%s: time column %q", name, tb.TimeColumn)
		}
		if len(tb.RemoteIPColumns) == 0 || tb.Roles == nil {
			t.Errorf("%s: no remote IP column or roles", name)
			continue
		}
		for _, col := range slices.Concat(tb.IPColumns, tb.RemoteIPColumns, tb.Normalise) {
			if err := c.CheckTarget(name, col); err != nil || !tb.Has(col) {
				t.Errorf("%s.%s: %v", name, col, err)
			}
		}
		r := tb.Roles
		for _, col := range []string{r.Device, r.User, r.Process, r.Action} {
			if col != "" && !tb.Has(col) {
				t.Errorf("%s: role column %s missing", name, col)
			}
		}
		for ip, port := range r.Ports {
			if !slices.Contains(tb.IPColumns, ip) || !tb.Has(port) {
				t.Errorf("%s: port role %s -> %s", name, ip, port)
			}
		}
	}
	// The same table name means different columns per catalogue.
	d, _ := Lookup("DeviceNetworkEvents")
	s, _ := c.Lookup("DeviceNetworkEvents")
	if d.TimeColumn != "Timestamp" || s.TimeColumn != "TimeGenerated" {
		t.Errorf("DeviceNetworkEvents time columns %s / %s", d.TimeColumn, s.TimeColumn)
	}
	if _, err := Named("splunk"); err == nil {
		t.Error("unknown catalogue accepted")
	}
}
