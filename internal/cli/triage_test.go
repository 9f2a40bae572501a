package cli_test

// triage against the lab, across runs: marks survive, benign suppresses
// the pair's next hits, every change is kept with its note.

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"c2sweep/internal/cli"
	"c2sweep/internal/report"
	"c2sweep/internal/store"
)

func rolled(t *testing.T, state string, args ...string) []report.Hit {
	t.Helper()
	r := mustCode(t, 0, append([]string{"--state", state, "hits", "--json"}, args...)...)
	var rows []report.Hit
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("hits --json: %v\n%s", err, r.stdout)
	}
	return rows
}

func rowOf(rows []report.Hit, device, ip string) *report.Hit {
	for i := range rows {
		if rows[i].Device == device && rows[i].IP.String() == ip {
			return &rows[i]
		}
	}
	return nil
}

func TestTriageAcrossRuns(t *testing.T) {
	state, out := runEnv(t)
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }
	mustCode(t, cli.ExitHits, st("run", "--hunt", "DeimosC2", "--out", filepath.Join(out, "1"))...)
	rows := rolled(t, state, "--all")
	if len(rows) < 2 {
		t.Fatalf("the seed-1 world changed: want two rolled-up DeimosC2 hits, got %d", len(rows))
	}
	for _, r := range rows {
		if r.Status != "new" {
			t.Fatalf("untriaged row %s %s has status %q, want new", r.Device, r.IP, r.Status)
		}
	}
	a, b := rows[0], rows[1]
	ipA := a.IP.String()

	// Unknown targets are refused, with the nearest name.
	r := mustCode(t, cli.ExitCannotRun, st("triage", strings.TrimSuffix(a.Device, "x")+"zz", "--status", "closed", "--note", "x")...)
	if !strings.Contains(r.stderr, "no device of that name") || !strings.Contains(r.stderr, "hint: did you mean") {
		t.Errorf("unknown device:\n%s", r)
	}
	if r := mustCode(t, cli.ExitCannotRun, st("triage", "192.0.2.254", "--status", "closed", "--note", "x")...); !strings.Contains(r.stderr, "no hit with C2 IP") {
		t.Errorf("unknown IP:\n%s", r)
	}
	if r := c2sweep(t, st("triage", "987654", "--status", "closed", "--note", "x")...); r.code == 0 || !strings.Contains(r.stderr, "no recorded hit of hit 987654") {
		t.Errorf("unknown hit id:\n%s", r)
	}

	// Mark A by its IP, B by its device's short name; change A again.
	r = mustCode(t, 0, st("triage", ipA, "--status", "investigating", "--note", "beacon every 60 s")...)
	if !strings.Contains(r.stdout, "triaged ip "+ipA+" as investigating") {
		t.Errorf("triage ip:\n%s", r)
	}
	short, _, _ := strings.Cut(b.Device, ".")
	mustCode(t, 0, st("triage", short, "--status", "malicious", "--note", "isolated")...)
	mustCode(t, 0, st("triage", strconv.FormatInt(a.HitIDs[0], 10), "--status", "closed", "--note", "reimaged")...)

	// A second run against the lab keeps the marks.
	mustCode(t, 0, st("run", "--hunt", "DeimosC2", "--out", filepath.Join(out, "2"))...)
	rows = rolled(t, state, "--all")
	if ra, rb := rowOf(rows, a.Device, ipA), rowOf(rows, b.Device, b.IP.String()); ra == nil || rb == nil ||
		ra.Status != "closed" || rb.Status != "malicious" {
		t.Fatalf("after a second run the marks are gone: %+v", rows)
	}
	if got := rolled(t, state, "--all", "--status", "malicious"); len(got) != 1 || got[0].Device != b.Device {
		t.Errorf("hits --status malicious: %+v", got)
	}
	if r := mustCode(t, 0, st("hits", "--all", "--events", "--status", "closed", "--format", "csv")...); strings.Count(r.stdout, ",closed,") != a.Events {
		t.Errorf("hits --events --status closed: want %d events:\n%s", a.Events, r.stdout)
	}

	// History: every change, in order, with its note.
	var hist []store.TriageChange
	r = mustCode(t, 0, st("triage", ipA, "--history", "--json")...)
	if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range hist {
		got = append(got, c.Status+": "+c.Note)
	}
	if want := []string{"investigating: beacon every 60 s", "closed: reimaged"}; !slices.Equal(got, want) {
		t.Errorf("history of %s: %q, want %q", ipA, got, want)
	}

	// Benign suppresses the pair: its next hit is stored marked, not alerted.
	r = mustCode(t, 0, st("triage", strconv.FormatInt(a.HitIDs[0], 10), "--status", "benign", "--note", "red team")...)
	if !strings.Contains(r.stdout, "suppressed 1 device and C2 pairs") {
		t.Errorf("triage benign does not say it suppresses:\n%s", r)
	}
	// As if the device contacted the server again: the pair's events and
	// the server's sweep window are forgotten, so the next run finds them anew.
	db, err := sql.Open("sqlite", state)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, q := range []string{"PRAGMA foreign_keys = ON", "DELETE FROM alerts", "DELETE FROM hits WHERE ip = ?", "DELETE FROM sweep_windows WHERE ip = ?"} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{ipA}
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	mustCode(t, 0, st("run", "--hunt", "DeimosC2", "--out", filepath.Join(out, "3"))...)
	s3 := readSummary(t, filepath.Join(out, "3"))
	if s3.Totals.Suppressed < a.Events {
		t.Errorf("run 3 suppressed %d hits, want the %d of the benign pair: %+v", s3.Totals.Suppressed, a.Events, s3.Totals)
	}
	again := rowOf(rolled(t, state, "--all"), a.Device, ipA)
	if again == nil || again.Status != "suppressed" || !strings.HasPrefix(again.Suppressed, "pair ") ||
		!strings.Contains(again.Suppressed, "triaged benign: red team") {
		t.Errorf("the benign pair's next hit: %+v", again)
	}

	// The pair is lifted like every suppression.
	pair := strings.ToLower(a.Device) + " " + ipA
	if r := mustCode(t, 0, st("unsuppress", pair)...); !strings.Contains(r.stdout, "unsuppressed pair "+pair) {
		t.Errorf("unsuppress a pair:\n%s", r)
	}
}
