package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/config"
	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/shodanlab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/shodan"
	"c2sweep/internal/store"
)

var (
	dne      = kql.DefaultTarget
	logon    = kql.Target{Table: "DeviceLogonEvents", Column: "RemoteIP"}
	identity = kql.Target{Table: "IdentityLogonEvents", Column: "IPAddress"}
	cloudApp = kql.Target{Table: "CloudAppEvents", Column: "IPAddress"}
)

// e2eWorld is a world in which a default sweep meets every case the
// requirements name: contacts logged as ::ffff:, a contact with a stale
// server some hunt matches, a contact older than the lookback with a fresh
// hunted server, and the injection banner.
func e2eWorld(w *lab.World) bool {
	var mapped, stale, old bool
	for _, c := range w.Contacts {
		hunted := slices.Contains(huntedFrameworks, c.Server.Framework)
		switch {
		case c.Table != dne.Table || !hunted:
		case c.Stale:
			stale = true
		case c.Old:
			old = true
		case strings.HasPrefix(c.Logged, "::ffff:"):
			mapped = true
		}
	}
	injection := false
	for _, b := range w.Banners {
		injection = injection || b.IPStr == lab.InjectionIPStr
	}
	return mapped && stale && old && injection
}

func TestRunEndToEndFindsExactlyTheSeededContacts(t *testing.T) {
	now := time.Now().UTC()
	seed := pickSeed(t, now, e2eWorld)
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}})
	hunts := ptHunts()
	st := ptTempStore(t)
	out := filepath.Join(t.TempDir(), "results")
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", OutDir: out})

	tr := truthAt(t, l.World, hunts, s.Started)
	wanted := tr.allHits()
	if len(wanted) < 3 {
		t.Fatalf("precondition: the world should give several hits, has %d", len(wanted))
	}
	if s.Outcome != pipeline.OutcomeHits {
		t.Fatalf("outcome %s, want hits; %s", s.Outcome, ptDescribe(s))
	}
	checkHits(t, "run", s.NewHits, wanted)

	// The lab's own ground truth agrees: every contact with a fresh server
	// of a hunted framework, in the last 30 days, is a hit with the
	// device, process and port of the planted event; stale servers and
	// old contacts are not.
	got := byKey(t, s.NewHits)
	mapped := 0
	for _, c := range l.World.Contacts {
		k := c.Table + "|" + strconv.FormatInt(c.ReportID, 10)
		h, found := got[k]
		switch {
		case c.Table != dne.Table:
			if found {
				t.Errorf("contact in %s reported by a sweep of %s only", c.Table, dne)
			}
		case c.Stale || c.Old:
			if found {
				t.Errorf("contact %s (stale %v, old %v) reported", k, c.Stale, c.Old)
			}
		case slices.Contains(huntedFrameworks, c.Server.Framework):
			if !found {
				t.Errorf("contact %s with %s server %s not reported", k, c.Server.Framework, c.ServerIP)
				continue
			}
			if h.Device != c.Device || h.DeviceID != c.DeviceID || h.Port != c.Port || h.Process != c.Process ||
				h.Command != c.CommandLine || h.IP != c.ServerIP || !h.Timestamp.Equal(c.Time) {
				t.Errorf("hit %s = %+v\nwant device %s (%s), port %d, process %s %q, ip %s, time %s",
					k, h, c.Device, c.DeviceID, c.Port, c.Process, c.CommandLine, c.ServerIP, c.Time)
			}
			if h.Account == "" || h.Action == "" || h.Table != dne.Table || h.Column != dne.Column {
				t.Errorf("hit %s lacks account, action or target: %+v", k, h)
			}
			if h.Row["RemoteIP"] != c.Logged {
				t.Errorf("hit %s: row RemoteIP %v, want %q as logged", k, h.Row["RemoteIP"], c.Logged)
			}
			if strings.HasPrefix(c.Logged, "::ffff:") {
				mapped++
			}
		}
	}
	if mapped == 0 {
		t.Error("no ::ffff: contact was reported")
	}

	// Counts in the summary.
	if s.Totals.Hits != len(wanted) || s.Totals.NewHits != len(wanted) {
		t.Errorf("totals: %d hits, %d new; want %d", s.Totals.Hits, s.Totals.NewHits, len(wanted))
	}
	if s.Totals.Indicators != len(tr.allIPs()) {
		t.Errorf("totals: %d indicators, want %d", s.Totals.Indicators, len(tr.allIPs()))
	}
	for _, h := range hunts {
		hs := huntSummary(t, s, h.Name)
		n := 0
		for _, w := range wanted {
			if slices.Contains(w.Hunts, h.Name) {
				n++
			}
		}
		if hs.Hits != n || hs.NewHits != n {
			t.Errorf("hunt %s: %d hits, %d new; want %d", h.Name, hs.Hits, hs.NewHits, n)
		}
		if hs.Fresh != len(tr.fresh[h.Name]) {
			t.Errorf("hunt %s: %d fresh indicators, want %d", h.Name, hs.Fresh, len(tr.fresh[h.Name]))
		}
		if hs.Skipped[shodan.SkipInvalidIP] != tr.invalid[h.Name] || hs.Skipped.Total() != tr.invalid[h.Name] {
			t.Errorf("hunt %s: skipped %v, want %d %q", h.Name, hs.Skipped, tr.invalid[h.Name], shodan.SkipInvalidIP)
		}
		if hs.Error != "" {
			t.Errorf("hunt %s: error %s", h.Name, hs.Error)
		}
	}
	if tr.invalid["CobaltStrikeProductName"] != 1 {
		t.Errorf("precondition: CobaltStrikeProductName should match the injection banner once, matches %d", tr.invalid["CobaltStrikeProductName"])
	}

	// One query carries every hunt's indicators, over the full lookback.
	if len(s.Queries) != 1 {
		t.Fatalf("%d queries, want 1 for %d indicators", len(s.Queries), len(tr.allIPs()))
	}
	q := s.Queries[0]
	if q.Column != dne.String() || q.IPs != len(tr.ips(dne)) || q.Error != "" || q.Rows != len(wanted) {
		t.Errorf("query %+v: want %s, %d indicators, %d rows", q, dne, len(tr.ips(dne)), len(wanted))
	}
	if wantStart, wantEnd := s.Started.Add(-ptLookback).Truncate(ptTick), s.Started.Truncate(ptTick); !q.Start.Equal(wantStart) || !q.End.Equal(wantEnd) {
		t.Errorf("window %s .. %s, want %s .. %s", q.Start, q.End, wantStart, wantEnd)
	}

	// Stale servers are no indicators; the state knows exactly the fresh ones.
	recs, err := st.Indicators(context.Background(), store.IndicatorFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []netip.Addr
	for _, r := range recs {
		stored = append(stored, r.IP)
	}
	slices.SortFunc(stored, netip.Addr.Compare)
	if !slices.Equal(stored, tr.allIPs()) {
		t.Errorf("state indicators %v\nwant %v", stored, tr.allIPs())
	}
	staleServers := 0
	for _, srv := range l.World.Servers {
		if srv.Stale {
			staleServers++
			if slices.Contains(stored, srv.IP.Unmap()) {
				t.Errorf("stale %s server %s became an indicator", srv.Framework, srv.IP)
			}
		}
	}
	if staleServers == 0 {
		t.Error("precondition: the world has no stale server")
	}

	t.Run("files", func(t *testing.T) { checkRunFiles(t, out, s, tr, wanted) })

	t.Run("dry run shows safe queries", func(t *testing.T) {
		before := l.Calls()["graph"]
		dry := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Store: st}
		ds := ptRun(t, dry, pipeline.Options{Hunts: hunts, API: "graph", DryRun: true})
		if n := l.Calls()["graph"] - before; n != 0 {
			t.Errorf("dry run made %d hunting calls", n)
		}
		if len(ds.Queries) == 0 {
			t.Fatal("dry run planned no query")
		}
		var text bytes.Buffer
		ds.WriteText(&text, true)
		printed := text.String()
		for _, q := range ds.Queries {
			if q.Text == "" {
				t.Fatalf("dry-run query without text: %+v", q)
			}
			if !strings.Contains(printed, q.Text) {
				t.Errorf("dry run does not print query text:\n%s", q.Text)
			}
			for _, bad := range []string{lab.InjectionIPStr, ptInjectionMarker, "union", `"1.2.3.4"`} {
				if strings.Contains(q.Text, bad) {
					t.Errorf("query text contains %q:\n%s", bad, q.Text)
				}
			}
		}
		all := ""
		for _, q := range ds.Queries {
			all += q.Text
		}
		for _, ip := range tr.ips(dne) {
			if !strings.Contains(all, strconv.Quote(ip.String())) {
				t.Errorf("indicator %s missing from the queries", ip)
			}
			if ip.Is4() && !strings.Contains(all, strconv.Quote("::ffff:"+ip.String())) {
				t.Errorf("indicator %s: its ::ffff: form is missing from the queries", ip)
			}
		}
		if !strings.Contains(printed, "skipped from CobaltStrikeProductName: 1 "+shodan.SkipInvalidIP) {
			t.Errorf("the skipped injection banner is not reported:\n%s", printed)
		}
		if strings.Contains(printed, lab.InjectionIPStr) {
			t.Errorf("the summary prints the injection text:\n%s", printed)
		}
	})
}

