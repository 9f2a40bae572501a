package cli_test

// hits rolls events up per device and C2 server, and joins the server's
// context from the sources: the shapes of --json and CSV are golden.

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

const (
	defenderWS01 = "0123456789abcdef0123456789abcdef01234567"
	encodedCmd   = "powershell.exe -nop -w hidden -encodedcommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"
)

// rollupState is a state of one run: ws01 beacons to one server over two
// days (four events, two ports, two command lines) and talks to a second
// one once; ws02, without a Defender id, contacts the first once.
func rollupState(t *testing.T) string {
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
	now := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	ipA, ipB := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.9")
	hit := func(ip netip.Addr, id, device, report string, ts time.Time, port int, cmd string) indicator.Hit {
		return indicator.Hit{Table: "DeviceNetworkEvents", Column: "RemoteIP", IP: ip, Timestamp: ts, DeviceID: id, Device: device,
			Account: "corp\\alice", Port: port, Action: "ConnectionSuccess", Process: "powershell.exe", Command: cmd,
			ReportID: report, Hunts: []string{"CobaltStrikeJARM"}}
	}
	day1 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	hits := []indicator.Hit{
		hit(ipA, defenderWS01, "ws01.contoso.local", "1", day1, 443, encodedCmd),
		hit(ipA, defenderWS01, "ws01.contoso.local", "2", day1.Add(time.Hour), 443, encodedCmd),
		hit(ipA, defenderWS01, "ws01.contoso.local", "3", day1.Add(24*time.Hour), 8443, encodedCmd),
		hit(ipA, defenderWS01, "ws01.contoso.local", "4", day1.Add(25*time.Hour), 443, "powershell.exe -c iex"),
		hit(ipB, defenderWS01, "ws01.contoso.local", "5", day1.Add(2*time.Hour), 80, encodedCmd),
		hit(ipA, "", "ws02", "6", day1.Add(3*time.Hour), 443, "rundll32.exe beacon.dll,Start"),
	}
	hits[5].Account, hits[5].Process = "corp\\bob", "rundll32.exe"
	run, err := st.BeginRun(ctx, store.RunInfo{Command: "run", Started: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertIndicators(ctx, run, now, []*indicator.Indicator{
		{IP: ipA, Sightings: []indicator.Sighting{{Hunt: "CobaltStrikeJARM", Source: "shodan", Port: 443, Transport: "tcp",
			Product: "Cobalt Strike Beacon", Org: "Example Hosting", ASN: "AS64500", Country: "NL",
			JARM: "07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1", LastSeen: now.Add(-time.Hour)}}},
		{IP: ipB, Sightings: []indicator.Sighting{{Hunt: "CobaltStrikeJARM", Source: "shodan", Port: 80, Transport: "tcp",
			Org: "Other Cloud", ASN: "AS64501", Country: "DE", LastSeen: now.Add(-2 * time.Hour)}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CommitSweep(ctx, run, "DeviceNetworkEvents.RemoteIP", []netip.Addr{ipA, ipB}, now, hits); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(ctx, run, store.RunResult{Outcome: store.OutcomeOK, Finished: now.Add(time.Minute), Indicators: 2, Hits: len(hits)}); err != nil {
		t.Fatal(err)
	}
	return path
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -run %s -update to accept):\n%s", name, t.Name(), got)
	}
}

func TestHitsRollUpPerDeviceAndServer(t *testing.T) {
	isolate(t)
	state := rollupState(t)
	golden(t, "hits-rollup.json", mustCode(t, 0, "--state", state, "hits", "--json").stdout)
	golden(t, "hits-rollup.csv", mustCode(t, 0, "--state", state, "hits", "--format", "csv").stdout)

	// A terminal gets three rows, the command line shortened.
	r := mustCode(t, 0, "--state", state, "hits")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("hits table: want a header and 3 rows:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, encodedCmd) || !strings.Contains(r.stdout, "powershell.exe -nop -w hidden") ||
		!strings.Contains(r.stdout, "198.51.100.7:443 (+1 ports)") || !strings.Contains(lines[1], "  4  ") {
		t.Errorf("hits table does not roll up or shorten:\n%s", r.stdout)
	}
	// --events keeps one row per event.
	if r := mustCode(t, 0, "--state", state, "hits", "--events"); strings.Count(r.stdout, "\n") != 7 {
		t.Errorf("hits --events: want a header and 6 events:\n%s", r.stdout)
	}
}

func TestHitsPivot(t *testing.T) {
	isolate(t)
	state := rollupState(t)
	r := mustCode(t, 0, "--state", state, "hits", "--pivot")
	// One pair of queries per rolled-up hit: ws01 by its Defender id, ws02
	// by name; the timeline one hour either side of the first contact.
	for _, want := range []string{
		"// ws01.contoso.local -> 198.51.100.7:443 (+1 ports), first contact 2026-11-28T09:00:00Z, 4 events",
		`| where DeviceId == "` + defenderWS01 + `"`,
		"| where Timestamp between (datetime(2026-11-28T08:00:00.0000000Z) .. datetime(2026-11-28T10:00:00.0000000Z))",
		`| where DeviceName =~ "ws02"`,
		`| where RemoteIP == "203.0.113.9"`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("hits --pivot lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "union DeviceNetworkEvents, DeviceEvents"); n != 3 {
		t.Errorf("hits --pivot: %d timelines, want 3:\n%s", n, r.stdout)
	}
	mustCode(t, 3, "--state", state, "hits", "--pivot", "--events")
}
