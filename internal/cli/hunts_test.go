package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"c2sweep/internal/catalog"
	"c2sweep/internal/cli"
)

type catalogRow struct {
	Name, Family, Kind, Fidelity, Query, Note, Source string
	SourceDate                                        string `json:"source_date"`
	Selected                                          bool
}

func huntsJSON(t *testing.T, args ...string) []catalogRow {
	t.Helper()
	r := mustCode(t, 0, append(args, "--json")...)
	var rows []catalogRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, r.stdout)
	}
	return rows
}

func TestHuntsListsTheCatalog(t *testing.T) {
	isolate(t)
	cat := catalog.Builtin()
	rows := huntsJSON(t, "hunts")
	if len(rows) != len(cat.Hunts) {
		t.Fatalf("hunts lists %d hunts, the catalog has %d", len(rows), len(cat.Hunts))
	}
	blog := map[string]bool{"CobaltStrikeJARM": true, "CobaltStrikeProductName": true, "PoshC2": true, "EmpireC2": true, "DeimosC2": true}
	for i, r := range rows {
		h := cat.Hunts[i]
		if r.Name != h.Name || r.Family != h.Family || r.Kind != string(h.Kind) || r.Fidelity != string(h.Fidelity) ||
			r.Query != h.Query || r.Note != h.Note || r.Source != h.Provenance() || r.SourceDate == "" {
			t.Errorf("row %d: %+v, catalog %+v", i, r, h)
		}
		// The default config runs the blog post's five hunts.
		if r.Selected != blog[r.Name] {
			t.Errorf("%s: selected %v with the default config", r.Name, r.Selected)
		}
	}

	// The table: one line a hunt, the source by id and date, the selection.
	r := mustCode(t, 0, "hunts")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1+len(cat.Hunts) || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "SELECTED") {
		t.Fatalf("table:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[1]); f[0] != "CobaltStrikeJARM" || !strings.Contains(lines[1], " low ") ||
		!strings.Contains(lines[1], " yes ") || !strings.Contains(lines[1], "blog-post 2022-01-01") || !strings.Contains(lines[1], "false positives") {
		t.Errorf("CobaltStrikeJARM line: %q", lines[1])
	}
	// CSV has the query and the whole provenance.
	r = mustCode(t, 0, "hunts", "--format", "csv", "--name", "CobaltStrikeJARM")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 2 || strings.Join(recs[0], ",") != "name,family,kind,fidelity,selected,source,note,query" ||
		recs[1][7] != cat.Hunts[0].Query || recs[1][5] != cat.Hunts[0].Provenance() {
		t.Errorf("csv: %v\n%s", err, r.stdout)
	}
}

func TestHuntsFilters(t *testing.T) {
	isolate(t)
	cat := catalog.Builtin()
	for _, tc := range []struct {
		args []string
		keep func(catalog.Hunt) bool
	}{
		{[]string{"--family", "Sliver"}, func(h catalog.Hunt) bool { return h.Family == "Sliver" }},
		{[]string{"--family", "sliver", "--kind", "C2"}, func(h catalog.Hunt) bool { return h.Family == "Sliver" && h.Kind == catalog.KindC2 }},
		{[]string{"--kind", "stealer"}, func(h catalog.Hunt) bool { return h.Kind == catalog.KindStealer }},
		{[]string{"--name", "jarm"}, func(h catalog.Hunt) bool { return strings.Contains(strings.ToLower(h.Name), "jarm") }},
		{[]string{"--kind", "rat", "--name", "asyncrat"}, func(h catalog.Hunt) bool {
			return h.Kind == catalog.KindRAT && strings.Contains(strings.ToLower(h.Name), "asyncrat")
		}},
	} {
		var want []string
		for _, h := range cat.Hunts {
			if tc.keep(h) {
				want = append(want, h.Name)
			}
		}
		var got []string
		for _, r := range huntsJSON(t, append([]string{"hunts"}, tc.args...)...) {
			got = append(got, r.Name)
		}
		if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("hunts %v: %v, want %v", tc.args, got, want)
		}
	}
	// Nothing matches: [] and a word on stderr under an empty table.
	if r := mustCode(t, 0, "hunts", "--family", "Sliver", "--name", "nothing-like-it", "--json"); r.stdout != "[]\n" {
		t.Errorf("no match --json: %q", r.stdout)
	}
	if r := mustCode(t, 0, "hunts", "--family", "Sliver", "--name", "nothing-like-it"); !strings.Contains(r.stderr, "no catalog hunt matches") {
		t.Errorf("no match:\n%s", r)
	}
	// Unknown words: exit 3 with the nearest one.
	r := mustCode(t, cli.ExitCannotRun, "hunts", "--family", "Slivr")
	if !strings.Contains(r.stderr, `"Slivr"`) || !strings.Contains(r.stderr, `"Sliver"`) || !strings.Contains(r.stderr, "hint: ") {
		t.Errorf("unknown family:\n%s", r)
	}
	mustCode(t, cli.ExitCannotRun, "hunts", "--kind", "worm")
	mustCode(t, cli.ExitCannotRun, "hunts", "--config-only", "--family", "Sliver")
}

func TestHuntsSelectedFollowsTheConfig(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("hunts:\n  - name: PoshC2\n    enabled: false\n  - name: MyHunt\n    query: 'product:\"x\"'\n"), 0o600)
	r := mustCode(t, 0, "--config", path, "hunts", "--json")
	var rows []catalogRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	for _, h := range rows {
		if h.Name == "PoshC2" && h.Selected || h.Name == "DeimosC2" && !h.Selected {
			t.Errorf("%s selected %v with PoshC2 disabled", h.Name, h.Selected)
		}
	}
	// The config's own hunt is not in the catalog: said on stderr.
	r = mustCode(t, 0, "--config", path, "hunts", "--name", "Deimos")
	if !strings.Contains(r.stderr, "--config-only") || !strings.Contains(r.stderr, "(MyHunt)") {
		t.Errorf("own hunt note:\n%q", r.stderr)
	}
}