// checkRunFiles checks the result directory of a run: summary.json and
// one <hunt>.json per hunt with its hits, their schema and the Shodan
// context of each IP.
func checkRunFiles(t *testing.T, dir string, s *pipeline.Summary, tr *truth, wanted map[string]wantHit) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	wantNames := []string{"summary.json", "hits.json", "report.html"}
	for _, h := range tr.hunts {
		wantNames = append(wantNames, h.Name+".json")
	}
	slices.Sort(names)
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("result files %v, want %v", names, wantNames)
	}

	var sum struct {
		Outcome string `json:"outcome"`
		API     string `json:"api"`
		Hunts   []struct {
			Name    string         `json:"name"`
			Skipped map[string]int `json:"skipped"`
			Hits    int            `json:"hits"`
			Fresh   int            `json:"fresh_indicators"`
		} `json:"hunts"`
		Totals struct {
			Hits    int `json:"hits"`
			NewHits int `json:"new_hits"`
		} `json:"totals"`
	}
	ptReadJSON(t, filepath.Join(dir, "summary.json"), &sum)
	if sum.Outcome != string(s.Outcome) || sum.API != "graph" || sum.Totals.Hits != len(wanted) || sum.Totals.NewHits != len(wanted) {
		t.Errorf("summary.json: outcome %s, api %s, %d hits, %d new; want %s, graph, %d", sum.Outcome, sum.API,
			sum.Totals.Hits, sum.Totals.NewHits, s.Outcome, len(wanted))
	}
	if len(sum.Hunts) != len(tr.hunts) {
		t.Errorf("summary.json has %d hunts, want %d", len(sum.Hunts), len(tr.hunts))
	}
	for _, h := range sum.Hunts {
		if h.Fresh != len(tr.fresh[h.Name]) || h.Skipped[shodan.SkipInvalidIP] != tr.invalid[h.Name] {
			t.Errorf("summary.json hunt %s: fresh %d, skipped %v; want %d, %d", h.Name, h.Fresh, h.Skipped, len(tr.fresh[h.Name]), tr.invalid[h.Name])
		}
	}

	for _, h := range tr.hunts {
		var f struct {
			Hunt     string `json:"hunt"`
			HitCount int    `json:"hit_count"`
			Hits     []struct {
				indicator.Hit
				Server *indicator.Indicator `json:"server"`
			} `json:"hits"`
			Schemas map[string][]hunting.Column `json:"schemas"`
		}
		ptReadJSON(t, filepath.Join(dir, h.Name+".json"), &f)
		own := map[string]wantHit{}
		for k, w := range wanted {
			if slices.Contains(w.Hunts, h.Name) {
				own[k] = w
			}
		}
		if f.Hunt != h.Name || f.HitCount != len(own) || len(f.Hits) != len(own) {
			t.Errorf("%s.json: hunt %q, hit_count %d, %d hits; want %d", h.Name, f.Hunt, f.HitCount, len(f.Hits), len(own))
		}
		var hits []indicator.Hit
		for _, sh := range f.Hits {
			hits = append(hits, sh.Hit)
			if sh.Server == nil || sh.Server.IP != sh.IP {
				t.Errorf("%s.json: hit on %s without its server context: %+v", h.Name, sh.IP, sh.Server)
				continue
			}
			// The context holds this hunt's sighting, with Shodan's facts
			// about the server.
			ok := false
			for _, sg := range sh.Server.Sightings {
				if sg.Hunt == h.Name && sg.Source == "shodan" && sg.Port > 0 && sg.Org != "" && sg.ASN != "" && !sg.LastSeen.IsZero() {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s.json: server %s has no complete %s sighting: %+v", h.Name, sh.IP, h.Name, sh.Server.Sightings)
			}
			if sh.Row == nil || sh.Row["DeviceName"] != sh.Device {
				t.Errorf("%s.json: hit on %s lacks its row: %v", h.Name, sh.IP, sh.Row)
			}
		}
		checkHits(t, h.Name+".json", hits, own)
		cols := f.Schemas[dne.String()]
		if len(own) > 0 && !slices.ContainsFunc(cols, func(c hunting.Column) bool { return c.Name == "RemoteIP" }) {
			t.Errorf("%s.json: schema of %s lacks RemoteIP: %v", h.Name, dne, cols)
		}
	}
}

func ptReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Shodan's after: filter works in whole days: a banner from earlier on
// the cut-off day comes back and must be dropped locally. With a max age
// that cuts just after a server's last sighting, that server is stale.
func TestRunDropsServersSeenBeforeTheMaxAge(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1, Now: now}})
	hunts := ptHunts()
	// The newest sighting, per IP, of the hunts' servers.
	newest := map[netip.Addr]time.Time{}
	for _, h := range hunts {
		bs, err := l.World.Search(h.Query)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if ip, err := netip.ParseAddr(b.IPStr); err == nil && b.Timestamp.After(newest[ip]) {
				newest[ip] = b.Timestamp
			}
		}
	}
	// A server last seen over a day ago, with the cut-off a minute later on
	// the same day (UTC) and no other server seen in between.
	var victim netip.Addr
	var seen time.Time
	for ip, ts := range newest {
		cut := ts.Add(time.Minute)
		if now.Sub(ts) < 26*time.Hour || cut.YearDay() != ts.YearDay() {
			continue
		}
		alone := true
		for other, ots := range newest {
			alone = alone && (other == ip || ots.Before(ts) || ots.After(cut.Add(time.Minute)))
		}
		if alone {
			victim, seen = ip, ts
			break
		}
	}
	if !victim.IsValid() {
		t.Fatal("precondition: no server to cut off")
	}
	maxAge := now.Sub(seen) - time.Minute
	for i := range hunts {
		hunts[i].MaxAge = config.Duration(maxAge)
	}
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph"})
	tr := truthAt(t, l.World, hunts, s.Started)
	if slices.Contains(tr.allIPs(), victim) {
		t.Fatalf("precondition: %s should be stale at %s", victim, s.Started)
	}
	checkHits(t, "run", s.NewHits, tr.allHits())
	if s.Totals.Indicators != len(tr.allIPs()) || s.Totals.Stale == 0 {
		t.Errorf("%d indicators, %d stale banners; want %d indicators without %s (last seen %s, max age %s)",
			s.Totals.Indicators, s.Totals.Stale, len(tr.allIPs()), victim, seen, maxAge)
	}
	for _, h := range hunts {
		hs := huntSummary(t, s, h.Name)
		if hs.Fresh != len(tr.fresh[h.Name]) {
			t.Errorf("hunt %s: %d fresh, want %d", h.Name, hs.Fresh, len(tr.fresh[h.Name]))
		}
		// Shodan is asked to drop older days, never a day with fresh banners.
		_, day, ok := strings.Cut(hs.SentQuery, " after:")
		after, err := time.Parse("02/01/2006", day)
		if since := s.Started.Add(-maxAge); !ok || err != nil || after.After(since) || since.Sub(after) > 3*24*time.Hour {
			t.Errorf("hunt %s: sent %q, want after: the day of %s or a little before", h.Name, hs.SentQuery, since)
		}

	}
}

