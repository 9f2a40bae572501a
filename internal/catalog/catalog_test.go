package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"c2sweep/internal/catalog"
	"c2sweep/internal/lab"
)

func TestBuiltinCatalogSize(t *testing.T) {
	c := catalog.Builtin()
	if n := len(c.Hunts); n < 100 {
		t.Errorf("catalog has %d hunts, want at least 100", n)
	}
	if n := len(c.Families()); n < 60 {
		t.Errorf("catalog covers %d families, want at least 60", n)
	}
	kinds := map[catalog.Kind]int{}
	for _, h := range c.Hunts {
		kinds[h.Kind]++
	}
	for _, k := range catalog.Kinds {
		if kinds[k] == 0 {
			t.Errorf("no hunt of kind %s", k)
		}
	}
}

func TestBuiltinCatalogEntries(t *testing.T) {
	c := catalog.Builtin()
	names := map[string]bool{}
	for _, h := range c.Hunts {
		if names[strings.ToLower(h.Name)] {
			t.Errorf("hunt name %s used twice", h.Name)
		}
		names[strings.ToLower(h.Name)] = true
		if h.Source.Title == "" || h.Source.Date.IsZero() || h.Note == "" {
			t.Errorf("%s: no provenance (%q) or note", h.Name, h.Provenance())
		}
		// Every query must run on the lab's Shodan: an unknown filter or a
		// quoting mistake fails here, not in a hunter's first run.
		if _, err := lab.ParseShodanQuery(h.Query); err != nil {
			t.Errorf("%s: query %q: %v", h.Name, h.Query, err)
		}
		if strings.Contains(h.Query, "'") {
			t.Errorf("%s: single quotes in %q; Shodan documents double quotes", h.Name, h.Query)
		}
	}
}

// The five hunts of the blog post keep their names and queries (configs name
// them) and say what is known about them.
func TestBlogPostHuntsStay(t *testing.T) {
	c := catalog.Builtin()
	want := map[string]string{
		"CobaltStrikeJARM":        "ssl.jarm:07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2",
		"CobaltStrikeProductName": `product:"Cobalt Strike Beacon"`,
		"PoshC2":                  `ssl:"P18055077"`,
		"EmpireC2":                `product:"Empire C2"`,
		"DeimosC2":                "http.html_hash:-14029177",
	}
	for name, q := range want {
		h, ok := c.Lookup(name)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if h.Query != q {
			t.Errorf("%s: query %q, want %q", name, h.Query, q)
		}
	}
	jarm, _ := c.Lookup("CobaltStrikeJARM")
	if jarm.Fidelity != catalog.Low || jarm.Retired.IsZero() || !strings.Contains(jarm.Note, "false positives") {
		t.Errorf("the JARM hunt must say it is retired for false positives: %+v", jarm)
	}
	for _, n := range []string{"PoshC2", "EmpireC2", "DeimosC2"} {
		if h, _ := c.Lookup(n); !strings.Contains(h.Note, "silence") {
			t.Errorf("%s: note %q does not warn of silence", n, h.Note)
		}
	}
}

// The catalog's queries find the lab's world: every catalog server of the
// lab is found by a catalog query of its own family, some sit behind CDNs,
// and some families stay silent.
func TestCatalogFindsLabWorld(t *testing.T) {
	w := lab.NewWorld(lab.WorldConfig{Seed: 1})
	c := catalog.Builtin()
	found := map[*lab.Server]bool{}
	families := map[string]bool{}
	for _, h := range c.Hunts {
		bs, err := w.Search(h.Query)
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		for _, b := range bs {
			if b.Server != nil && strings.EqualFold(b.Server.Framework, h.Family) {
				found[b.Server] = true
				families[h.Family] = true
			}
		}
	}
	cdn := 0
	for _, s := range w.CatalogServers {
		if !found[s] {
			t.Errorf("no catalog query of %s finds the lab's %s server %s", s.Framework, s.Framework, s.IP)
		}
		if s.CDN != "" {
			cdn++
		}
	}
	if len(families) < 50 || cdn < 3 || len(families) == len(c.Families()) {
		t.Errorf("catalog queries find %d of %d families (want >= 50 and some silent), %d servers behind CDNs (want >= 3)", len(families), len(c.Families()), cdn)
	}
}

