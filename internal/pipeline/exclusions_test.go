package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/catalog"
	"c2sweep/internal/clock"
	"c2sweep/internal/config"
	"c2sweep/internal/exclude"
	"c2sweep/internal/health"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/store"
)

// cdnFamilies are catalog families the lab hides behind CDNs.
var cdnFamilies = []string{"Supershell", "Hookbot", "GoPhish", "Meduza Stealer"}

// cdnLists names the embedded range list of each CDN the lab uses.
var cdnLists = map[string]string{"Cloudflare": "cloudflare", "Fastly": "fastly", "Amazon CloudFront": "amazon-cloudfront"}

// catalogConfig is a config whose hunts are the catalog's hunts of
// families, with extra appended as written (exclusions, exclude).
func catalogConfig(t *testing.T, families []string, extra string) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("builtin_hunts: false\nhunts:\n")
	for _, h := range catalog.Builtin().Hunts {
		if slices.Contains(families, h.Family) {
			fmt.Fprintf(&b, "  - name: %s\n    query: '%s'\n", h.Name, strings.ReplaceAll(h.Query, "'", "''"))
		}
	}
	b.WriteString(extra)
	cfg, warns, err := config.Parse(filepath.Join(t.TempDir(), "c2sweep.yaml"), []byte(b.String()))
	if err != nil || len(warns) > 0 {
		t.Fatalf("config: %v %v\n%s", err, warns, b.String())
	}
	return cfg
}

// cdnTruth is, from the lab's world alone, each hunt's fresh IPs that sit
// behind a CDN, by the range list that must name them.
func cdnTruth(t *testing.T, w *lab.World, tr *truth) map[string]map[netip.Addr]string {
	t.Helper()
	behind := map[netip.Addr]string{}
	for _, s := range w.CatalogServers {
		if s.CDN != "" {
			behind[s.IP.Unmap()] = cdnLists[s.CDN]
		}
	}
	out := map[string]map[netip.Addr]string{}
	seen := map[string]bool{}
	for hunt, fresh := range tr.fresh {
		out[hunt] = map[netip.Addr]string{}
		for ip := range fresh {
			if l, ok := behind[ip]; ok {
				out[hunt][ip] = l
				seen[l] = true
			}
		}
	}
	if len(seen) != len(cdnLists) {
		t.Fatalf("precondition: the hunts find servers behind %v, want all of %v", seen, cdnLists)
	}
	return out
}

