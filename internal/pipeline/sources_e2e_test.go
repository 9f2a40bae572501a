package pipeline_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/indicator"
	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/shodan"
	"c2sweep/internal/source"
	_ "c2sweep/internal/source/all"
	shodansource "c2sweep/internal/source/shodan"
	"c2sweep/internal/store"
)

// intelConfig is one config with all five source kinds against the lab.
const intelConfig = `builtin_hunts: false
hunts:
  - name: CobaltStrikeJARM
    query: ssl.jarm:07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2
  - name: CobaltStrikeProductName
    query: 'product:"Cobalt Strike Beacon"'
  - name: ThreatFoxC2
    source: threatfox
    days: 7
  - name: Feodo
    source: feodo
  - name: TextFeed
    source: feed
    url: %[1]s/c2.txt
  - name: CSVFeed
    source: feed
    url: %[1]s/IPC2s.csv
    column: ip
    label: ioc
  - name: Downloaded
    source: shodan-file
    path: ./downloads/*.json.gz
`

// intelSources are the sources of intelConfig's kinds, set up through the
// registry with the lab's endpoints, key and CA (the CLI does the same
// from the config and the environment).
func intelSources(t *testing.T, l *ptLab, withShodan bool) map[string]source.Source {
	t.Helper()
	srcs := map[string]source.Source{}
	cache := t.TempDir()
	for kind, st := range map[string]source.Settings{
		"threatfox":   {AuthKey: l.Creds.AbuseCHKey, URL: l.URL + lab.ThreatFoxPath},
		"feodo":       {URL: l.URL + lab.FeodoPath},
		"feed":        {},
		"shodan-file": {},
	} {
		k, err := source.Lookup(kind)
		if err != nil {
			t.Fatal(err)
		}
		st.HTTPClient, st.CacheDir = l.client, cache
		s, err := k.New(st)
		if err != nil {
			t.Fatal(err)
		}
		srcs[kind] = s
	}
	if withShodan {
		srcs["shodan"] = shodansource.New(l.shodanClient(t, nil))
	}
	return srcs
}

func loadIntelConfig(t *testing.T, l *ptLab, text string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "downloads"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "downloads", "lab.json.gz"), l.World.BannerFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, warns, err := config.Parse(filepath.Join(dir, "c2sweep.yaml"), []byte(fmt.Sprintf(text, strings.TrimSuffix(l.URL+lab.FeedsPath, "/"))))
	if err != nil || len(warns) > 0 {
		t.Fatalf("config: %v %v", err, warns)
	}
	return cfg, dir
}

// intelTruth is what each free hunt must keep and skip, computed from the
// lab's world (what it publishes), never from the code under test.
func intelTruth(t *testing.T, w *lab.World, since time.Time) (fresh map[string]map[netip.Addr]bool, skipped map[string]indicator.Skips) {
	t.Helper()
	fresh = map[string]map[netip.Addr]bool{}
	skipped = map[string]indicator.Skips{}
	add := func(hunt string, ip netip.Addr, last time.Time) {
		if fresh[hunt] == nil {
			fresh[hunt] = map[netip.Addr]bool{}
		}
		if !last.Before(since) {
			fresh[hunt][ip.Unmap()] = true
		}
	}
	skip := func(hunt, reason string) {
		if skipped[hunt] == nil {
			skipped[hunt] = indicator.Skips{}
		}
		skipped[hunt].Add(reason)
	}
	in := w.Intel
	for _, ioc := range in.ThreatFox {
		switch {
		case ioc.Server != nil:
			last := ioc.LastSeen
			if last.IsZero() {
				last = ioc.FirstSeen
			}
			add("ThreatFoxC2", ioc.Server.IP, last)
		case ioc.IOCType == "ip:port" || ioc.IOCType == "ip":
			skip("ThreatFoxC2", source.SkipInvalidIP)
		default:
			skip("ThreatFoxC2", source.SkipNotIP)
		}
	}
	for _, f := range in.Feodo {
		if f.Server == nil {
			skip("Feodo", source.SkipInvalidIP)
			continue
		}
		add("Feodo", f.Server.IP, f.LastOnline)
	}
	// A feed's items are as fresh as the file (two hours old in the lab);
	// its bad line is the lab's IntelBadIP.
	for _, ip := range in.TextFeedIPs {
		add("TextFeed", ip, in.FeedModified)
	}
	for _, ip := range in.CSVFeedIPs {
		add("CSVFeed", ip, in.FeedModified)
	}
	skip("TextFeed", source.SkipInvalidIP)
	skip("CSVFeed", source.SkipInvalidIP)
	// The banner file, read line by line here with encoding/json.
	zr, err := gzip.NewReader(bytes.NewReader(w.BannerFile()))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var b struct {
			IPStr     string `json:"ip_str"`
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		ip, err := netip.ParseAddr(b.IPStr)
		if err != nil {
			skip("Downloaded", shodan.SkipInvalidIP)
			continue
		}
		ts, err := time.Parse("2006-01-02T15:04:05.999999", b.Timestamp)
		if err != nil {
			t.Fatalf("banner timestamp %q", b.Timestamp)
		}
		add("Downloaded", ip, ts)
	}
	return fresh, skipped
}

