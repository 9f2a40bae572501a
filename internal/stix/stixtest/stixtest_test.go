package stixtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func golden(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(data); err != nil {
		t.Fatalf("golden bundle: %v", err)
	}
	var b map[string]any
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// find returns the first object of type typ in bundle b.
func find(b map[string]any, typ string) map[string]any {
	for _, o := range b["objects"].([]any) {
		if m := o.(map[string]any); m["type"] == typ {
			return m
		}
	}
	panic("no " + typ)
}

// Each rule the validator enforces is broken once: the validator must say so.
func TestValidateCatches(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(b map[string]any)
		want string
	}{
		"schema: indicator without pattern": {func(b map[string]any) { delete(find(b, "indicator"), "pattern") }, "schema sdos/indicator.json"},
		"schema: sighting count too large":  {func(b map[string]any) { find(b, "sighting")["count"] = 1e9 }, "schema sros/sighting.json"},
		"schema: timestamp without zone":    {func(b map[string]any) { find(b, "malware")["created"] = "2026-01-01T00:00:00.000" }, "schema"},
		"schema: identifier not a UUID":     {func(b map[string]any) { find(b, "relationship")["target_ref"] = "malware--x" }, "schema sros/relationship.json"},
		"unknown type":                      {func(b map[string]any) { find(b, "malware")["type"] = "x-thing" }, `no schema for type "x-thing"`},
		"bundle spec_version":               {func(b map[string]any) { b["spec_version"] = "2.1" }, "no spec_version"},
		"bundle id":                         {func(b map[string]any) { b["id"] = "indicator--" + strings.SplitN(b["id"].(string), "--", 2)[1] }, "bundle: id"},
		"modified before created":           {func(b map[string]any) { find(b, "indicator")["modified"] = "2020-01-01T00:00:00.000Z" }, "is before created"},
		"valid_until equal to valid_from":   {func(b map[string]any) { o := find(b, "indicator"); o["valid_until"] = o["valid_from"] }, "must be later than valid_from"},
		"last_seen before first_seen":       {func(b map[string]any) { find(b, "sighting")["last_seen"] = "2020-01-01T00:00:00.000Z" }, "is before first_seen"},
		"created without milliseconds":      {func(b map[string]any) { find(b, "indicator")["created"] = "2026-11-01T00:00:00Z" }, "milliseconds"},
		"dangling ref": {func(b map[string]any) {
			find(b, "sighting")["sighting_of_ref"] = "indicator--00000000-0000-4000-8000-000000000000"
		}, "is not in the bundle"},
		"dangling refs": {func(b map[string]any) {
			find(b, "sighting")["where_sighted_refs"] = []any{"identity--00000000-0000-4000-8000-000000000000"}
		}, "is not in the bundle"},
		"duplicate id": {func(b map[string]any) { find(b, "malware")["id"] = find(b, "identity")["id"] }, "id given twice"},
		"id prefix of another type": {func(b map[string]any) {
			o := find(b, "sighting")
			o["id"] = "indicator--" + strings.SplitN(o["id"].(string), "--", 2)[1]
		}, "schema sros/sighting.json"},
		"relationship the spec lacks":        {func(b map[string]any) { find(b, "relationship")["relationship_type"] = "indicates" }, "not a relationship STIX 2.1 defines"},
		"sighting of an observable":          {func(b map[string]any) { find(b, "sighting")["sighting_of_ref"] = find(b, "ipv4-addr")["id"] }, "is an observable"},
		"pattern with a raw quote":           {func(b map[string]any) { find(b, "indicator")["pattern"] = "[ipv4-addr:value = '1.2.3.4'']" }, "well-quoted literal"},
		"pattern naming the wrong address":   {func(b map[string]any) { find(b, "indicator")["pattern"] = "[ipv6-addr:value = '1.2.3.4']" }, "is not IPv6"},
		"pattern with a non-address literal": {func(b map[string]any) { find(b, "indicator")["pattern"] = `[ipv4-addr:value = 'x\' OR 1=1']` }, "ParseAddr"},
	} {
		b := golden(t)
		tc.edit(b)
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		err = Validate(data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, tc.want)
		}
	}
}