func loadExclusions(t *testing.T, cfg *config.Config, dir string) *pipeline.Exclusions {
	t.Helper()
	e, err := pipeline.LoadExclusions(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The catalog's servers behind Cloudflare, Fastly and CloudFront are
// dropped by default, counted per hunt and by list, in summary.json and
// the text summary, and never put in a query; the others are swept.
// With exclusions: {cdn: false} they are kept.
func TestCDNServersExcludedAndCounted(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 9, Now: now}})
	// Mythic's lab servers are rented: they are swept.
	families := append([]string{"Mythic"}, cdnFamilies...)
	cfg := catalogConfig(t, families, "")
	if !cfg.Exclusions.CDN {
		t.Fatal("exclusions.cdn is not on by default")
	}
	hunts := cfg.EnabledHunts()
	tr := truthAt(t, l.World, hunts, now)
	want := cdnTruth(t, l.World, tr)

	out := filepath.Join(t.TempDir(), "results")
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil))}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", DryRun: true, OutDir: out, Exclude: loadExclusions(t, cfg, "")})
	if len(s.Errors) > 0 {
		t.Fatalf("errors: %v", s.Errors)
	}
	total := 0
	excluded := map[netip.Addr]bool{}
	for _, h := range hunts {
		hs := huntSummary(t, s, h.Name)
		lists := map[string]int{}
		for ip, l := range want[h.Name] {
			lists[l]++
			excluded[ip] = true
		}
		if hs.Excluded.CDN != len(want[h.Name]) || hs.Excluded.Config != 0 {
			t.Errorf("%s: excluded %+v, want %d cdn", h.Name, hs.Excluded, len(want[h.Name]))
		}
		if len(lists) > 0 && !maps.Equal(hs.Excluded.Lists, lists) {
			t.Errorf("%s: excluded by list %v, want %v", h.Name, hs.Excluded.Lists, lists)
		}
		if hs.Fresh != len(tr.fresh[h.Name])-len(want[h.Name]) {
			t.Errorf("%s: %d fresh, want %d", h.Name, hs.Fresh, len(tr.fresh[h.Name])-len(want[h.Name]))
		}
		total += len(want[h.Name])
	}
	// The totals count each address once, however many hunts named it.
	if s.Totals.Excluded.CDN != len(excluded) || total == 0 {
		t.Errorf("totals excluded %+v, want %d cdn", s.Totals.Excluded, len(excluded))
	}
	if got, wantN := s.Totals.Indicators, len(tr.allIPs())-len(excluded); got != wantN {
		t.Errorf("%d indicators, want %d", got, wantN)
	}
	named := false
	for _, q := range s.Queries {
		for ip := range excluded {
			if strings.Contains(q.Text, `"`+ip.String()+`"`) {
				t.Errorf("query to %s names the CDN address %s", q.Column, ip)
			}
		}
		for _, ip := range tr.allIPs() {
			named = named || !excluded[ip] && strings.Contains(q.Text, `"`+ip.String()+`"`)
		}
	}
	if !named {
		t.Error("no query names the servers outside CDNs: the check above proves nothing")
	}
	data, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Hunts []struct {
			Name     string         `json:"name"`
			Excluded map[string]any `json:"excluded"`
		} `json:"hunts"`
	}
	if err := json.Unmarshal(data, &js); err != nil {
		t.Fatal(err)
	}
	for _, h := range js.Hunts {
		if got := h.Excluded["cdn"]; got != float64(len(want[h.Name])) {
			t.Errorf("summary.json %s: excluded.cdn %v, want %d", h.Name, got, len(want[h.Name]))
		}
	}
	var text strings.Builder
	s.WriteText(&text, true)
	for _, h := range hunts {
		if n := len(want[h.Name]); n > 0 && !strings.Contains(text.String(), fmt.Sprintf("excluded from %s: %d in CDN ranges", h.Name, n)) {
			t.Errorf("text summary does not say %s excluded %d:\n%s", h.Name, n, text.String())
		}
	}

	// cdn: false keeps them, through collect.
	off := catalogConfig(t, families, "exclusions: {cdn: false}\n")
	s2, inds, err := p.Collect(context.Background(), pipeline.Options{Hunts: off.EnabledHunts(), Exclude: loadExclusions(t, off, "")})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Totals.Excluded.Total() != 0 || len(inds) != len(tr.allIPs()) {
		t.Errorf("cdn: false: excluded %+v, %d indicators, want none excluded and %d", s2.Totals.Excluded, len(inds), len(tr.allIPs()))
	}
	got := map[netip.Addr]bool{}
	for _, in := range inds {
		got[in.IP] = true
	}
	for ip := range excluded {
		if !got[ip] {
			t.Errorf("cdn: false: %s not collected", ip)
		}
	}
}

// A user's exclude: of a planted C2 address removes its hits and is
// counted for every hunt that named it; the other hits are all found.
func TestConfigExcludeRemovesHits(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 3, Now: now}})
	hunts := ptHunts()
	tr := truthAt(t, l.World, hunts, now)
	all := tr.allHits()
	var planted netip.Addr
	for _, w := range all {
		planted = w.E.IP.Unmap()
		break
	}
	if !planted.IsValid() {
		t.Fatal("precondition: the world has no hit")
	}
	cfg, warns, err := config.Parse("c2sweep.yaml", []byte("exclude:\n  - "+planted.String()+"\n"))
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", Exclude: loadExclusions(t, cfg, "")})
	if len(s.Errors) > 0 {
		t.Fatalf("errors: %v", s.Errors)
	}
	wanted := map[string]wantHit{}
	for k, w := range all {
		if w.E.IP.Unmap() != planted {
			wanted[k] = w
		}
	}
	if len(wanted) == len(all) {
		t.Fatal("precondition: no hit of the planted address")
	}
	checkHits(t, "hits", s.NewHits, wanted)
	for _, h := range hunts {
		want := 0
		if tr.fresh[h.Name][planted] {
			want = 1
		}
		if hs := huntSummary(t, s, h.Name); hs.Excluded.Config != want {
			t.Errorf("%s: excluded %+v, want %d config", h.Name, hs.Excluded, want)
		}
	}
	if s.Totals.Excluded.Config != 1 {
		t.Errorf("totals: excluded %+v, want the planted address", s.Totals.Excluded)
	}
}

