package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/cli"
	"c2sweep/internal/stix/stixtest"
)

// A state made by a lab run exports as a valid STIX 2.1 bundle: one
// indicator per stored C2 server, a sighting with the stored hits of each
// server that devices contacted, and the same bytes when exported again.
func TestExportStixFromLabRun(t *testing.T) {
	state, out := runEnv(t)
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }
	mustCode(t, cli.ExitHits, st("run", "--hunt", "CobaltStrikeJARM", "--hunt", "DeimosC2", "--out", out)...)

	var inds []struct {
		IP    string   `json:"ip"`
		Hunts []string `json:"hunts"`
	}
	if err := json.Unmarshal([]byte(mustCode(t, 0, st("indicators", "--active", "--json")...).stdout), &inds); err != nil {
		t.Fatal(err)
	}
	hits := decodeHits(t, mustCode(t, 0, st("hits", "--events", "--all", "--format", "json")...).stdout)
	if len(inds) == 0 || len(hits) < 2 {
		t.Fatalf("the lab run left %d indicators and %d hits", len(inds), len(hits))
	}
	// A suppressed contact is benign: it makes no sighting.
	sup := hits[0].IP
	mustCode(t, 0, st("suppress", sup, "--reason", "sinkhole")...)
	hits = decodeHits(t, mustCode(t, 0, st("hits", "--events", "--all", "--format", "json")...).stdout)
	perIP := map[string]int{}
	for _, h := range hits {
		if h.Suppressed == "" {
			perIP[h.IP]++
		}
	}
	if perIP[sup] != 0 || len(perIP) == 0 {
		t.Fatalf("after suppressing %s: unsuppressed hits per IP %v", sup, perIP)
	}

	file := filepath.Join(t.TempDir(), "bundle.json")
	r := mustCode(t, 0, st("export", "stix", "--org", "Contoso Lab", "-o", file)...)
	if r.stdout != "" || !strings.Contains(r.stderr, "wrote "+file) {
		t.Errorf("export -o: %s", r)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := stixtest.Validate(data); err != nil {
		t.Fatalf("exported bundle is not valid STIX 2.1: %v", err)
	}
	if fi, err := os.Stat(file); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm()&^0o640 != 0) {
		t.Errorf("bundle file mode %v (%v), want at most 0640", fi.Mode(), err)
	}

	var b struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	patterns := map[string]string{} // indicator id -> pattern
	count := map[string]int{}       // pattern -> sighting count
	var families []string
	for _, o := range b.Objects {
		switch o["type"] {
		case "indicator":
			patterns[o["id"].(string)] = o["pattern"].(string)
		case "malware":
			families = append(families, o["name"].(string))
		}
	}
	for _, o := range b.Objects {
		if o["type"] == "sighting" {
			count[patterns[o["sighting_of_ref"].(string)]] = int(o["count"].(float64))
		}
	}
	if len(patterns) != len(inds) {
		t.Errorf("%d indicators in the bundle, %d in the state", len(patterns), len(inds))
	}
	for _, in := range inds {
		kind := "ipv4-addr"
		if strings.Contains(in.IP, ":") {
			kind = "ipv6-addr"
		}
		p := "[" + kind + ":value = '" + in.IP + "']"
		if count[p] != perIP[in.IP] {
			t.Errorf("%s: sighting count %d, want the %d stored hits", in.IP, count[p], perIP[in.IP])
		}
	}
	if strings.Join(families, ",") != "Cobalt Strike,Deimos" {
		t.Errorf("families %v, want the catalog families of the two hunts", families)
	}

	// Again, to stdout: the same bundle.
	r = mustCode(t, 0, st("export", "stix", "--org", "Contoso Lab")...)
	if !bytes.Equal([]byte(r.stdout), data) {
		t.Error("a second export of the same state differs from the first")
	}

	// --ttl: valid_until is the server's last sighting by a source plus it.
	r = mustCode(t, 0, st("export", "stix", "--org", "Contoso Lab", "--ttl", "14d")...)
	b.Objects = nil // fresh maps, not the first bundle's
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatal(err)
	}
	last := map[string]string{} // address -> last_seen of its infrastructure
	for _, o := range b.Objects {
		if o["type"] == "infrastructure" {
			last[strings.Fields(o["name"].(string))[2]] = o["last_seen"].(string)
		}
	}
	for _, o := range b.Objects {
		if o["type"] != "indicator" {
			continue
		}
		ip := strings.Trim(strings.SplitN(o["pattern"].(string), " = ", 2)[1], "']")
		l, err1 := time.Parse(time.RFC3339, last[ip])
		u, err2 := time.Parse(time.RFC3339, o["valid_until"].(string))
		if err1 != nil || err2 != nil || u.Sub(l) != 14*24*time.Hour {
			t.Errorf("%s: valid_until %v, last seen %v: want 14 days apart", ip, o["valid_until"], last[ip])
		}
	}

	// A window after every run: no servers, still a valid bundle.
	r = mustCode(t, 0, st("export", "stix", "--org", "Contoso Lab", "--since", "2999-01-01")...)
	if err := stixtest.Validate([]byte(r.stdout)); err != nil || strings.Contains(r.stdout, `"indicator"`) {
		t.Errorf("empty window: %v\n%s", err, r)
	}
	if !strings.Contains(r.stderr, "no C2 servers") {
		t.Errorf("empty window says nothing: %s", r)
	}

	// Refusals: exit 3 with a hint.
	for _, args := range [][]string{
		st("export", "stix"),
		st("export", "stix", "--org", "x", "--ttl", "0"),
		st("export", "stix", "--org", "x", "--since", "soon"),
		st("export", "stix", "--org", "x", "-o", filepath.Join(t.TempDir(), "no", "such", "dir", "b.json")),
		{"--state", filepath.Join(t.TempDir(), "none.db"), "export", "stix", "--org", "x"},
	} {
		r := mustCode(t, cli.ExitCannotRun, args...)
		if r.stdout != "" {
			t.Errorf("%v wrote to stdout: %s", args, r)
		}
	}
}