// Graph and the legacy MDE API return the same telemetry in different
// envelopes: the hits must be the same.
func TestRunGraphAndMDEFindTheSameHits(t *testing.T) {
	now := time.Now().UTC()
	seed := pickSeed(t, now, e2eWorld)
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}})
	hunts := ptHunts()
	sc := l.shodanClient(t, nil)
	var runs [2]*pipeline.Summary
	for i, api := range []string{"graph", "mde"} {
		before := l.Calls()[api]
		p := &pipeline.Pipeline{Sources: viaShodan(sc), Hunter: l.hunter(t, api, nil), Store: ptTempStore(t)}
		runs[i] = ptRun(t, p, pipeline.Options{Hunts: hunts, API: api})
		if n := l.Calls()[api] - before; n != len(runs[i].Queries) {
			t.Errorf("%s: %d calls to the %s API for %d queries", api, n, api, len(runs[i].Queries))
		}
		if runs[i].Outcome != pipeline.OutcomeHits {
			t.Fatalf("%s: %s", api, ptDescribe(runs[i]))
		}
		checkHits(t, api, runs[i].NewHits, truthAt(t, l.World, hunts, runs[i].Started).allHits())
	}
	g, m := byKey(t, runs[0].NewHits), byKey(t, runs[1].NewHits)
	if len(g) != len(m) {
		t.Errorf("graph found %d hits, mde %d", len(g), len(m))
	}
	for k, gh := range g {
		mh, ok := m[k]
		if !ok {
			t.Errorf("hit %s found by graph only", k)
			continue
		}
		gh.Row, mh.Row = nil, nil
		if fmt.Sprint(gh) != fmt.Sprint(mh) {
			t.Errorf("hit %s differs:\ngraph %+v\nmde   %+v", k, gh, mh)
		}
	}
}