// A snapshot that `exclusions update` wrote is used instead of the
// embedded one, and when older than 90 days the summary warns once.
func TestRefreshedSnapshotUsedAndStaleWarned(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 9, Now: now}})
	cfg := catalogConfig(t, append([]string{"Mythic"}, cdnFamilies...), "")
	hunts := cfg.EnabledHunts()
	tr := truthAt(t, l.World, hunts, now)
	want := cdnTruth(t, l.World, tr)
	// The refreshed snapshot knows only a "labcdn" list holding one of the
	// hunts' non-CDN servers.
	var rented netip.Addr
	for _, ip := range tr.allIPs() {
		behind := false
		for _, m := range want {
			_, ok := m[ip]
			behind = behind || ok
		}
		if !behind && ip.Is4() {
			rented = ip
			break
		}
	}
	if !rented.IsValid() {
		t.Fatal("precondition: no server outside a CDN")
	}
	dir := filepath.Join(t.TempDir(), "ranges")
	snap := &exclude.Snapshot{Built: now.AddDate(0, 0, -100).Truncate(24 * time.Hour), Lists: []*exclude.List{{
		Name: "labcdn", Provider: "Lab CDN", Upstream: []string{"https://ranges.example/labcdn.txt"},
		Date: now.AddDate(0, 0, -100).Truncate(time.Second), Prefixes: []netip.Prefix{netip.PrefixFrom(rented, 32)},
	}}}
	if err := snap.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil))}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", DryRun: true, Exclude: loadExclusions(t, cfg, dir)})
	if s.Totals.Excluded.CDN == 0 || s.Totals.Excluded.Lists["labcdn"] != s.Totals.Excluded.CDN {
		t.Errorf("excluded %+v, want only labcdn", s.Totals.Excluded)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "c2sweep exclusions update") {
		t.Errorf("warnings %q, want one saying to run c2sweep exclusions update", s.Warnings)
	}
	// The embedded snapshot is fresh: no warning.
	s = ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", DryRun: true, Exclude: loadExclusions(t, cfg, filepath.Join(t.TempDir(), "none"))})
	if len(s.Warnings) != 0 || s.Totals.Excluded.Lists["labcdn"] != 0 || s.Totals.Excluded.CDN == 0 {
		t.Errorf("embedded snapshot: warnings %q, excluded %+v", s.Warnings, s.Totals.Excluded)
	}
}

