package cli_test

// hits, runs and report with many sweep targets: a TARGET column, the
// --target filter, the roll-up per target.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/store"
)

// targetState has run 1 (recorded without targets: the default target's
// hit) and run 2, which swept contoso (ok) and agency (failed), with the
// same device and C2 server in both tenants.
func targetState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Lock(ctx, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	ip := netip.MustParseAddr("198.51.100.7")
	hit := func(target, report string, ts time.Time) indicator.Hit {
		return indicator.Hit{Target: target, Table: "DeviceNetworkEvents", Column: "RemoteIP", IP: ip, Timestamp: ts,
			DeviceID: "id-ws01", Device: "ws01", Account: "alice", Port: 443, Process: "rundll32.exe",
			ReportID: report, Hunts: []string{"CobaltStrikeJARM"}}
	}
	for i, c := range []struct {
		hits     []indicator.Hit
		targets  []store.TargetOutcome
		outcome  string
		windowOf string
	}{
		{[]indicator.Hit{hit("", "1", now.Add(-3*time.Hour))}, nil, store.OutcomeOK, ""},
		{[]indicator.Hit{hit("contoso", "1", now.Add(-2*time.Hour)), hit("contoso", "2", now.Add(-90*time.Minute)), hit("Agency", "1", now.Add(-time.Hour))},
			[]store.TargetOutcome{{Name: "contoso", Backend: "graph", Outcome: store.OutcomeOK, Queries: 2, Hits: 2, NewHits: 2},
				{Name: "agency", Backend: "sentinel", Outcome: store.OutcomeFailed, Queries: 2, QueriesFailed: 1, Hits: 1, NewHits: 1, Error: "401"}},
			store.OutcomePartial, "contoso"},
	} {
		run, err := st.BeginRun(ctx, store.RunInfo{Command: "run", Started: now.Add(time.Duration(i-2) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CommitSweep(ctx, run, indicator.WindowKey(c.windowOf, "DeviceNetworkEvents.RemoteIP"), []netip.Addr{ip}, now, c.hits); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(ctx, run, store.RunResult{Outcome: c.outcome, Finished: now.Add(time.Duration(i-2)*time.Hour + time.Minute),
			Indicators: 1, Hits: len(c.hits), Targets: c.targets}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestHitsByTarget(t *testing.T) {
	isolate(t)
	state := targetState(t)
	// Roll-up: the pair in two tenants is two rows, plus the default's.
	r := mustCode(t, 0, "--state", state, "hits", "--all")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "TARGET") {
		t.Fatalf("roll-up:\n%s", r)
	}
	for i, want := range []string{"Agency", "contoso", "default"} {
		if !strings.HasPrefix(lines[i+1], want+" ") || !strings.Contains(lines[i+1], "ws01") {
			t.Errorf("row %d: %q, want target %s", i+1, lines[i+1], want)
		}
	}
	// --target, repeatable, ignoring case.
	var rows []map[string]any
	r = mustCode(t, 0, "--state", state, "hits", "--all", "--target", "CONTOSO", "--target", "agency", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 ||
		rows[0]["target"] != "Agency" || rows[1]["target"] != "contoso" || rows[1]["events"] != float64(2) {
		t.Errorf("--target contoso --target agency --json: %v\n%s", err, r)
	}
	// Events carry the target in JSON and CSV.
	r = mustCode(t, 0, "--state", state, "hits", "--events", "--all", "--target", "contoso", "--json")
	rows = nil
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 || rows[0]["target"] != "contoso" {
		t.Errorf("--events --json: %v\n%s", err, r)
	}
	r = mustCode(t, 0, "--state", state, "hits", "--events", "--all", "--format", "csv", "--target", "default")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][len(recs[0])-1] != "target" || recs[1][len(recs[1])-1] != "default" {
		t.Errorf("--events csv: %v\n%s", err, r)
	}
	// An unknown target is no error, just no rows, said so.
	r = mustCode(t, 0, "--state", state, "hits", "--all", "--target", "fabrikam")
	if !strings.Contains(r.stderr, "no hits for target fabrikam") {
		t.Errorf("unknown target:\n%s", r)
	}
	r = mustCode(t, 0, "--state", state, "hits", "--all", "--target", "fabrikam", "--json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("unknown target --json: %s", r)
	}
	// The latest run's new hits of one target.
	r = mustCode(t, 0, "--state", state, "hits", "--target", "default")
	if !strings.Contains(r.stderr, "no new hits in run 2 for target default") {
		t.Errorf("latest run, default target:\n%s", r)
	}
}

// A state of the default target alone keeps its old table; JSON and CSV
// always name the target.
func TestDefaultTargetTableQuiet(t *testing.T) {
	isolate(t)
	f := newFixture(t)
	for _, args := range [][]string{{"hits", "--all"}, {"hits", "--all", "--events"}, {"runs"}} {
		r := mustCode(t, 0, append([]string{"--state", f.state}, args...)...)
		if strings.Contains(r.stdout, "TARGET") {
			t.Errorf("%v shows a target column for the default target alone:\n%s", args, r.stdout)
		}
		r = mustCode(t, 0, append(append([]string{"--state", f.state}, args...), "--format", "csv")...)
		if !strings.Contains(strings.SplitN(r.stdout, "\n", 2)[0], ",target") {
			t.Errorf("%v csv has no target column:\n%s", args, r.stdout)
		}
	}
	r := mustCode(t, 0, "--state", f.state, "hits", "--all", "--json")
	if !strings.Contains(r.stdout, `"target": "default"`) {
		t.Errorf("hits --json without target:\n%s", r.stdout)
	}
}

func TestRunsByTarget(t *testing.T) {
	isolate(t)
	state := targetState(t)
	r := mustCode(t, 0, "--state", state, "runs")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "TARGETS") ||
		!strings.Contains(lines[1], "contoso, agency (failed)") || !strings.Contains(lines[2], " default ") {
		t.Fatalf("runs:\n%s", r)
	}
	r = mustCode(t, 0, "--state", state, "runs", "--target", "agency", "--json")
	var runs []store.Run
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || len(runs) != 1 || runs[0].ID != 2 ||
		len(runs[0].Targets) != 2 || runs[0].Targets[1].Error != "401" || runs[0].Targets[1].QueriesFailed != 1 {
		t.Errorf("runs --target agency --json: %v\n%s", err, r)
	}
	r = mustCode(t, 0, "--state", state, "runs", "--target", "default", "--format", "csv")
	if recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll(); err != nil || len(recs) != 2 || recs[1][0] != "1" {
		t.Errorf("runs --target default csv: %v\n%s", err, r)
	}
	r = mustCode(t, 0, "--state", state, "runs", "--target", "fabrikam")
	if !strings.Contains(r.stderr, "no runs of target fabrikam") {
		t.Errorf("runs of an unknown target:\n%s", r)
	}
}

func TestReportByTarget(t *testing.T) {
	isolate(t)
	state := targetState(t)
	out := filepath.Join(t.TempDir(), "r.html")
	mustCode(t, 0, "--state", state, "report", "--since", "1d", "--target", "agency", "-o", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if !strings.Contains(page, "<td>Agency</td>") || strings.Contains(page, "<td>contoso</td>") ||
		!strings.Contains(page, "target agency failed") || !strings.Contains(page, "target agency") {
		t.Errorf("report --target agency:\n%s", page)
	}
}
