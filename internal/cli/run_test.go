package cli_test

// `run` in-process against the shared lab, and the state commands against
// what the runs left. These pay Shodan's real 1 request/second (the CLI
// uses the default interval), so each run names the hunts it needs.

import (
	"c2sweep/internal/lab/shodanlab"
	"encoding/csv"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
)

// runEnv prepares an isolated in-process environment pointed at the shared
// lab and returns it with a state file and a results root.
func runEnv(t *testing.T) (state, out string) {
	t.Helper()
	isolate(t)
	labEnv(t, shared(t))
	dir := t.TempDir()
	return filepath.Join(dir, "state.db"), filepath.Join(dir, "results")
}

func TestRunLifecycle(t *testing.T) {
	state, out := runEnv(t)
	l := shared(t)
	jarm := truth(t, l, "CobaltStrikeJARM")
	both := truth(t, l, "CobaltStrikeJARM", "DeimosC2")
	// The world must have what this test needs: hits of both hunts, and
	// two Deimos-only hits on different servers (one gets suppressed).
	var deimosOnly []hitKey
	for k, hs := range both {
		if slices.Equal(hs, []string{"DeimosC2"}) {
			deimosOnly = append(deimosOnly, k)
		}
	}
	slices.SortFunc(deimosOnly, func(a, b hitKey) int { return strings.Compare(a.ReportID, b.ReportID) })
	if len(jarm) == 0 || len(deimosOnly) < 2 || deimosOnly[0].IP == deimosOnly[1].IP {
		t.Fatalf("the seed-1 world changed: JARM hits %v, Deimos-only hits %v", jarm, deimosOnly)
	}
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }

	// Run 1: new hits -> exit 1, and exactly the lab's ground truth.
	out1 := filepath.Join(out, "1")
	r := mustCode(t, cli.ExitHits, st("run", "--hunt", "CobaltStrikeJARM", "--out", out1)...)
	if !strings.Contains(r.stdout, "NEW HITS") || !strings.Contains(r.stderr, "hint: 'c2sweep hits --new'") {
		t.Errorf("run 1 output:\n%s", r)
	}
	for k := range jarm {
		if !strings.Contains(r.stdout, textsafe.Terminal(k.Device)) || !strings.Contains(r.stdout, k.IP) {
			t.Errorf("run 1 does not show hit %v:\n%s", k, r.stdout)
		}
	}
	s1 := readSummary(t, out1)
	if s1.Outcome != "hits" || s1.Totals.NewHits != len(jarm) || s1.RunID == 0 {
		t.Errorf("run 1 summary.json: %+v", s1)
	}
	var huntFile struct {
		Hits []json.RawMessage `json:"hits"`
	}
	b, err := os.ReadFile(filepath.Join(runDir(t, out1), "CobaltStrikeJARM.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &huntFile); err != nil || len(huntFile.Hits) != len(jarm) {
		t.Errorf("CobaltStrikeJARM.json: %v, %d hits, want %d", err, len(huntFile.Hits), len(jarm))
	}

	// hits: every format, filters.
	all := decodeHits(t, mustCode(t, 0, st("hits", "--since", "30d", "--format", "json")...).stdout)
	sameHits(t, all, jarm)
	r = mustCode(t, 0, st("hits", "--since", "30d")...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1+len(jarm) || !strings.HasPrefix(lines[0], "TIME") {
		t.Errorf("hits table: want a header and %d rows:\n%s", len(jarm), r.stdout)
	}
	for k := range jarm {
		if !regexp.MustCompile(regexp.QuoteMeta(textsafe.Terminal(k.Device)) + `\s+` + regexp.QuoteMeta(k.IP) + `\s`).MatchString(r.stdout) {
			t.Errorf("hits table lacks %v:\n%s", k, r.stdout)
		}
	}
	r = mustCode(t, 0, st("hits", "--since", "30d", "--format", "csv")...)
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 1+len(jarm) || recs[0][0] != "timestamp" {
		t.Fatalf("hits csv: %v\n%s", err, r.stdout)
	}
	col := slices.Index(recs[0], "report_id")
	csvJarm := map[hitKey]bool{}
	for k := range jarm {
		csvJarm[hitKey{textsafe.CSV(k.Device), k.ReportID, k.IP}] = true
	}
	for _, rec := range recs[1:] {
		if !csvJarm[hitKey{rec[1], rec[col], rec[3]}] {
			t.Errorf("csv row %q is not an expected hit", rec)
		}
	}
	// --new lists every hit the latest run reported, however old the event:
	// the default 7d window applies only without --new.
	if got := decodeHits(t, mustCode(t, 0, st("hits", "--new", "--format", "json")...).stdout); len(got) != len(jarm) {
		t.Errorf("hits --new: %d hits, want the %d of run 1", len(got), len(jarm))
	}
	if got := decodeHits(t, mustCode(t, 0, st("hits", "--run", "1", "--format", "json")...).stdout); len(got) != len(jarm) {
		t.Errorf("hits --run 1: %d hits, want %d", len(got), len(jarm))
	}
	// --since keeps the events within the window and no others.
	week := decodeHits(t, mustCode(t, 0, st("hits", "--since", "7d", "--format", "json")...).stdout)
	cut := time.Now().Add(-7 * 24 * time.Hour)
	wantWeek := 0
	for _, h := range all {
		if !h.Timestamp.Before(cut) {
			wantWeek++
		}
	}
	for _, h := range week {
		if h.Timestamp.Before(cut) {
			t.Errorf("hits --since 7d lists an event of %s", h.Timestamp)
		}
	}
	if len(week) != wantWeek {
		t.Errorf("hits --since 7d: %d hits, want %d", len(week), wantWeek)
	}
	if len(decodeHits(t, mustCode(t, 0, st("hits", "--since", time.Now().Add(-48*time.Hour).Format("2006-01-02"), "--format", "json")...).stdout)) > len(week) {
		t.Errorf("hits --since DATE lists more than --since 7d")
	}
	if r := mustCode(t, 0, st("hits", "--since", "30d", "--hunt", "DeimosC2")...); strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 || !strings.Contains(r.stderr, "no hits") {
		t.Errorf("hits --hunt DeimosC2 before any Deimos run:\n%s", r)
	}
	mustCode(t, cli.ExitCannotRun, st("hits", "--since", "yesterday-ish")...)

	// runs and indicators.
	r = mustCode(t, 0, st("runs")...)
	if !regexp.MustCompile(`(?m)^1\s.*\brun\s+ok\s`).MatchString(r.stdout) {
		t.Errorf("runs:\n%s", r.stdout)
	}
	var runs []store.Run
	if err := json.Unmarshal([]byte(mustCode(t, 0, st("runs", "--json")...).stdout), &runs); err != nil || len(runs) != 1 || runs[0].NewHits != len(jarm) {
		t.Errorf("runs --json: %v %+v", err, runs)
	}
	r = mustCode(t, 0, st("indicators", "--hunt", "CobaltStrikeJARM", "--active")...)
	if n := strings.Count(strings.TrimSpace(r.stdout), "\n"); n < 1 {
		t.Errorf("indicators:\n%s", r.stdout)
	}
	for k := range jarm {
		if !strings.Contains(r.stdout, k.IP) {
			t.Errorf("indicators does not list %s:\n%s", k.IP, r.stdout)
		}
	}
	if r := mustCode(t, 0, st("indicators", "--hunt", "DeimosC2")...); strings.Contains(r.stdout, deimosOnly[0].IP) {
		t.Errorf("indicators --hunt DeimosC2 lists servers of other hunts:\n%s", r.stdout)
	}

	// Suppress one Deimos server before any run has seen it.
	sup := deimosOnly[0].IP
	r = mustCode(t, 0, st("suppress", sup, "--reason", "our red team", "--until", "30d")...)
	if !strings.Contains(r.stdout, "suppressed ip "+sup) {
		t.Errorf("suppress:\n%s", r)
	}
	mustCode(t, cli.ExitCannotRun, st("suppress", sup, "--device", "x", "--reason", "two targets")...)
	mustCode(t, cli.ExitCannotRun, st("suppress", sup)...) // --reason is required
	if r := mustCode(t, 0, st("unsuppress", "--list")...); !strings.Contains(r.stdout, sup) || !strings.Contains(r.stdout, "our red team") {
		t.Errorf("unsuppress --list:\n%s", r.stdout)
	}

	// Run 2 adds DeimosC2: its hits are new, except the suppressed one,
	// which is stored and marked; JARM's are not new again. --json.
	out2 := filepath.Join(out, "2")
	r = mustCode(t, cli.ExitHits, st("run", "--hunt", "CobaltStrikeJARM", "--hunt", "DeimosC2", "--json", "--out", out2)...)
	s2 := decodeSummary(t, []byte(r.stdout))
	newDeimos, found := 0, 0
	for k := range both {
		if _, old := jarm[k]; !old {
			found++ // JARM's servers are swept only since run 1 now
			if k.IP != sup {
				newDeimos++
			}
		}
	}
	if s2.Outcome != "hits" || s2.Totals.NewHits != newDeimos || s2.Totals.Suppressed != 1 || s2.Totals.Hits != found {
		t.Errorf("run 2 --json totals %+v, want new %d, suppressed 1, hits %d", s2.Totals, newDeimos, found)
	}
	all = decodeHits(t, mustCode(t, 0, st("hits", "--since", "30d", "--format", "json")...).stdout)
	sameHits(t, all, both)
	for _, h := range all {
		if (h.IP == sup) != (h.Suppressed != "") {
			t.Errorf("hit %v suppressed=%q", h.key(), h.Suppressed)
		}
		if _, old := jarm[h.key()]; old != (h.RunID == s1.RunID) {
			t.Errorf("hit %v first reported by run %d", h.key(), h.RunID)
		}
	}
	r = mustCode(t, 0, st("hits", "--since", "30d")...)
	if !regexp.MustCompile(regexp.QuoteMeta(sup) + `\s.*suppressed: .*our red team`).MatchString(r.stdout) {
		t.Errorf("hits table does not mark the suppressed hit:\n%s", r.stdout)
	}
	fresh := decodeHits(t, mustCode(t, 0, st("hits", "--since", "30d", "--new", "--format", "json")...).stdout)
	for _, h := range fresh {
		if h.RunID != s2.RunID {
			t.Errorf("hits --new lists %v of run %d", h.key(), h.RunID)
		}
	}
	if len(fresh) < newDeimos {
		t.Errorf("hits --new: %d hits, want at least the %d new ones", len(fresh), newDeimos)
	}
	deimos := decodeHits(t, mustCode(t, 0, st("hits", "--since", "30d", "--hunt", "DeimosC2", "--format", "json")...).stdout)
	want := maps.Clone(both)
	maps.DeleteFunc(want, func(_ hitKey, hs []string) bool { return !slices.Contains(hs, "DeimosC2") })
	sameHits(t, deimos, want)

	// Unsuppressing does not make an already stored hit new again.
	if r := mustCode(t, 0, st("unsuppress", sup)...); !strings.Contains(r.stdout, "unsuppressed ip "+sup) {
		t.Errorf("unsuppress:\n%s", r)
	}
	if r := mustCode(t, 0, st("unsuppress", "--list")...); strings.Contains(r.stdout, sup) {
		t.Errorf("still listed after unsuppress:\n%s", r.stdout)
	}

	// Run 3: nothing new -> exit 0.
	out3 := filepath.Join(out, "3")
	r = mustCode(t, cli.ExitNoHits, st("run", "--hunt", "CobaltStrikeJARM", "--hunt", "DeimosC2", "--out", out3)...)
	if s3 := readSummary(t, out3); s3.Outcome != "no-hits" || s3.Totals.NewHits != 0 || s3.Totals.Hits != 0 {
		// The windows moved: the incremental sweep reads only since run 2.
		t.Errorf("run 3 summary: %+v", s3.Totals)
	}
	if strings.Contains(r.stdout, "NEW HITS") {
		t.Errorf("run 3 shows new hits:\n%s", r.stdout)
	}
	if r := mustCode(t, 0, st("runs")...); len(regexp.MustCompile(`(?m)^\d+\s.*\brun\s+ok\s`).FindAllString(r.stdout, -1)) != 3 {
		t.Errorf("runs after three runs:\n%s", r.stdout)
	}
	sameHits(t, decodeHits(t, mustCode(t, 0, st("hits", "--since", "30d", "--format", "json")...).stdout), both)

	noSecretsIn(t, filepath.Dir(state))
}

func TestRunPartialFailureExits2(t *testing.T) {
	state, out := runEnv(t)
	// One hunt Shodan refuses as invalid, one that works: the run finishes
	// what it can and says it is incomplete.
	cfgPath := filepath.Join(t.TempDir(), "c2sweep.yaml")
	os.WriteFile(cfgPath, []byte("hunts:\n  - name: Broken\n    query: 'product:\"Cobalt'\n"), 0o600)
	r := mustCode(t, cli.ExitPartial, "--config", cfgPath, "--state", state, "run", "--hunt", "Broken", "--hunt", "DeimosC2", "--out", out)
	s := readSummary(t, out)
	if s.Outcome != "partial" || len(s.Errors) == 0 || !strings.Contains(strings.Join(s.Errors, "\n"), "Broken") {
		t.Errorf("summary: %+v", s)
	}
	for _, h := range s.Hunts {
		if (h.Name == "Broken") != (h.Error != "") {
			t.Errorf("hunt %s error %q", h.Name, h.Error)
		}
		if h.Name == "DeimosC2" && h.NewHits != len(truth(t, shared(t), "DeimosC2")) {
			t.Errorf("the working hunt found %d new hits, want %d", h.NewHits, len(truth(t, shared(t), "DeimosC2")))
		}
	}
	if !strings.Contains(r.stdout+r.stderr, "Broken") {
		t.Errorf("the output does not name the failed hunt:\n%s", r)
	}
	noSecretsIn(t, filepath.Dir(state))
}

func TestRunCannotRun(t *testing.T) {
	state, out := runEnv(t)
	l := shared(t)

	t.Run("wrong secret", func(t *testing.T) {
		wrong := "wr0ng8Q~" + strings.Repeat("x", 32)
		t.Setenv("AZURE_CLIENT_SECRET", wrong)
		before := l.Calls()
		r := mustCode(t, cli.ExitCannotRun, "--state", state, "run", "--hunt", "DeimosC2", "--out", out)
		if !strings.Contains(r.stderr, "AADSTS7000215") {
			t.Errorf("stderr does not carry the AADSTS code:\n%s", r)
		}
		if strings.Contains(r.stdout+r.stderr, wrong) {
			t.Errorf("the wrong secret is printed")
		}
		if after := l.Calls(); after["graph"] != before["graph"] || after["shodan"] != before["shodan"] {
			t.Errorf("a refused sign-in must stop the run before Shodan or the hunting API is called: %v -> %v", before, after)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a run that could not start wrote %s", out)
		}
	})

	t.Run("no shodan key", func(t *testing.T) {
		t.Setenv("SHODAN_API_KEY", "")
		os.Unsetenv("SHODAN_API_KEY")
		before := l.Calls()
		r := mustCode(t, cli.ExitCannotRun, "--state", state, "run", "--out", out+"-nokey")
		if !regexp.MustCompile(`(?i)shodan api key`).MatchString(r.stderr) || !regexp.MustCompile(`(?m)^hint: .*SHODAN_API_KEY`).MatchString(r.stderr) {
			t.Errorf("no clear error with a hint:\n%s", r)
		}
		if after := l.Calls(); !maps.Equal(before, after) {
			t.Errorf("called the lab without a key: %v -> %v", before, after)
		}
	})

	t.Run("unknown hunt", func(t *testing.T) {
		r := mustCode(t, cli.ExitCannotRun, "--state", state, "run", "--hunt", "NoSuchHunt")
		if !strings.Contains(r.stderr, "NoSuchHunt") || !strings.Contains(r.stderr, "hint: c2sweep hunts") {
			t.Errorf("unknown hunt:\n%s", r)
		}
	})
}

// --dry-run counts the hunt (free) and prints the credit plan: the lab's
// credit balance is unchanged, no search page is read, Defender is not
// asked, and nothing is recorded.
func TestRunDryRunQueriesNothing(t *testing.T) {
	state, out := runEnv(t)
	l := shared(t)
	before, credits := l.Calls(), shodanlab.Credits(l)
	r := mustCode(t, cli.ExitNoHits, "--state", state, "run", "--dry-run", "--hunt", "DeimosC2", "--out", out)
	after := l.Calls()
	for _, svc := range []string{"entra", "graph", "mde"} {
		if after[svc] != before[svc] {
			t.Errorf("dry run called %s: %d -> %d", svc, before[svc], after[svc])
		}
	}
	if got := shodanlab.Credits(l); got != credits {
		t.Errorf("dry run spent %d Shodan credits", credits-got)
	}
	if !regexp.MustCompile(`Shodan credit plan: 1 of \d+ credits allowed`).MatchString(r.stdout) ||
		!regexp.MustCompile(`DeimosC2\s+\d+\s+1\s+1\s+1`).MatchString(r.stdout) {
		t.Errorf("dry run does not print the plan:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "hint: nothing was fetched or sent to Defender and no Shodan credit was spent") {
		t.Errorf("no dry-run hint:\n%s", r.stderr)
	}
	s := readSummary(t, out)
	if !s.DryRun || len(s.Queries) != 0 || s.Totals.Indicators != 0 {
		t.Errorf("summary.json of a dry run: %+v", s)
	}
	// Nothing was remembered: a dry run only reads the state.
	if r := c2sweep(t, "--state", state, "runs"); r.code == 0 && strings.Count(strings.TrimSpace(r.stdout), "\n") > 0 {
		t.Errorf("a dry run was recorded:\n%s", r.stdout)
	}
	noSecretsIn(t, out)
}

// --catalog-include adds the catalog's hunts of a family to the run, and
// --catalog-exclude leaves some out; an unknown word says did you mean.
func TestRunCatalogFlags(t *testing.T) {
	state, _ := runEnv(t)
	r := mustCode(t, cli.ExitNoHits, "--state", state, "run", "--dry-run", "--hunt", "DeimosC2",
		"--catalog-include", "Havoc", "--catalog-exclude", "HavocHeader")
	if !strings.Contains(r.stdout, "DeimosC2") {
		t.Errorf("the configured hunt is not planned:\n%s", r.stdout)
	}
	r = mustCode(t, cli.ExitNoHits, "--state", state, "run", "--dry-run", "--catalog-include", "Havoc", "--catalog-exclude", "HavocHeader")
	if !strings.Contains(r.stdout, "HavocProduct") || strings.Contains(r.stdout, "HavocHeader") || !strings.Contains(r.stdout, "CobaltStrikeJARM") {
		t.Errorf("catalog picks not planned:\n%s", r.stdout)
	}
	r = mustCode(t, cli.ExitCannotRun, "--state", state, "run", "--dry-run", "--catalog-include", "Havok")
	if !strings.Contains(r.stderr, `did you mean "Havoc"`) || !strings.Contains(r.stderr, "hint: c2sweep hunts") {
		t.Errorf("unknown word:\n%s", r)
	}
}

// hunts --health shows each hunt's last runs (digits when stdout is no
// terminal), when it last returned anything, its hits and its verdict.
func TestHuntsHealth(t *testing.T) {
	state, _ := runEnv(t)
	for range 2 {
		if r := c2sweep(t, "--state", state, "run", "--hunt", "DeimosC2", "--hunt", "PoshC2"); r.code != cli.ExitHits && r.code != cli.ExitNoHits {
			t.Fatalf("run:\n%s", r)
		}
	}
	r := c2sweep(t, "--state", state, "hunts", "--health")
	if r.code != 0 {
		t.Fatalf("hunts --health:\n%s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "VERDICT") {
		t.Fatalf("hunts --health:\n%s", r.stdout)
	}
	var deimos, posh string
	for _, l := range lines[1:] {
		switch strings.Fields(l)[0] {
		case "DeimosC2":
			deimos = l
		case "PoshC2":
			posh = l
		}
	}
	if !regexp.MustCompile(`^DeimosC2\s+99\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+\d+\s+healthy\s*$`).MatchString(deimos) {
		t.Errorf("DeimosC2 row %q", deimos)
	}
	if !regexp.MustCompile(`^PoshC2\s+99\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+0\s+healthy\s*$`).MatchString(posh) {
		t.Errorf("PoshC2 row %q", posh)
	}
	r = c2sweep(t, "--state", state, "hunts", "--health", "--json")
	if !strings.Contains(r.stdout, `"verdict": "healthy"`) || !strings.Contains(r.stdout, `"results": [`) {
		t.Errorf("hunts --health --json:\n%s", r.stdout)
	}
}