// Suppressed hits are counted in the summary by the kind of suppression
// that matched, and said in the text summary.
func TestSuppressedHitsCountedByKind(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 3, Now: now}})
	hunts := ptHunts()
	tr := truthAt(t, l.World, hunts, now)
	all := tr.allHits()
	var ip netip.Addr
	var hunt string
	for _, w := range all {
		if len(w.Hunts) == 1 && !ip.IsValid() {
			ip = w.E.IP.Unmap()
		}
	}
	for _, w := range all {
		if w.E.IP.Unmap() != ip && len(w.Hunts) == 1 && hunt == "" {
			hunt = w.Hunts[0]
		}
	}
	if !ip.IsValid() || hunt == "" {
		t.Fatal("precondition: no hit to suppress")
	}
	want := map[string]int{}
	for _, w := range all {
		switch {
		case w.E.IP.Unmap() == ip:
			want["ip"]++
		case slices.Equal(w.Hunts, []string{hunt}):
			want["hunt"]++
		}
	}
	st := ptTempStore(t)
	ctx := context.Background()
	for _, sp := range []store.Suppression{{Kind: "ip", Value: ip.String(), Reason: "a test"}, {Kind: "hunt", Value: hunt, Reason: "a test"}} {
		sp.Created = now
		if _, err := st.Suppress(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph"})
	if !maps.Equal(s.Totals.SuppressedBy, want) || s.Totals.Suppressed != want["ip"]+want["hunt"] {
		t.Errorf("suppressed %d by kind %v, want %v", s.Totals.Suppressed, s.Totals.SuppressedBy, want)
	}
	var text strings.Builder
	s.WriteText(&text, true)
	if !strings.Contains(text.String(), fmt.Sprintf(", %d suppressed (", s.Totals.Suppressed)) {
		t.Errorf("text summary does not count the suppressed hits by kind:\n%s", text.String())
	}
}

// An indicator an earlier run stored and this run would carry over is not
// swept once the config excludes it, and it is counted for its hunt.
func TestCarriedIndicatorExcluded(t *testing.T) {
	l := ptStartLab(t, lab.Options{})
	clk := clock.NewFake(time.Now().UTC())
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t), Clock: clk}
	hunts := ptHunts()
	o := pipeline.Options{Hunts: hunts, API: "graph", IndicatorTTL: 30 * 24 * time.Hour}
	ptRun(t, p, o)
	tr := truthAt(t, l.World, hunts, clk.Now())
	var carried netip.Addr
	for _, ip := range sortedAddrs(tr.fresh["DeimosC2"]) {
		if len(tr.huntsOf(ip, hunts[0].Sweep[0])) == 1 {
			carried = ip
			break
		}
	}
	if !carried.IsValid() {
		t.Fatal("precondition: no Deimos server named by Deimos alone")
	}
	// Shodan stops showing the Deimos servers; the config excludes one.
	o.Hunts = slices.Clone(hunts)
	for i := range o.Hunts {
		if o.Hunts[i].Name == "DeimosC2" {
			o.Hunts[i].Query = `product:"no such product anywhere"`
		}
	}
	cfg, _, err := config.Parse("c2sweep.yaml", []byte("exclude: ["+carried.String()+"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	o.Exclude, o.DryRun = loadExclusions(t, cfg, ""), true
	clk.Advance(time.Hour)
	s := ptRun(t, p, o)
	hs := huntSummary(t, s, "DeimosC2")
	if hs.Excluded.Config != 1 || hs.Carried != len(tr.fresh["DeimosC2"])-1 || s.Totals.Excluded.Config != 1 {
		t.Errorf("DeimosC2 %+v carried %d, totals %+v; want 1 excluded and the other %d carried", hs.Excluded, hs.Carried, s.Totals.Excluded, len(tr.fresh["DeimosC2"])-1)
	}
	named := false
	for _, q := range s.Queries {
		if strings.Contains(q.Text, `"`+carried.String()+`"`) {
			t.Errorf("query to %s names the excluded %s", q.Column, carried)
		}
		for ip := range tr.fresh["DeimosC2"] {
			named = named || ip != carried && strings.Contains(q.Text, `"`+ip.String()+`"`)
		}
	}
	if !named {
		t.Error("no query names the other carried Deimos servers: the check above proves nothing")
	}
}

// A hunt whose fresh IPs are mostly behind CDNs is noisy in its health:
// the run records what the exclusions took beside what was fresh.
func TestMostlyExcludedHuntIsNoisy(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 9, Now: now}})
	cfg := catalogConfig(t, cdnFamilies, "")
	hunts := cfg.EnabledHunts()
	want := cdnTruth(t, l.World, truthAt(t, l.World, hunts, now))
	st := ptTempStore(t)
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st}
	ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", OutDir: filepath.Join(t.TempDir(), "results"), Exclude: loadExclusions(t, cfg, "")})
	runs, err := st.HuntRuns(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	noisy := 0
	for _, h := range hunts {
		rs := runs[h.Name]
		if len(rs) != 1 {
			t.Fatalf("%s: %d recorded runs, want 1", h.Name, len(rs))
		}
		if rs[0].Excluded != len(want[h.Name]) || rs[0].Fresh < rs[0].Excluded {
			t.Errorf("%s: recorded %d fresh, %d excluded; want %d excluded", h.Name, rs[0].Fresh, rs[0].Excluded, len(want[h.Name]))
		}
		if v := health.Judge(pipeline.HealthRuns(rs), health.Options{SilentRuns: 7}); v.State == health.Noisy {
			noisy++
		} else if 2*len(want[h.Name]) > rs[0].Fresh && rs[0].Fresh > 0 {
			t.Errorf("%s: verdict %s, want noisy (%d of %d fresh excluded)", h.Name, v.State, rs[0].Excluded, rs[0].Fresh)
		}
	}
	if noisy == 0 {
		t.Error("no hunt of the CDN families is noisy: the check above proves nothing")
	}
}