// Hunts may sweep other tables than DeviceNetworkEvents. Each target gets
// its own query, shared by the hunts that sweep it, and a hit is
// attributed only to hunts that sweep its table.
func TestRunSweepsEachHuntsTargets(t *testing.T) {
	now := time.Now().UTC()
	hunts := ptHunts()
	// logonContact is a planted logon contact, recent enough for the
	// lookback, with a fresh server that several hunts name; only the
	// first of them will sweep DeviceLogonEvents, so the hit must be
	// attributed to it alone.
	logonContact := func(w *lab.World) (lab.Contact, []string) {
		tr := truthAt(t, w, hunts, now)
		for _, c := range w.Contacts {
			if c.Table == logon.Table && !c.Old {
				if names := tr.huntsOf(c.ServerIP, dne); len(names) >= 2 {
					return c, names
				}
			}
		}
		return lab.Contact{}, nil
	}
	seed := pickSeed(t, now, func(w *lab.World) bool {
		id := false
		for _, c := range w.Contacts {
			id = id || c.Table == identity.Table && !c.Stale && !c.Old && slices.Contains(huntedFrameworks, c.Server.Framework)
		}
		_, names := logonContact(w)
		return id && names != nil
	})
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}})
	_, names := logonContact(l.World)
	logonHunts := names[:1]
	for i := range hunts {
		hunts[i].Sweep = []kql.Target{dne, identity}
		if slices.Contains(logonHunts, hunts[i].Name) {
			hunts[i].Sweep = append(hunts[i].Sweep, logon)
		}
	}

	st := ptTempStore(t)
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st}
	before := l.Calls()["graph"]
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph"})
	tr := truthAt(t, l.World, hunts, s.Started)
	wanted := tr.allHits()
	checkHits(t, "run", s.NewHits, wanted)

	// The planted contacts of both tables are among them.
	found := map[string]int{}
	for _, w := range wanted {
		found[w.E.Table]++
	}
	for _, tg := range []kql.Target{dne, logon, identity} {
		if found[tg.Table] == 0 {
			t.Errorf("no hit in %s", tg.Table)
		}
		qs := queriesFor(s, tg)
		if len(qs) != 1 {
			t.Errorf("%d queries of %s, want one shared by its hunts", len(qs), tg)
			continue
		}
		if qs[0].IPs != len(tr.ips(tg)) || qs[0].Error != "" {
			t.Errorf("query of %s: %d indicators (error %q), want %d", tg, qs[0].IPs, qs[0].Error, len(tr.ips(tg)))
		}
	}
	if len(s.Queries) != 3 || l.Calls()["graph"]-before != 3 {
		t.Errorf("%d queries, %d calls; want 3 (one per target, not one per hunt)", len(s.Queries), l.Calls()["graph"]-before)
	}
	if len(tr.ips(logon)) >= len(tr.ips(dne)) {
		t.Errorf("precondition: the logon sweep should cover fewer indicators (%d) than the network one (%d)", len(tr.ips(logon)), len(tr.ips(dne)))
	}
	for _, h := range s.NewHits {
		if h.Table == logon.Table {
			if !slices.Equal(h.Hunts, logonHunts) {
				t.Errorf("logon hit attributed to %v, want %v (of %v that name %s): only they sweep %s", h.Hunts, logonHunts, names, h.IP, logon)
			}
			if h.Port == 0 || h.Device == "" || h.Account == "" {
				t.Errorf("logon hit lacks port, device or account: %+v", h)
			}
		}
	}
}

