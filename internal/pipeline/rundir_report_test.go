package pipeline_test

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/report"
)

// A run writes hits.json (its new hits, one row per device and C2 server)
// and report.html into its result directory.
func TestRunWritesHitsJSONAndReport(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1, Now: now}})
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	dir := filepath.Join(t.TempDir(), "results")
	s := ptRun(t, p, pipeline.Options{Hunts: ptHunts(), API: "graph", OutDir: dir})
	if len(s.NewHits) == 0 || len(s.NewHits) != s.Totals.NewHits {
		t.Fatalf("want every new hit in the summary: %s", ptDescribe(s))
	}
	// The pairs, counted here from the events themselves.
	type pair struct{ device, ip string }
	type agg struct {
		events      int
		first, last time.Time
	}
	want := map[pair]*agg{}
	for _, h := range s.NewHits {
		k := pair{h.DeviceID, h.IP.Unmap().String()}
		if h.DeviceID == "" {
			k.device = "name:" + strings.ToLower(h.Device)
		}
		a := want[k]
		if a == nil {
			a = &agg{first: h.Timestamp, last: h.Timestamp}
			want[k] = a
		}
		a.events++
		if h.Timestamp.Before(a.first) {
			a.first = h.Timestamp
		}
		if h.Timestamp.After(a.last) {
			a.last = h.Timestamp
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "hits.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []report.Hit
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatalf("hits.json: %v\n%s", err, b)
	}
	if len(rows) != len(want) {
		t.Fatalf("hits.json has %d rows for %d device x C2 pairs:\n%s", len(rows), len(want), b)
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		k := pair{r.DeviceID, r.IP.String()}
		if r.DeviceID == "" {
			k.device = "name:" + strings.ToLower(r.Device)
		}
		a := want[k]
		if a == nil || a.events != r.Events || !a.first.Equal(r.First) || !a.last.Equal(r.Last) {
			t.Errorf("hits.json row %s -> %s: %d events %s..%s, want %+v", r.Device, r.IP, r.Events, r.First, r.Last, a)
		}
		if r.Links.Shodan != "https://www.shodan.io/host/"+r.IP.String() || r.Status != "new" {
			t.Errorf("hits.json row %s -> %s: links %+v, status %q", r.Device, r.IP, r.Links, r.Status)
		}
		if !strings.Contains(string(page), r.IP.String()) || !strings.Contains(string(page), html.EscapeString(r.Pivot.Devices)) {
			t.Errorf("report.html lacks %s or its pivot query", r.IP)
		}
		if !strings.Contains(r.Pivot.Timeline, "| where Timestamp between (") || !strings.Contains(r.Pivot.Devices, r.IP.String()) {
			t.Errorf("hits.json row %s -> %s: pivot %+v", r.Device, r.IP, r.Pivot)
		}
	}
}