// One config with all five source kinds, against the lab: exactly the
// indicators the sources publish (fresh, valid, deduplicated), exactly the
// hits of those indicators, the address every source names attributed to
// every hunt that named it, and the skipped items by reason in
// summary.json.
func TestRunAllSourceKindsEndToEnd(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 8, Now: now}})
	if !l.World.Intel.Shared.IsValid() {
		t.Fatal("precondition: the lab world has no address every source names")
	}
	cfg, _ := loadIntelConfig(t, l, intelConfig)
	hunts := cfg.EnabledHunts()
	st := ptTempStore(t)
	out := filepath.Join(t.TempDir(), "results")
	p := &pipeline.Pipeline{Sources: intelSources(t, l, true), Hunter: l.hunter(t, "graph", nil), Store: st}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", OutDir: out})
	if len(s.Errors) > 0 || s.Outcome != pipeline.OutcomeHits {
		t.Fatalf("outcome %s, errors %v", s.Outcome, s.Errors)
	}

	since := s.Started.Add(-time.Duration(config.DefaultMaxAge))
	fresh, skipped := intelTruth(t, l.World, since)
	var shodanHunts []config.Hunt
	for _, h := range hunts {
		if h.Source == "shodan" {
			shodanHunts = append(shodanHunts, h)
		}
	}
	tr := truthAt(t, l.World, shodanHunts, s.Started)
	for name, ips := range tr.fresh {
		fresh[name] = ips
		skipped[name] = indicator.Skips{}
		if n := tr.invalid[name]; n > 0 {
			skipped[name][shodan.SkipInvalidIP] = n
		}
	}
	tr.hunts, tr.fresh = hunts, fresh
	for _, h := range hunts {
		if len(fresh[h.Name]) == 0 {
			t.Errorf("precondition: hunt %s finds nothing fresh in the lab", h.Name)
		}
	}

	// Exactly the indicators, each with every hunt that named it.
	want := tr.allIPs()
	recs, err := st.Indicators(context.Background(), store.IndicatorFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []netip.Addr
	for _, r := range recs {
		got = append(got, r.IP)
		var hs []string
		for _, sg := range r.Sightings {
			hs = append(hs, sg.Hunt)
		}
		slices.Sort(hs)
		hs = slices.Compact(hs)
		if wantHunts := tr.huntsOf(r.IP, dne); !slices.Equal(hs, wantHunts) {
			t.Errorf("%s named by %v, want %v", r.IP, hs, wantHunts)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("indicators\n got %v\nwant %v", got, want)
	}
	if s.Totals.Indicators != len(want) {
		t.Errorf("totals: %d indicators, want %d", s.Totals.Indicators, len(want))
	}

	// Exactly the hits.
	wanted := tr.allHits()
	if len(wanted) == 0 {
		t.Fatal("precondition: the world gives no hit")
	}
	checkHits(t, "run", s.NewHits, wanted)

	// The address every source names: one indicator, every free hunt, its
	// sources' labels.
	shared := l.World.Intel.Shared
	var sharedRec *store.IndicatorRecord
	for i := range recs {
		if recs[i].IP == shared {
			sharedRec = &recs[i]
		}
	}
	if sharedRec == nil {
		t.Fatalf("shared address %s is no indicator", shared)
	}
	sources := map[string]bool{}
	var tf indicator.Sighting
	for _, sg := range sharedRec.Sightings {
		sources[sg.Source] = true
		if sg.Source == "threatfox" {
			tf = sg
		}
	}
	for _, k := range []string{"threatfox", "feodo", "feed", "shodan-file"} {
		if !sources[k] {
			t.Errorf("shared address: no sighting of source %s (%v)", k, sources)
		}
	}
	if tf.Labels.Confidence != 100 || !strings.HasPrefix(tf.Labels.Reference, "https://threatfox.abuse.ch/ioc/") || tf.Labels.MalwareID == "" || tf.Port == 0 {
		t.Errorf("shared address: threatfox sighting %+v", tf)
	}
	for _, h := range s.NewHits {
		if h.IP == shared {
			for _, name := range []string{"ThreatFoxC2", "Feodo", "TextFeed", "CSVFeed", "Downloaded"} {
				if !slices.Contains(h.Hunts, name) {
					t.Errorf("hit on the shared address lacks hunt %s: %v", name, h.Hunts)
				}
			}
		}
	}

	// The hunt's result file shows each hit's server with its sources'
	// labels.
	hb, err := os.ReadFile(filepath.Join(s.OutDir, "ThreatFoxC2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(hb, []byte(`"ip":"`+shared.String()+`"`)) || !bytes.Contains(hb, []byte(`"labels":{"malware":`)) ||
		!bytes.Contains(hb, []byte(`"confidence":100`)) {
		t.Errorf("ThreatFoxC2.json lacks the shared server's labels:\n%.2000s", hb)
	}

	// summary.json: per hunt its source and the skipped items by reason.
	b, err := os.ReadFile(filepath.Join(s.OutDir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Hunts []struct {
			Name, Source     string
			Read, Kept       int
			Skipped          map[string]int
			Stale            int `json:"stale_banners"`
			Fresh            int `json:"fresh_indicators"`
			Requests, Credit int
		} `json:"hunts"`
		Totals struct {
			Sources map[string]struct {
				Hunts   int            `json:"hunts"`
				Read    int            `json:"read"`
				Skipped map[string]int `json:"skipped"`
			} `json:"sources"`
		} `json:"totals"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Hunts) != len(hunts) {
		t.Fatalf("summary.json has %d hunts", len(file.Hunts))
	}
	for i, h := range file.Hunts {
		if h.Name != hunts[i].Name || h.Source != hunts[i].Source {
			t.Errorf("hunt %d: %s (%s), want %s (%s)", i, h.Name, h.Source, hunts[i].Name, hunts[i].Source)
		}
		want := map[string]int(skipped[h.Name])
		if len(want) == 0 {
			want = map[string]int{}
		}
		if h.Skipped == nil {
			h.Skipped = map[string]int{}
		}
		if !mapsEqual(h.Skipped, want) {
			t.Errorf("%s: skipped %v, want %v", h.Name, h.Skipped, want)
		}
		if h.Fresh != len(fresh[h.Name]) {
			t.Errorf("%s: %d fresh, want %d", h.Name, h.Fresh, len(fresh[h.Name]))
		}
		if h.Read != h.Kept+sum(h.Skipped) || h.Requests < 1 && hunts[i].Source != "shodan-file" {
			t.Errorf("%s: read %d, kept %d, skipped %v, requests %d", h.Name, h.Read, h.Kept, h.Skipped, h.Requests)
		}
	}
	if tf := file.Totals.Sources["threatfox"]; tf.Hunts != 1 || tf.Skipped[source.SkipNotIP] != 2 || tf.Skipped[source.SkipInvalidIP] != 1 {
		t.Errorf("totals.sources.threatfox %+v", tf)
	}
	if fd := file.Totals.Sources["feed"]; fd.Hunts != 2 || fd.Skipped[source.SkipInvalidIP] != 2 {
		t.Errorf("totals.sources.feed %+v", fd)
	}
}

// A config of free sources only runs with no Shodan key at all: no Shodan
// source is set up, /api-info is never asked, and no credit is counted.
func TestRunFreeSourcesNeedNoShodan(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 8, Now: now}})
	text := strings.Replace(intelConfig, `  - name: CobaltStrikeJARM
    query: ssl.jarm:07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2
  - name: CobaltStrikeProductName
    query: 'product:"Cobalt Strike Beacon"'
`, "", 1)
	cfg, _ := loadIntelConfig(t, l, text)
	if config.UsesSource(cfg.EnabledHunts(), "shodan") {
		t.Fatal("precondition: a Shodan hunt is left")
	}
	t.Setenv("SHODAN_API_KEY", "")
	p := &pipeline.Pipeline{Sources: intelSources(t, l, false), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	s := ptRun(t, p, pipeline.Options{Hunts: cfg.EnabledHunts(), API: "graph"})
	if len(s.Errors) > 0 || s.Outcome != pipeline.OutcomeHits {
		t.Fatalf("outcome %s, errors %v", s.Outcome, s.Errors)
	}
	if _, ok := s.Totals.Sources["shodan"]; ok || s.Totals.ShodanCalls != 0 || s.Totals.CreditsUsed != 0 {
		t.Errorf("shodan was used: %+v", s.Totals)
	}
	if n := l.Calls()["shodan"]; n != 0 {
		t.Errorf("%d requests reached the Shodan emulator", n)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// A refused Shodan key fails the Shodan hunts only: the other sources'
// hunts run and sweep, and the run is partial, not failed.
func TestRefusedShodanKeyFailsItsHuntsOnly(t *testing.T) {
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 8, Now: time.Now().UTC()}})
	cfg, _ := loadIntelConfig(t, l, intelConfig)
	srcs := intelSources(t, l, false)
	srcs["shodan"] = shodansource.New(l.shodanClient(t, func(o *shodan.Options) { o.Key = "not-the-lab-key" }))
	p := &pipeline.Pipeline{Sources: srcs, Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	s, err := p.Run(context.Background(), pipeline.Options{Hunts: cfg.EnabledHunts(), API: "graph"})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if s.Outcome != pipeline.OutcomePartial || s.Totals.NewHits == 0 {
		t.Fatalf("outcome %s with %d new hits, want partial with hits", s.Outcome, s.Totals.NewHits)
	}
	for _, h := range s.Hunts {
		if failed := h.Error != ""; failed != (h.Source == "shodan") {
			t.Errorf("%s (%s): error %q", h.Name, h.Source, h.Error)
		}
		if strings.Contains(h.Error, "not-the-lab-key") {
			t.Errorf("%s: the key shows: %s", h.Name, h.Error)
		}
	}
	// Shodan-only, the same refusal is a run that could not run.
	var only []config.Hunt
	for _, h := range cfg.EnabledHunts() {
		if h.Source == "shodan" {
			only = append(only, h)
		}
	}
	s, err = p.Run(context.Background(), pipeline.Options{Hunts: only, API: "graph"})
	if !errors.Is(err, pipeline.ErrCannotRun) || !errors.Is(err, shodan.ErrUnauthorized) || s.Outcome != pipeline.OutcomeFailed {
		t.Errorf("shodan only: %v, outcome %s", err, s.Outcome)
	}
}