// A hunt whose Shodan query is invalid fails alone; a hunt that finds
// nothing sends no query; the rest finish and are swept.
func TestRunIsolatesAFailingHunt(t *testing.T) {
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1, Now: now}})
	base := ptHunts()
	broken := config.Hunt{Name: "Broken", Query: `product:"Cobalt Strike`, MaxAge: config.Duration(7 * 24 * time.Hour), Enabled: true, Sweep: []kql.Target{dne}}
	empty := config.Hunt{Name: "Empty", Query: `product:"No Such C2 Framework"`, MaxAge: config.Duration(7 * 24 * time.Hour), Enabled: true, Sweep: []kql.Target{cloudApp}}
	hunts := append([]config.Hunt{broken}, base...)
	hunts = append(hunts, empty)

	// The invalid query is retried once (it may be a timeout): keep it short.
	sc := l.shodanClient(t, func(o *shodan.Options) { o.Backoff = time.Millisecond })
	p := &pipeline.Pipeline{Sources: viaShodan(sc), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	before := l.Calls()["graph"]
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph"})
	if s.Outcome != pipeline.OutcomePartial {
		t.Errorf("outcome %s, want partial; %s", s.Outcome, ptDescribe(s))
	}
	bs := huntSummary(t, s, "Broken")
	if bs.Error == "" || bs.Fresh != 0 || !strings.Contains(strings.Join(s.Errors, "\n"), "Broken") {
		t.Errorf("broken hunt: error %q, fresh %d; run errors %v", bs.Error, bs.Fresh, s.Errors)
	}
	es := huntSummary(t, s, "Empty")
	if es.Error != "" || es.Fresh != 0 || es.Total != 0 {
		t.Errorf("empty hunt: %+v", es)
	}
	if qs := queriesFor(s, cloudApp); len(qs) != 0 {
		t.Errorf("the empty hunt sent %d queries", len(qs))
	}
	// The hunts after the broken one ran and were swept as if it were not there.
	tr := truthAt(t, l.World, base, s.Started)
	checkHits(t, "run", s.NewHits, tr.allHits())
	for _, h := range base {
		if hs := huntSummary(t, s, h.Name); hs.Error != "" || hs.Fresh != len(tr.fresh[h.Name]) {
			t.Errorf("hunt %s: error %q, %d fresh; want none, %d", h.Name, hs.Error, hs.Fresh, len(tr.fresh[h.Name]))
		}
	}
	if n := l.Calls()["graph"] - before; n != 1 || len(s.Queries) != 1 {
		t.Errorf("%d hunting calls, %d queries; want 1", n, len(s.Queries))
	}

	t.Run("only an empty hunt", func(t *testing.T) {
		before := l.Calls()["graph"]
		st := ptTempStore(t)
		p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st}
		s := ptRun(t, p, pipeline.Options{Hunts: []config.Hunt{empty}, API: "graph"})
		if s.Outcome != pipeline.OutcomeNoHits || len(s.Queries) != 0 || s.Totals.HuntingCalls != 0 {
			t.Errorf("%s, %d queries", ptDescribe(s), len(s.Queries))
		}
		if n := l.Calls()["graph"] - before; n != 0 {
			t.Errorf("%d hunting calls for a hunt without indicators", n)
		}
	})
}

