package cli_test

// The listing commands (hits, runs, indicators, hunts, unsuppress --list)
// on a state written directly through the store: the same flags, one
// writer, [] when empty, escaped text, one labelled zone, names checked.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/indicator"
	"c2sweep/internal/store"
)

// Hostile text as a device's telemetry can carry it: an escape sequence
// that recolours the terminal, a bidi override, a spreadsheet formula.
const (
	evilProcess = "svc\x1b[2J\x1b[31mhost.exe"
	evilCommand = "=cmd|' /C calc'!A0"
	evilAccount = "corp\\bob\u202eexe.txt"
)

// fixture is a state with two finished runs. Run 1 reported two fresh
// hits on ws01.contoso.local; run 2 reported three hits whose events are
// ten days old (found late, as the first sweep of a new server finds
// them), one of them with hostile text.
type fixture struct {
	state    string
	run1Hits []indicator.Hit
	run2Hits []indicator.Hit
	recent   time.Time // the events of run 1
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{state: filepath.Join(t.TempDir(), "state.db")}
	st, err := store.Open(ctx, f.state, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Lock(ctx, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	f.recent = now.Add(-2 * time.Hour)
	old := now.Add(-10 * 24 * time.Hour)
	ipA, ipB := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.9")
	hit := func(ip netip.Addr, device, report string, ts time.Time, hunt string) indicator.Hit {
		return indicator.Hit{Table: "DeviceNetworkEvents", Column: "RemoteIP", IP: ip, Timestamp: ts,
			DeviceID: "id-" + device, Device: device, Account: "corp\\alice", Port: 443, Action: "ConnectionSuccess",
			Process: "rundll32.exe", Command: "rundll32.exe beacon.dll,Start", ReportID: report, Hunts: []string{hunt}}
	}
	f.run1Hits = []indicator.Hit{
		hit(ipA, "ws01.contoso.local", "1", f.recent, "CobaltStrikeJARM"),
		hit(ipA, "ws02.contoso.local", "2", f.recent.Add(-time.Minute), "CobaltStrikeJARM"),
	}
	f.run2Hits = []indicator.Hit{
		hit(ipB, "ws01.contoso.local", "3", old, "DeimosC2"),
		hit(ipB, "ws03.contoso.local", "4", old.Add(-time.Minute), "DeimosC2"),
		hit(ipB, "ws04.contoso.local", "5", old.Add(-2*time.Minute), "DeimosC2"),
	}
	f.run2Hits[2].Process, f.run2Hits[2].Command, f.run2Hits[2].Account = evilProcess, evilCommand, evilAccount
	for i, hits := range [][]indicator.Hit{f.run1Hits, f.run2Hits} {
		run, err := st.BeginRun(ctx, store.RunInfo{Command: "run", Started: now.Add(time.Duration(i-2) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		ip, hunt := ipA, "CobaltStrikeJARM"
		if i == 1 {
			ip, hunt = ipB, "DeimosC2"
		}
		if err := st.UpsertIndicators(ctx, run, now, []*indicator.Indicator{{IP: ip, Sightings: []indicator.Sighting{
			{Hunt: hunt, Source: "shodan", Port: 443, Transport: "tcp", Org: "Evil\x1b[31m Org", LastSeen: now.Add(-time.Hour)}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CommitSweep(ctx, run, "DeviceNetworkEvents.RemoteIP", []netip.Addr{ip}, now, hits); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(ctx, run, store.RunResult{Outcome: store.OutcomeOK, Finished: now.Add(time.Duration(i-2)*time.Hour + time.Minute),
			Indicators: 1, Hits: len(hits)}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// emptyState is a state with nothing recorded yet.
func emptyState(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return path
}

// listings are the listing commands, with the flags that list everything.
var listings = [][]string{{"hits", "--events", "--all"}, {"runs"}, {"indicators"}, {"hunts"}, {"hunts", "--config-only"}, {"unsuppress", "--list"}}

func TestListingsTakeTheSameFormatFlags(t *testing.T) {
	isolate(t)
	f := newFixture(t)
	for _, l := range listings {
		args := append([]string{"--state", f.state}, l...)
		name := strings.Join(l, " ")
		js := mustCode(t, 0, append(args, "--json")...)
		if js2 := mustCode(t, 0, append(args, "--format", "json")...); js.stdout != js2.stdout {
			t.Errorf("%s: --json and --format json differ:\n%s\n%s", name, js.stdout, js2.stdout)
		}
		var v []map[string]any
		if err := json.Unmarshal([]byte(js.stdout), &v); err != nil {
			t.Errorf("%s --json: not a JSON array: %v\n%s", name, err, js.stdout)
		}
		r := mustCode(t, 0, append(args, "--format", "csv")...)
		recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil || len(recs) != 1+len(v) {
			t.Errorf("%s --format csv: %v, %d records for %d items\n%s", name, err, len(recs), len(v), r.stdout)
		}
		// jsonl: the same objects as --json, one compact object a line.
		r = mustCode(t, 0, append(args, "--format", "jsonl")...)
		var jl []map[string]any
		for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("%s --format jsonl: a line is not one object: %v\n%s", name, err, line)
			}
			jl = append(jl, m)
		}
		if len(jl) != len(v) {
			t.Errorf("%s --format jsonl: %d lines for %d items", name, len(jl), len(v))
		}
		r = mustCode(t, 0, append(args, "--format", "table")...)
		if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 1+len(v) {
			t.Errorf("%s table: %d lines for %d items\n%s", name, len(lines), len(v), r.stdout)
		}
		if r := mustCode(t, cli.ExitCannotRun, append(args, "--json", "--format", "csv")...); !strings.Contains(r.stderr, "choose one") {
			t.Errorf("%s --json --format csv:\n%s", name, r)
		}
	}
}

func TestEmptyListingsAreEmptyArrays(t *testing.T) {
	isolate(t)
	state := emptyState(t)
	for _, l := range append(listings, []string{"hits"}, []string{"hits", "--events", "--new"}, []string{"hits", "--events", "--since", "1d"}) {
		if l[0] == "hunts" {
			continue // never empty: the built-in hunts
		}
		args := append([]string{"--state", state}, l...)
		name := strings.Join(l, " ")
		if r := mustCode(t, 0, append(args, "--json")...); r.stdout != "[]\n" {
			t.Errorf("%s --json on an empty state: %q, want []", name, r.stdout)
		}
		r := mustCode(t, 0, append(args, "--format", "csv")...)
		if recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll(); err != nil || len(recs) != 1 || len(recs[0]) < 2 {
			t.Errorf("%s --format csv on an empty state: want the header only:\n%s", name, r.stdout)
		}
		r = mustCode(t, 0, args...)
		if strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stderr, "no ") {
			t.Errorf("%s on an empty state: want a header and a 'no ...' line on stderr:\n%s", name, r)
		}
	}
	// The hunts of a config that has none.
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("builtin_hunts: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := c2sweep(t, "--config", cfg, "hunts", "--config-only", "--json"); r.code == 0 && r.stdout != "[]\n" {
		t.Errorf("hunts --json without hunts: %q, want []", r.stdout)
	}
}

func TestListingsEscapeUntrustedText(t *testing.T) {
	isolate(t)
	f := newFixture(t)
	for _, format := range []string{"table", "csv"} {
		r := mustCode(t, 0, "--state", f.state, "hits", "--events", "--all", "--format", format)
		if strings.ContainsAny(r.stdout, "\x1b\u202e") {
			t.Errorf("hits --format %s passes control characters through:\n%q", format, r.stdout)
		}
		if !strings.Contains(r.stdout, `svc\x1b[2J\x1b[31mhost.exe`) {
			t.Errorf("hits --format %s does not show the escape sequence as text:\n%s", format, r.stdout)
		}
	}
	r := mustCode(t, 0, "--state", f.state, "hits", "--events", "--all", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cmd, acct := slices.Index(recs[0], "command_line"), slices.Index(recs[0], "account")
	found := false
	for _, rec := range recs[1:] {
		if strings.Contains(rec[cmd], "calc") {
			found = true
			if !strings.HasPrefix(rec[cmd], "'=") || !strings.Contains(rec[acct], `\u202e`) {
				t.Errorf("csv row keeps a formula or a bidi override: %q", rec)
			}
		}
	}
	if !found {
		t.Errorf("csv lacks the hostile hit:\n%s", r.stdout)
	}
	// JSON is for programs: the text as stored, escaped by the encoder.
	r = mustCode(t, 0, "--state", f.state, "hits", "--events", "--all", "--json")
	var hits []store.StoredHit
	if err := json.Unmarshal([]byte(r.stdout), &hits); err != nil || !slices.ContainsFunc(hits, func(h store.StoredHit) bool { return h.Process == evilProcess }) {
		t.Errorf("hits --json does not carry the text as stored: %v", err)
	}
}

func TestTimesAreUTCAndLabelled(t *testing.T) {
	isolate(t)
	f := newFixture(t)
	for cmd, head := range map[string]string{"hits": "FIRST (UTC)", "runs": "STARTED (UTC)", "indicators": "LAST SEEN BY SHODAN (UTC)"} {
		r := mustCode(t, 0, "--state", f.state, cmd)
		if first, _, _ := strings.Cut(r.stdout, "\n"); !strings.Contains(first, head) {
			t.Errorf("%s: header %q lacks %q", cmd, first, head)
		}
	}
	r := mustCode(t, 0, "--state", f.state, "hits", "--events", "--all", "--device", "ws01.contoso.local")
	if want := f.recent.UTC().Format("2006-01-02 15:04:05"); !strings.Contains(r.stdout, want) {
		t.Errorf("hits table does not show %s (UTC):\n%s", want, r.stdout)
	}
	r = mustCode(t, 0, "--state", f.state, "hits", "--events", "--all", "--format", "csv")
	if !strings.Contains(r.stdout, f.recent.UTC().Format(time.RFC3339)) {
		t.Errorf("hits csv lacks the RFC 3339 UTC time %s:\n%s", f.recent.UTC().Format(time.RFC3339), r.stdout)
	}

	// --local: the zone of the process (TZ), labelled. Run as a process:
	// time.Local is read once per process.
	if runtime.GOOS == "windows" {
		return
	}
	env := childEnv(t, map[string]string{"TZ": "Asia/Kolkata"})
	r = runBin(t, env, time.Minute, "--state", f.state, "hits", "--events", "--all", "--device", "ws01.contoso.local", "--local")
	ist := time.FixedZone("IST", 5*3600+1800)
	if first, _, _ := strings.Cut(r.stdout, "\n"); r.code != 0 || !strings.Contains(first, "TIME (IST)") {
		t.Fatalf("hits --local with TZ=Asia/Kolkata:\n%s", r)
	}
	if want := f.recent.In(ist).Format("2006-01-02 15:04:05"); !strings.Contains(r.stdout, want) {
		t.Errorf("hits --local does not show %s:\n%s", want, r.stdout)
	}
	r = runBin(t, env, time.Minute, "--state", f.state, "hits", "--events", "--all", "--format", "csv", "--local")
	if !strings.Contains(r.stdout, f.recent.UTC().Format(time.RFC3339)) {
		t.Errorf("hits csv --local is not UTC:\n%s", r.stdout)
	}
}

func TestHitsDefaultsToTheLatestRun(t *testing.T) {
	isolate(t)
	f := newFixture(t)
	reports := func(args ...string) []string {
		t.Helper()
		var hits []store.StoredHit
		r := mustCode(t, 0, append([]string{"--state", f.state, "hits", "--events", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(r.stdout), &hits); err != nil {
			t.Fatalf("hits %v: %v\n%s", args, err, r.stdout)
		}
		var out []string
		for _, h := range hits {
			out = append(out, h.ReportID)
		}
		slices.Sort(out)
		return out
	}
	// Right after run 2, plain `hits` shows its three hits, although their
	// events are ten days old, and says what it shows.
	if got := reports(); !slices.Equal(got, []string{"3", "4", "5"}) {
		t.Errorf("hits: reports %v, want run 2's 3, 4, 5", got)
	}
	if r := mustCode(t, 0, "--state", f.state, "hits"); !strings.Contains(r.stderr, "run 2, the latest") || strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("hits table:\n%s", r)
	}
	for args, want := range map[string][]string{
		"--new":            {"3", "4", "5"},
		"--run 1":          {"1", "2"},
		"--all":            {"1", "2", "3", "4", "5"},
		"--since 7d":       {"1", "2"},
		"--since 30d":      {"1", "2", "3", "4", "5"},
		"--new --since 7d": nil,
	} {
		if got := reports(strings.Fields(args)...); !slices.Equal(got, want) {
			t.Errorf("hits %s: reports %v, want %v", args, got, want)
		}
	}
	mustCode(t, cli.ExitCannotRun, "--state", f.state, "hits", "--events", "--all", "--new")
}

func TestNamesAreChecked(t *testing.T) {
	isolate(t)
	f := newFixture(t)
	st := func(args ...string) []string { return append([]string{"--state", f.state}, args...) }
	for _, c := range []struct {
		args []string
		want string // in stderr
	}{
		{st("hits", "--events", "--all", "--hunt", "CobaltStrikeJRAM"), "hint: did you mean CobaltStrikeJARM?"},
		{st("hits", "--events", "--all", "--device", "ws10"), "hint: did you mean ws01?"},
		{st("hits", "--events", "--all", "--device", "ws01.contoso.lcoal"), "hint: did you mean ws01.contoso.local?"},
		{st("hits", "--events", "--run", "99"), "hint: the latest is run 2"},
		{st("indicators", "--hunt", "DeimosC3"), "did you mean DeimosC2?"},
		{st("suppress", "--device", "ws-01", "--reason", "x"), "did you mean ws01?"},
		{st("suppress", "--device", "ws-01", "--reason", "x"), "--unseen suppresses a name not seen yet"},
		{st("suppress", "--hunt", "PoshC", "--reason", "x"), "did you mean PoshC2?"},
	} {
		r := mustCode(t, cli.ExitCannotRun, c.args...)
		if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "no ") {
			t.Errorf("%v: want %q:\n%s", c.args, c.want, r)
		}
	}
	// The short name matches the full one; case does not matter.
	for _, dev := range []string{"ws01", "WS01.contoso.local"} {
		var hits []store.StoredHit
		r := mustCode(t, 0, st("hits", "--events", "--all", "--device", dev, "--json")...)
		if err := json.Unmarshal([]byte(r.stdout), &hits); err != nil || len(hits) != 2 {
			t.Errorf("hits --device %s: %d hits (%v), want 2", dev, len(hits), err)
		}
	}
	// A hunt of the config that has not run yet is no typo: an empty list.
	if r := mustCode(t, 0, st("hits", "--events", "--all", "--hunt", "PoshC2", "--json")...); r.stdout != "[]\n" {
		t.Errorf("hits --hunt PoshC2: %q", r.stdout)
	}
	// A device not seen yet can be suppressed on purpose.
	mustCode(t, 0, st("suppress", "--device", "lab-sandbox-01", "--reason", "detonation box", "--unseen")...)
}

func TestSuppressMarksHitsAlreadyRecorded(t *testing.T) {
	isolate(t)
	f := newFixture(t)
	st := func(args ...string) []string { return append([]string{"--state", f.state}, args...) }
	suppressed := func() []string {
		var hits []store.StoredHit
		r := mustCode(t, 0, st("hits", "--events", "--all", "--json")...)
		if err := json.Unmarshal([]byte(r.stdout), &hits); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range hits {
			if h.Suppressed != "" {
				out = append(out, h.ReportID)
			}
		}
		slices.Sort(out)
		return out
	}
	r := mustCode(t, 0, st("suppress", "--device", "ws01", "--reason", "sandbox")...)
	if !strings.Contains(r.stdout, "suppressed device ws01: sandbox") || !strings.Contains(r.stdout, "now marked: 2") {
		t.Errorf("suppress --device ws01:\n%s", r)
	}
	if got := suppressed(); !slices.Equal(got, []string{"1", "3"}) {
		t.Errorf("suppressed hits %v, want 1 and 3", got)
	}
	r = mustCode(t, 0, st("hits", "--events", "--all")...)
	if !regexp.MustCompile(`(?m)^.*ws01\.contoso\.local.*suppressed: device ws01: sandbox`).MatchString(r.stdout) {
		t.Errorf("hits table does not mark the suppressed hits:\n%s", r.stdout)
	}
	r = mustCode(t, 0, st("unsuppress", "--device", "ws01")...)
	if !strings.Contains(r.stdout, "unmarked (not alerted again: they are not new): 2") {
		t.Errorf("unsuppress:\n%s", r)
	}
	if got := suppressed(); len(got) != 0 {
		t.Errorf("still suppressed after unsuppress: %v", got)
	}
}

func TestVersionAndBareUsage(t *testing.T) {
	isolate(t)
	v := mustCode(t, 0, "version")
	for _, want := range []string{"c2sweep ", "commit: ", "go: " + runtime.Version()} {
		if !strings.Contains(v.stdout, want) {
			t.Errorf("version lacks %q:\n%s", want, v.stdout)
		}
	}
	if r := mustCode(t, 0, "--version"); r.stdout != v.stdout {
		t.Errorf("--version prints %q, version %q", r.stdout, v.stdout)
	}
	// Bare c2sweep: the usage, as --help, not an error.
	r := mustCode(t, 0)
	if h := mustCode(t, 0, "--help"); r.stdout != h.stdout || !strings.Contains(r.stdout, "Usage: c2sweep") || r.stderr != "" {
		t.Errorf("bare c2sweep:\n%s", r)
	}
}

// Hunt names share a cell joined one way for people (", ", as the report
// and the alerts write them) and one way in CSV (";").
func TestHuntNamesJoinOneWay(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(ctx, state, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(ctx, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	ip := netip.MustParseAddr("198.51.100.7")
	hunts := []string{"CobaltStrikeJARM", "DeimosC2"}
	run, err := st.BeginRun(ctx, store.RunInfo{Command: "run", Started: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var sightings []indicator.Sighting
	for _, h := range hunts {
		sightings = append(sightings, indicator.Sighting{Hunt: h, Source: "shodan", Port: 443, Transport: "tcp", LastSeen: now.Add(-time.Hour)})
	}
	if err := st.UpsertIndicators(ctx, run, now, []*indicator.Indicator{{IP: ip, Sightings: sightings}}); err != nil {
		t.Fatal(err)
	}
	hit := indicator.Hit{Table: "DeviceNetworkEvents", Column: "RemoteIP", IP: ip, Timestamp: now.Add(-2 * time.Hour),
		DeviceID: "id-ws01", Device: "ws01.contoso.local", Port: 443, ReportID: "1", Hunts: hunts}
	if _, err := st.CommitSweep(ctx, run, "DeviceNetworkEvents.RemoteIP", []netip.Addr{ip}, now, []indicator.Hit{hit}); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(ctx, run, store.RunResult{Outcome: store.OutcomeOK, Finished: now, Indicators: 1, Hits: 1}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, l := range [][]string{{"hits", "--all"}, {"indicators"}} {
		args := append([]string{"--state", state}, l...)
		if r := mustCode(t, 0, args...); !strings.Contains(r.stdout, "CobaltStrikeJARM, DeimosC2") {
			t.Errorf("%s table: want the hunts joined with \", \"\n%s", l[0], r.stdout)
		}
		r := mustCode(t, 0, append(args, "--format", "csv")...)
		recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("%s csv: %v\n%s", l[0], err, r.stdout)
		}
		i := slices.Index(recs[0], "hunts")
		if i < 0 || recs[1][i] != "CobaltStrikeJARM;DeimosC2" {
			t.Errorf("%s csv: want hunts CobaltStrikeJARM;DeimosC2\n%s", l[0], r.stdout)
		}
	}
}
