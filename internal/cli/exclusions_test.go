package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/exclude"
	"c2sweep/internal/lab/cdnlab"
)

type checkRow struct {
	IP       string    `json:"ip"`
	Excluded bool      `json:"excluded"`
	Prefix   string    `json:"prefix"`
	Operator string    `json:"operator"`
	List     string    `json:"list"`
	Source   string    `json:"source"`
	Date     time.Time `json:"date"`
}

func checkJSON(t *testing.T, r string) []checkRow {
	t.Helper()
	var rows []checkRow
	if err := json.Unmarshal([]byte(r), &rows); err != nil {
		t.Fatalf("exclusions check --json: %v\n%s", err, r)
	}
	return rows
}

func TestExclusionsCheck(t *testing.T) {
	isolate(t)
	r := mustCode(t, 0, "exclusions", "check", "--json", "104.16.1.1", "2606:4700::1", "::ffff:13.32.0.1", "203.0.113.9")
	rows := checkJSON(t, r.stdout)
	want := []checkRow{
		{IP: "104.16.1.1", Excluded: true, Prefix: "104.16.0.0/13", Operator: "Cloudflare", List: "cloudflare"},
		{IP: "2606:4700::1", Excluded: true, Prefix: "2606:4700::/32", Operator: "Cloudflare", List: "cloudflare"},
		{IP: "::ffff:13.32.0.1", Excluded: true, Prefix: "13.32.0.0/15", Operator: "Amazon CloudFront", List: "amazon-cloudfront"},
		{IP: "203.0.113.9"},
	}
	if len(rows) != len(want) {
		t.Fatalf("want %d rows:\n%s", len(want), r.stdout)
	}
	for i, w := range want {
		g := rows[i]
		if g.IP != w.IP || g.Excluded != w.Excluded || g.Prefix != w.Prefix || g.Operator != w.Operator || g.List != w.List {
			t.Errorf("row %d: %+v, want %+v", i, g, w)
		}
		if w.Excluded && (g.Date.IsZero() || !strings.Contains(g.Source, "https://")) {
			t.Errorf("row %d lacks its snapshot date or source: %+v", i, g)
		}
	}
	if r.stderr != "" {
		t.Errorf("a fresh snapshot warns: %s", r.stderr)
	}

	// The table says "not excluded"; CSV has the header.
	r = mustCode(t, 0, "exclusions", "check", "203.0.113.9", "151.101.1.1")
	if !strings.Contains(r.stdout, "not excluded") || !strings.Contains(r.stdout, "Fastly") {
		t.Errorf("table:\n%s", r.stdout)
	}
	r = mustCode(t, 0, "exclusions", "check", "--format", "csv", "151.101.1.1")
	if !strings.HasPrefix(r.stdout, "ip,excluded,prefix,operator,list,date,source\n151.101.1.1,yes,151.101.0.0/16,Fastly,fastly,") {
		t.Errorf("csv:\n%s", r.stdout)
	}

	// A bad argument is named; the others are still answered: exit 2.
	r = mustCode(t, cli.ExitPartial, "exclusions", "check", "104.16.1.1", "104.16.1", "fe80::1%eth0")
	if !strings.Contains(r.stdout, "104.16.0.0/13") || !strings.Contains(r.stderr, `"104.16.1" is not an IP address`) ||
		!strings.Contains(r.stderr, `"fe80::1%eth0" is not an IP address`) || !strings.Contains(r.stderr, "hint: ") {
		t.Errorf("partial:\n%s", r)
	}
	r = mustCode(t, cli.ExitCannotRun, "exclusions", "check", "nonsense")
	if r.stdout != "" || !strings.Contains(r.stderr, `"nonsense" is not an IP address`) {
		t.Errorf("none valid:\n%s", r)
	}

	// An old snapshot in --dir is read, and warned about.
	dir := filepath.Join(t.TempDir(), "ranges")
	old := exclude.Builtin()
	old.Built = time.Now().AddDate(0, 0, -120)
	if err := old.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	r = mustCode(t, 0, "exclusions", "check", "--dir", dir, "104.16.1.1")
	if !strings.Contains(r.stderr, "warning: the CDN ranges are 120 days old") || !strings.Contains(r.stderr, "c2sweep exclusions update") {
		t.Errorf("stale snapshot:\n%s", r)
	}
}