// Shodan's 5xx and 429 answers are retried; the sweep ends as if they
// never happened.
func TestRunRecoversFromShodanFaults(t *testing.T) {
	now := time.Now().UTC()
	hunts := ptHunts()
	for _, tc := range []struct {
		name   string
		faults lab.Faults
		rate   time.Duration // the lab's Shodan limit
		mod    func(*shodan.Options)
		check  func(t *testing.T, st shodan.Stats)
	}{
		{
			name:   "5xx",
			faults: lab.Faults{Rate5xx: 0.4, Only: "shodan"},
			mod: func(o *shodan.Options) {
				o.Backoff, o.MaxBackoff, o.MaxRetries = time.Millisecond, 5*time.Millisecond, 12
			},
			check: func(t *testing.T, st shodan.Stats) {
				if st.Retries == 0 {
					t.Error("no retry: the faults did not bite")
				}
			},
		},
		{
			// A client paced faster than the lab's limit is refused with
			// Shodan's 429; its retries wait (Sleep shortened from the
			// second a 429 costs) and get through.
			name: "429",
			rate: 40 * time.Millisecond,
			mod: func(o *shodan.Options) {
				o.Interval, o.MaxRetries = time.Millisecond, 12
				o.Clock = shortSleep{clock.Real}
			},
			check: func(t *testing.T, st shodan.Stats) {
				if st.RateLimited == 0 {
					t.Error("no 429: the test did not provoke the limit")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1, Now: now}, Faults: tc.faults, ShodanRate: tc.rate})
			sc := l.shodanClient(t, tc.mod)
			p := &pipeline.Pipeline{Sources: viaShodan(sc), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
			s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph"})
			if len(s.Errors) > 0 {
				t.Errorf("errors: %v", s.Errors)
			}
			tr := truthAt(t, l.World, hunts, s.Started)
			checkHits(t, "run", s.NewHits, tr.allHits())
			if s.Totals.Indicators != len(tr.allIPs()) {
				t.Errorf("%d indicators, want %d", s.Totals.Indicators, len(tr.allIPs()))
			}
			tc.check(t, sc.Stats())
		})
	}
}

