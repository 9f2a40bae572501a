package output

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
)

func TestRunDirWritesCompleteFilesOnlyAtClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results", "run1")
	d, err := Create(dir, []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("203.0.113.7")
	server := &indicator.Indicator{IP: ip, Sightings: []indicator.Sighting{{Hunt: "A", Source: "shodan", Port: 443, ASN: "AS64500"}}}
	d.Schema("DeviceNetworkEvents.RemoteIP", []hunting.Column{{Name: "Timestamp", Type: "DateTime"}, {Name: "RemoteIP", Type: "String"}})
	for i := range 3 {
		h := indicator.Hit{Table: "DeviceNetworkEvents", IP: ip, Timestamp: time.Unix(int64(i), 0).UTC(), Hunts: []string{"A"},
			Row: map[string]any{"RemoteIP": "::ffff:203.0.113.7", "Note": "quote \" and <tag>"}}
		if err := d.Hit(h, server); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "A.json")); !os.IsNotExist(err) {
		t.Fatal("a hunt file is visible before the run is complete")
	}
	if err := d.Close(map[string]int{"hits": 3}); err != nil {
		t.Fatal(err)
	}
	names, _ := os.ReadDir(dir)
	var got []string
	for _, n := range names {
		got = append(got, n.Name())
	}
	if want := []string{"A.json", "B.json", "summary.json"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v (no partial files left)", got, want)
	}
	var a struct {
		Hunt     string                      `json:"hunt"`
		Hits     []ServerHit                 `json:"hits"`
		HitCount int                         `json:"hit_count"`
		Schemas  map[string][]hunting.Column `json:"schemas"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "A.json"))
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("A.json: %v\n%s", err, b)
	}
	if a.Hunt != "A" || len(a.Hits) != 3 || a.HitCount != 3 || a.Hits[0].Server.Sightings[0].ASN != "AS64500" ||
		a.Hits[2].Row["Note"] != "quote \" and <tag>" || len(a.Schemas["DeviceNetworkEvents.RemoteIP"]) != 2 {
		t.Fatalf("A.json content: %+v", a)
	}
	var bh struct {
		Hits     []ServerHit `json:"hits"`
		HitCount int         `json:"hit_count"`
	}
	b, _ = os.ReadFile(filepath.Join(dir, "B.json"))
	if err := json.Unmarshal(b, &bh); err != nil || len(bh.Hits) != 0 || bh.HitCount != 0 {
		t.Fatalf("B.json (no hits): %v\n%s", err, b)
	}
}

func TestRunDirAbortLeavesNothingHalfWritten(t *testing.T) {
	dir := t.TempDir()
	d, err := Create(dir, []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	d.Hit(indicator.Hit{Hunts: []string{"A"}}, nil)
	d.Abort()
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Fatalf("abort left %v", names)
	}
}

func TestRunDirNeverWritesOverEarlierResults(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "results")
	start := time.Date(2026, 12, 1, 6, 15, 0, 0, time.FixedZone("CET", 3600))
	first := RunDirIn(parent, start)
	if want := filepath.Join(parent, "20261201T051500Z"); first != want {
		t.Fatalf("RunDirIn = %s, want %s (the run time in UTC)", first, want)
	}
	d, err := Create(first, []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(map[string]int{"hits": 0}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(first, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}

	// A second run into the same directory is refused ...
	if _, err := Create(first, []string{"A"}); !errors.Is(err, ErrUsed) {
		t.Fatalf("Create on a used directory: %v, want ErrUsed", err)
	}
	after, _ := os.ReadFile(filepath.Join(first, "summary.json"))
	if string(after) != string(before) {
		t.Error("the earlier run's summary changed")
	}
	// ... and a second run in the same second gets its own directory.
	if second := RunDirIn(parent, start); second != first+"-2" {
		t.Errorf("second RunDirIn = %s, want %s-2", second, first)
	}
	if got := RunDirIn("", start); got != filepath.Join(DefaultParent, "20261201T051500Z") {
		t.Errorf("default parent: %s", got)
	}
}