func TestLoadStrict(t *testing.T) {
	const src = "sources:\n  - {id: s, title: T, date: 2026-03-16}\nhunts:\n"
	ok := src + "  - {name: A, family: F, kind: c2, query: \"product:A\", fidelity: high, note: n, source: s}\n"
	if _, err := catalog.Load(strings.NewReader(ok)); err != nil {
		t.Fatalf("valid catalog: %v", err)
	}
	bad := map[string]string{
		"unknown key":     src + "  - {name: A, family: F, kind: c2, query: q, fidelity: high, note: n, source: s, colour: red}\n",
		"unknown kind":    src + "  - {name: A, family: F, kind: worm, query: q, fidelity: high, note: n, source: s}\n",
		"bad fidelity":    src + "  - {name: A, family: F, kind: c2, query: q, fidelity: great, note: n, source: s}\n",
		"unknown source":  src + "  - {name: A, family: F, kind: c2, query: q, fidelity: high, note: n, source: x}\n",
		"no provenance":   src + "  - {name: A, family: F, kind: c2, query: q, fidelity: high, note: n}\n",
		"duplicate name":  src + "  - {name: A, family: F, kind: c2, query: q, fidelity: high, note: n, source: s}\n  - {name: a, family: F, kind: c2, query: q, fidelity: high, note: n, source: s}\n",
		"undated source":  "sources:\n  - {id: s, title: T}\nhunts: []\n",
		"empty":           "",
		"second document": ok + "---\nhunts: []\n",
	}
	for name, in := range bad {
		if _, err := catalog.Load(strings.NewReader(in)); !errors.Is(err, catalog.ErrCatalog) {
			t.Errorf("%s: err %v, want ErrCatalog", name, err)
		}
	}
}

func names(hs []catalog.Hunt) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

func TestSelect(t *testing.T) {
	c := catalog.Builtin()
	hs, err := c.Select([]string{"sliver"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(hs), ","); got != "SliverMultiplayer,SliverHTTP404,SliverProduct,SliverClientHTML" {
		t.Errorf("family sliver: %s", got)
	}
	hs, err = c.Select([]string{"C2", "remcos"}, []string{"cobalt strike", "sliverhttp404", "TOOLING"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, h := range hs {
		got[h.Name] = true
		if h.Kind != catalog.KindC2 && h.Family != "Remcos" || h.Family == "Cobalt Strike" {
			t.Errorf("selected %s (%s, %s)", h.Name, h.Kind, h.Family)
		}
	}
	if !got["RemcosProduct"] || !got["HavocHeader"] || got["SliverHTTP404"] || !got["SliverProduct"] {
		t.Errorf("selection: %v", names(hs))
	}
	if hs, _ := c.Select(nil, nil); len(hs) != 0 {
		t.Errorf("no include words selected %d hunts", len(hs))
	}
	if hs, _ := c.Select([]string{"all"}, []string{"stealer"}); len(hs) == 0 || len(hs) >= len(c.Hunts) {
		t.Errorf("all minus stealers: %d of %d", len(hs), len(c.Hunts))
	}
}

func TestSelectUnknownWord(t *testing.T) {
	c := catalog.Builtin()
	for word, nearest := range map[string]string{"Slivr": "Sliver", "stealers": "stealer", "HavocHedaer": "HavocHeader", "zzzzzzzzzzzz": ""} {
		_, err := c.Select([]string{"c2"}, []string{word})
		var se *catalog.SelectorError
		if !errors.As(err, &se) || !errors.Is(err, catalog.ErrUnknownSelector) {
			t.Fatalf("%s: err %v, want a SelectorError", word, err)
		}
		if se.Nearest != nearest {
			t.Errorf("%s: did you mean %q, want %q", word, se.Nearest, nearest)
		}
	}
}

func TestWhere(t *testing.T) {
	c := catalog.Builtin()
	hs, err := c.Where("cobalt STRIKE", "C2")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 6 || hs[0].Name != "CobaltStrikeJARM" {
		t.Errorf("Cobalt Strike c2 hunts: %v", names(hs))
	}
	if hs, _ := c.Where("Sliver", "rat"); len(hs) != 0 {
		t.Errorf("Sliver RATs: %v", names(hs))
	}
	if hs, _ := c.Where("", "stealer"); len(hs) < 15 {
		t.Errorf("%d stealer hunts", len(hs))
	}
	var se *catalog.SelectorError
	if _, err := c.Where("Slivr", ""); !errors.As(err, &se) || se.Nearest != "Sliver" {
		t.Errorf("family Slivr: %v", err)
	}
	if _, err := c.Where("", "rats"); !errors.As(err, &se) || se.Nearest != "rat" {
		t.Errorf("kind rats: %v", err)
	}
}
