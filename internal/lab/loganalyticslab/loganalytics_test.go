package loganalyticslab_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/loganalyticslab"
	"c2sweep/internal/schema"
)

// The planted rows follow the Sentinel schema the queries are checked
// against, and every table has contacts for the world's C2 servers.
func TestRowsFollowTheSchema(t *testing.T) {
	w := lab.NewWorld(lab.WorldConfig{Seed: 7, Now: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)})
	rows, contacts := w.SentinelRows()
	again, _ := w.SentinelRows()
	if len(rows) != len(again) || rows[0].Values["TimeGenerated"] != again[0].Values["TimeGenerated"] {
		t.Fatal("the rows differ between two calls on one world")
	}
	cat := schema.Sentinel()
	if !slices.Equal(cat.Names(), slices.Sorted(slices.Values(lab.SentinelTables))) {
		t.Fatalf("lab tables %v, schema %v", lab.SentinelTables, cat.Names())
	}
	for _, r := range rows {
		tb, ok := cat.Lookup(r.Table)
		if !ok {
			t.Fatalf("row of unknown table %s", r.Table)
		}
		for k, v := range r.Values {
			i := slices.IndexFunc(tb.Columns, func(c schema.Column) bool { return c.Name == k })
			if i < 0 {
				t.Fatalf("%s: column %s not in the schema", r.Table, k)
			}
			want := map[string]string{"string": "string", "int": "int64", "long": "int64", "datetime": "time.Time"}[tb.Columns[i].Type]
			got := map[bool]string{true: "string"}[isString(v)]
			switch v.(type) {
			case int64:
				got = "int64"
			case time.Time:
				got = "time.Time"
			}
			if got != want {
				t.Errorf("%s.%s: %T for %s", r.Table, k, v, tb.Columns[i].Type)
			}
		}
	}
	for _, table := range lab.SentinelTables {
		n := 0
		for _, c := range contacts {
			if c.Table != table {
				continue
			}
			n++
			tb, _ := cat.Lookup(table)
			if c.Column != tb.RemoteIPColumns[0] {
				t.Errorf("%s: planted in %s, not the sweep's default column", table, c.Column)
			}
			if a, ok := loganalyticslab.Normalise(c.Logged); !ok || a != c.ServerIP {
				t.Errorf("%s: %q does not normalise to %s", table, c.Logged, c.ServerIP)
			}
		}
		if n == 0 {
			t.Errorf("%s: no planted contact", table)
		}
	}
}

func isString(v any) bool { _, ok := v.(string); return ok }

func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7": "203.0.113.7", "203.0.113.7:5555": "203.0.113.7", "[::ffff:203.0.113.7]:5555": "203.0.113.7",
		"::ffff:203.0.113.7": "203.0.113.7", "[2001:db8::1]:443": "2001:db8::1", "[2001:db8::1]": "2001:db8::1", "2001:db8::1": "2001:db8::1",
	} {
		if a, ok := loganalyticslab.Normalise(in); !ok || a != netip.MustParseAddr(want) {
			t.Errorf("Normalise(%q) = %v %v, want %s", in, a, ok, want)
		}
	}
	if _, ok := loganalyticslab.Normalise("-"); ok {
		t.Error("a dash read as an address")
	}
}