// readRanges returns the files of a ranges directory.
func readRanges(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func TestExclusionsUpdateAgainstLab(t *testing.T) {
	isolate(t)
	l := shared(t)
	labEnv(t, l) // C2SWEEP_RANGES_BASE and SSL_CERT_FILE
	t.Cleanup(func() { cdnlab.Empty(l); cdnlab.Fail(l) })
	dir := filepath.Join(t.TempDir(), "ranges")
	builtin := exclude.Builtin()
	start := time.Now().Add(-time.Second)

	// Every operator answers: every list is written, loads, and is dated now.
	r := mustCode(t, 0, "exclusions", "update", "--dir", dir)
	if !strings.Contains(r.stdout, "ranges: "+dir) {
		t.Errorf("update:\n%s", r)
	}
	snap, err := exclude.LoadDir(dir)
	if err != nil {
		t.Fatalf("exclude cannot load what update wrote: %v", err)
	}
	if len(snap.Lists) != len(exclude.Upstreams) {
		t.Fatalf("update wrote %d lists, want %d", len(snap.Lists), len(exclude.Upstreams))
	}
	for _, nl := range snap.Lists {
		if !slices.Equal(nl.Prefixes, builtin.List(nl.Name).Prefixes) {
			t.Errorf("%s: %d prefixes, the lab serves %d", nl.Name, len(nl.Prefixes), len(builtin.List(nl.Name).Prefixes))
		}
		if nl.Date.Before(start.Truncate(time.Second)) || nl.Mirror != "" {
			t.Errorf("%s: dated %s (mirror %q), want fetched now", nl.Name, nl.Date, nl.Mirror)
		}
	}
	if got, want := snap.Built.Format(time.DateOnly), time.Now().UTC().Format(time.DateOnly); got != want {
		t.Errorf("snapshot built %s, want %s", got, want)
	}
	rows := checkJSON(t, mustCode(t, 0, "exclusions", "check", "--dir", dir, "--json", "104.16.1.1").stdout)
	if len(rows) != 1 || rows[0].List != "cloudflare" || rows[0].Date.Before(start.Truncate(time.Second)) {
		t.Errorf("check after update: %+v", rows)
	}
	before := readRanges(t, dir)

	// An operator serving an emptied list: refused, its file kept, the
	// others refreshed; exit 2 naming it.
	cdnlab.Empty(l, "fastly")
	r = mustCode(t, cli.ExitPartial, "exclusions", "update", "--dir", dir)
	if !strings.Contains(r.stdout, "fastly") || !strings.Contains(r.stdout, "kept the current list") ||
		!strings.Contains(r.stdout, "fastly has 0 prefixes") || !strings.Contains(r.stderr, "1 of 6 lists kept") {
		t.Errorf("emptied fastly:\n%s", r)
	}
	after := readRanges(t, dir)
	if after["fastly.txt"] != before["fastly.txt"] {
		t.Errorf("an emptied upstream replaced fastly.txt:\n%s", after["fastly.txt"])
	}
	if _, err := exclude.LoadDir(dir); err != nil {
		t.Errorf("after a refused list: %v", err)
	}
	cdnlab.Empty(l)

	// One operator unreachable: the others are refreshed all the same.
	cdnlab.Fail(l, "cloudflare")
	dir2 := filepath.Join(t.TempDir(), "ranges")
	r = mustCode(t, cli.ExitPartial, "exclusions", "update", "--dir", dir2)
	snap, err = exclude.LoadDir(dir2)
	if err != nil {
		t.Fatal(err)
	}
	for _, nl := range snap.Lists {
		fresh := !nl.Date.Before(start.Truncate(time.Second))
		if nl.Name == "cloudflare" {
			if fresh || !slices.Equal(nl.Prefixes, builtin.List("cloudflare").Prefixes) {
				t.Errorf("cloudflare unreachable, yet its list changed: %s %d", nl.Date, len(nl.Prefixes))
			}
		} else if !fresh {
			t.Errorf("%s not refreshed while only cloudflare failed", nl.Name)
		}
	}
	if !strings.Contains(r.stdout, "cloudflare") || !strings.Contains(r.stdout, "kept the current list") {
		t.Errorf("unreachable cloudflare:\n%s", r)
	}

	// Nobody answers: nothing written, exit 3.
	names := []string{}
	for _, u := range exclude.Upstreams {
		names = append(names, u.Name)
	}
	cdnlab.Empty(l, names...)
	dir3 := filepath.Join(t.TempDir(), "ranges")
	r = mustCode(t, cli.ExitCannotRun, "exclusions", "update", "--dir", dir3)
	if _, err := os.Stat(dir3); !os.IsNotExist(err) || !strings.Contains(r.stderr, "no list could be refreshed") {
		t.Errorf("all refused: %v\n%s", err, r)
	}

	// Plain http is refused before anything is fetched.
	r = mustCode(t, cli.ExitCannotRun, "exclusions", "update", "--dir", dir3, "--base", "http://127.0.0.1:1")
	if r.stdout != "" || !strings.Contains(r.stderr, `--base (or C2SWEEP_RANGES_BASE) "http://127.0.0.1:1" is not an https URL`) {
		t.Errorf("http base:\n%s", r)
	}
}

// Without --dir, update writes ranges/ beside the state database (the
// default one, --state's, or the config's state.path), and check reads it.
func TestExclusionsDefaultDir(t *testing.T) {
	home := isolate(t)
	labEnv(t, shared(t))
	start := time.Now().Add(-time.Second).Truncate(time.Second)
	mustCode(t, 0, "exclusions", "update")
	if _, err := exclude.LoadDir(filepath.Join(home, "state", "c2sweep", "ranges")); err != nil {
		t.Fatalf("default directory: %v", err)
	}
	rows := checkJSON(t, mustCode(t, 0, "exclusions", "check", "--json", "104.16.1.1").stdout)
	if len(rows) != 1 || rows[0].Date.Before(start) {
		t.Errorf("check does not read the default directory: %+v", rows)
	}

	other := t.TempDir()
	mustCode(t, 0, "--state", filepath.Join(other, "s.db"), "exclusions", "update")
	if _, err := os.Stat(filepath.Join(other, "ranges", "snapshot.txt")); err != nil {
		t.Errorf("--state: %v", err)
	}
	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "c.yaml")
	os.WriteFile(cfg, []byte("state:\n  path: "+filepath.Join(cfgDir, "db", "state.db")+"\n"), 0o600)
	mustCode(t, 0, "--config", cfg, "exclusions", "update")
	if _, err := os.Stat(filepath.Join(cfgDir, "db", "ranges", "snapshot.txt")); err != nil {
		t.Errorf("config state.path: %v", err)
	}
}