// A query the service refuses as too large is split and retried until its
// parts pass: every hit is still found.
func TestRunSplitsQueriesRefusedAsTooLarge(t *testing.T) {
	now := time.Now().UTC()
	hunts := ptHunts()
	// The size of a query for 3 of the largest indicators: bigger queries
	// are refused.
	tr0 := truthAt(t, lab.NewWorld(lab.WorldConfig{Seed: 1, Now: now}), hunts, now)
	ips := tr0.ips(dne)
	if len(ips) < 12 {
		t.Fatalf("precondition: %d indicators is too few to split", len(ips))
	}
	// A query's text is a fixed part plus the IP literals, ", "-separated.
	base, maxLit := 0, 0
	for _, ip := range ips {
		qs, err := kql.Build(dne, []kql.Group{{IPs: []netip.Addr{ip}, Start: now.Add(-ptLookback), End: now}}, kql.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		text := qs[0].Text
		lo, hi := strings.Index(text, " in (")+len(" in ("), strings.Index(text, ")\n| project")
		if lo < len(" in (") || hi < lo {
			t.Fatalf("unexpected query shape:\n%s", text)
		}
		base, maxLit = len(text)-(hi-lo), max(maxLit, hi-lo)
	}
	const perQuery = 8
	limit := base + 3*maxLit + 2*len(", ") // any 3 indicators fit
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1, Now: now}, Faults: lab.Faults{TooLarge: limit}})

	before := l.Calls()["graph"]
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	s := ptRun(t, p, pipeline.Options{Hunts: hunts, API: "graph", Limits: kql.Limits{MaxIPs: perQuery}})
	if len(s.Errors) > 0 || s.Totals.QueriesFailed > 0 {
		t.Fatalf("%s", ptDescribe(s))
	}
	tr := truthAt(t, l.World, hunts, s.Started)
	checkHits(t, "run", s.NewHits, tr.allHits())
	calls := l.Calls()["graph"] - before
	sum := 0
	for _, q := range s.Queries {
		sum += q.IPs
		if q.Bytes > limit {
			t.Errorf("a %d-byte query passed a %d-byte limit", q.Bytes, limit)
		}
	}
	if sum != len(tr.ips(dne)) {
		t.Errorf("the queries cover %d indicators, want %d", sum, len(tr.ips(dne)))
	}
	initial := (len(tr.ips(dne)) + perQuery - 1) / perQuery
	halves := 0
	for _, q := range s.Queries {
		if q.Split {
			halves++
		}
	}
	if halves < 2 {
		t.Errorf("%d queries marked as halves of a refused one, want at least 2", halves)
	}
	if len(s.Queries) <= initial || calls <= len(s.Queries) {
		t.Errorf("%d queries in %d calls: want more than the %d unsplit ones, and refused calls", len(s.Queries), calls, initial)
	}
	t.Logf("%d indicators: %d queries after splitting, %d calls (limit %d bytes)", sum, len(s.Queries), calls, limit)
}

// A run that cannot afford all its hunts' pages spends what the account
// has on the plan and names the rest; nothing is refused.
func TestRunPlansWhenCreditsAreShort(t *testing.T) {
	hunts := ptHunts()
	credits := len(hunts) - 2
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1}, ShodanCredits: credits})
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	s, err := p.Run(context.Background(), pipeline.Options{Hunts: hunts, API: "graph"})
	if err != nil {
		t.Fatal(err)
	}
	if got := shodanlab.Credits(l.Lab); got != 0 {
		t.Errorf("the lab has %d credits left of %d: the plan did not spend them", got, credits)
	}
	if s.Plan == nil || s.Plan.Credits != credits || len(s.Plan.Unplanned) == 0 {
		t.Errorf("plan %+v: want %d credits planned and pages left out", s.Plan, credits)
	}
}
