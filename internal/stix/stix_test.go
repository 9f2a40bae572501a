package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/stix/stixtest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json")

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// sample has what a bundle can carry: IPv4 (given IPv4-mapped) and IPv6,
// two spellings of one family, a server without family, contacts and
// none, and text a platform must show as text.
func sample() Input {
	return Input{
		Organisation: "Contoso <Security> & \"Ops\"",
		TTL:          30 * 24 * time.Hour,
		Servers: []Server{
			{
				IP:        netip.MustParseAddr("2001:db8::7"),
				Families:  []string{"Sliver"},
				Hunts:     []string{"SliverJARM"},
				Sources:   []string{"shodan"},
				Ports:     []int{8888, 443, 443},
				FirstSeen: at("2026-11-02T08:00:00.123456Z"),
				LastSeen:  at("2026-11-20T10:00:00Z"),
			},
			{
				IP:         netip.MustParseAddr("::ffff:198.51.100.7"),
				Families:   []string{"Cobalt Strike", "cobalt strike"},
				Hunts:      []string{"CobaltStrikeJARM", "CobaltStrikeProductName"},
				Sources:    []string{"shodan", "threatfox"},
				Ports:      []int{443},
				FirstSeen:  at("2026-11-01T00:00:00Z"),
				LastSeen:   at("2026-11-19T12:30:00+01:00"),
				Confidence: 80,
				Labels:     []string{"o'brien\\<script>", " "},
				Contacts:   Contacts{First: at("2026-11-18T09:15:00.5Z"), Last: at("2026-11-19T17:00:00Z"), Count: 12},
			},
			{
				IP:        netip.MustParseAddr("203.0.113.9"),
				Hunts:     []string{"DeimosC2"},
				Sources:   []string{"shodan"},
				FirstSeen: at("2026-11-10T00:00:00Z"),
				LastSeen:  at("2026-11-10T00:00:00Z"),
				Contacts:  Contacts{First: at("2026-11-11T00:00:00Z"), Last: at("2026-11-11T00:00:00Z"), Count: 1},
			},
		},
	}
}

func encode(t *testing.T, in Input) []byte {
	t.Helper()
	b, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := stixtest.Validate(data); err != nil {
		t.Fatalf("the bundle is not valid STIX 2.1:\n%v\n%s", err, data)
	}
	return append(data, '\n')
}

func TestGoldenBundle(t *testing.T) {
	got := encode(t, sample())
	path := filepath.Join("testdata", "golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bundle differs from %s (go test -run TestGoldenBundle -update to accept):\n%s", path, got)
	}
	if err := stixtest.Validate(want); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

// objects decodes a bundle's objects keyed by type and a name.
func objects(t *testing.T, data []byte) map[string]map[string]any {
	t.Helper()
	var b struct {
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{"bundle": {"id": b.ID}}
	for _, o := range b.Objects {
		key := o["type"].(string)
		for _, k := range []string{"pattern", "value", "sighting_of_ref", "name"} {
			if v, ok := o[k].(string); ok {
				key += " " + v
				break
			}
		}
		if o["type"] == "relationship" {
			key += " " + o["relationship_type"].(string) + " " + o["source_ref"].(string) + " " + o["target_ref"].(string)
		}
		if _, dup := out[key]; dup {
			t.Fatalf("two objects %s", key)
		}
		out[key] = o
	}
	return out
}

func TestContent(t *testing.T) {
	objs := objects(t, encode(t, sample()))
	v4 := objs["indicator [ipv4-addr:value = '198.51.100.7']"]
	v6 := objs["indicator [ipv6-addr:value = '2001:db8::7']"]
	if v4 == nil || v6 == nil {
		t.Fatalf("indicators missing: %v", objs)
	}
	if v4["valid_from"] != "2026-11-01T00:00:00.000Z" || v4["valid_until"] != "2026-12-19T11:30:00.000Z" ||
		v4["created"] != "2026-11-01T00:00:00.000Z" || v4["modified"] != "2026-11-19T11:30:00.000Z" {
		t.Errorf("IPv4 indicator times (valid_until = last seen + TTL, UTC, ms): %v", v4)
	}
	if v4["confidence"] != 80.0 || v4["name"] != "Cobalt Strike C2 198.51.100.7" {
		t.Errorf("IPv4 indicator: %v", v4)
	}
	if _, ok := v6["confidence"]; ok {
		t.Errorf("no source gave a confidence, yet: %v", v6["confidence"])
	}
	if v6["created"] != "2026-11-02T08:00:00.123Z" {
		t.Errorf("created keeps milliseconds only: %v", v6["created"])
	}
	wantLabels := []any{"hunt:CobaltStrikeJARM", "hunt:CobaltStrikeProductName", "o'brien\\<script>", "source:shodan", "source:threatfox"}
	if got, _ := json.Marshal(v4["labels"]); string(got) != string(must(json.Marshal(wantLabels))) {
		t.Errorf("labels %s, want %v", got, wantLabels)
	}
	if objs["malware Cobalt Strike"] == nil || objs["malware cobalt strike"] != nil || objs["malware Sliver"] == nil {
		t.Errorf("one malware object per family, whatever its case: %v", objs)
	}
	if objs["malware Cobalt Strike"]["is_family"] != true {
		t.Errorf("malware is a family: %v", objs["malware Cobalt Strike"])
	}
	org := objs["identity Contoso <Security> & \"Ops\""]
	if org == nil || org["identity_class"] != "organization" {
		t.Fatalf("identity: %v", org)
	}
	s := objs["sighting "+v4["id"].(string)]
	if s == nil || s["count"] != 12.0 || s["first_seen"] != "2026-11-18T09:15:00.500Z" || s["last_seen"] != "2026-11-19T17:00:00.000Z" {
		t.Errorf("sighting of the IPv4 server: %v", s)
	}
	if w := s["where_sighted_refs"].([]any); len(w) != 1 || w[0] != org["id"] {
		t.Errorf("sighted at %v, want the organisation %v", w, org["id"])
	}
	if objs["sighting "+v6["id"].(string)] != nil {
		t.Error("a server nobody contacted has a sighting")
	}
	infra := objs["infrastructure C2 server 198.51.100.7 (Cobalt Strike)"]
	if infra == nil || infra["infrastructure_types"].([]any)[0] != "command-and-control" {
		t.Fatalf("infrastructure: %v", infra)
	}
	for _, r := range []string{
		"indicates " + v4["id"].(string) + " " + objs["malware Cobalt Strike"]["id"].(string),
		"indicates " + v4["id"].(string) + " " + infra["id"].(string),
		"controls " + infra["id"].(string) + " " + objs["malware Cobalt Strike"]["id"].(string),
		"consists-of " + infra["id"].(string) + " " + objs["ipv4-addr 198.51.100.7"]["id"].(string),
	} {
		if objs["relationship "+r] == nil {
			t.Errorf("no relationship %s", r)
		}
	}
	// A server without family still gets its indicator and infrastructure.
	if objs["indicator [ipv4-addr:value = '203.0.113.9']"]["name"] != "unknown family C2 203.0.113.9" {
		t.Errorf("familyless server: %v", objs)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// Text from sources is JSON-escaped and nothing more: a platform shows it
// as given, and nothing in it can end the JSON string.
func TestUntrustedTextIsOnlyJSONEscaped(t *testing.T) {
	in := sample()
	in.Servers[1].Families = []string{"Evil\"},{\"type\":\"x\u2028</script>"}
	data := encode(t, in)
	objs := objects(t, data)
	if objs["malware Evil\"},{\"type\":\"x\u2028</script>"] == nil {
		t.Errorf("the family name did not survive JSON:\n%s", data)
	}
	if bytes.Contains(data, []byte("</script>")) {
		t.Error("'<' is written raw; encoding/json escapes it")
	}
}

func TestIDsAreStableAndFollowContent(t *testing.T) {
	base := encode(t, sample())
	// Same content, other order: the same bytes.
	in := sample()
	in.Servers[0], in.Servers[2] = in.Servers[2], in.Servers[0]
	in.Organisation = " " + in.Organisation + "\n"
	if again := encode(t, in); !bytes.Equal(again, base) {
		t.Fatalf("the same content exported twice differs:\n%s\n%s", base, again)
	}
	b := objects(t, base)
	ind := "indicator [ipv4-addr:value = '198.51.100.7']"
	sg := "sighting " + b[ind]["id"].(string)

	// The server seen again: same ids (the platform updates), a newer
	// modified and valid_until, a new bundle id.
	in = sample()
	in.Servers[1].LastSeen = in.Servers[1].LastSeen.Add(48 * time.Hour)
	in.Servers[1].Contacts.Count++
	in.Servers[1].Contacts.Last = in.Servers[1].Contacts.Last.Add(time.Hour)
	moved := objects(t, encode(t, in))
	if moved[ind]["id"] != b[ind]["id"] || moved[sg]["id"] != b[sg]["id"] {
		t.Errorf("ids changed with the times: %v -> %v", b[ind]["id"], moved[ind]["id"])
	}
	if moved[ind]["created"] != b[ind]["created"] || moved[ind]["modified"] == b[ind]["modified"] ||
		moved[ind]["valid_until"] == b[ind]["valid_until"] || moved[sg]["modified"] == b[sg]["modified"] {
		t.Errorf("a new version keeps created and moves modified:\n%v\n%v", b[ind], moved[ind])
	}
	if moved["bundle"]["id"] == b["bundle"]["id"] {
		t.Error("new content, same bundle id")
	}

	// An event that arrives late (older than the last contact): a new
	// version of the sighting all the same.
	in = sample()
	in.Servers[1].Contacts.Count++
	in.Servers[1].Contacts.Recorded = at("2026-11-21T00:00:00Z")
	late := objects(t, encode(t, in))
	if late[sg]["id"] != b[sg]["id"] || late[sg]["modified"] != "2026-11-21T00:00:00.000Z" || late[sg]["last_seen"] != b[sg]["last_seen"] {
		t.Errorf("a late event: %v, was %v", late[sg], b[sg])
	}

	// Other identifying content: other ids.
	in = sample()
	in.Servers[1].IP = netip.MustParseAddr("198.51.100.8")
	other := objects(t, encode(t, in))
	if n := other["indicator [ipv4-addr:value = '198.51.100.8']"]; n == nil || n["id"] == b[ind]["id"] {
		t.Errorf("another address kept the indicator id %v", b[ind]["id"])
	}
	in = sample()
	in.Organisation = "Fabrikam"
	other = objects(t, encode(t, in))
	if other[sg]["id"] == b[sg]["id"] || other["identity Fabrikam"]["id"] == b["identity Contoso <Security> & \"Ops\""]["id"] {
		t.Error("another organisation kept the identity or sighting id")
	}
	if other[ind]["id"] != b[ind]["id"] {
		t.Error("the indicator's id depends on the organisation")
	}
}

func TestPatternLiteralIsEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7": `'198.51.100.7'`,
		`a'b\c`:        `'a\'b\\c'`,
		`\'`:           `'\\\''`,
	} {
		if got := patternString(in); got != want {
			t.Errorf("patternString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestUUID5(t *testing.T) {
	// RFC 9562's DNS namespace; the value every UUIDv5 implementation gives.
	if got := uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"); got != "886313e1-3b8a-5372-9b90-0c9aee199e5d" {
		t.Errorf("uuid5 DNS python.org = %s", got)
	}
	// The id every STIX 2.1 producer gives this address.
	objs := objects(t, encode(t, Input{Organisation: "x", TTL: time.Hour, Servers: []Server{{
		IP: netip.MustParseAddr("198.51.100.3"), FirstSeen: at("2026-11-01T00:00:00Z"), LastSeen: at("2026-11-01T00:00:00Z"),
	}}}))
	if got := objs["ipv4-addr 198.51.100.3"]["id"]; got != "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4" {
		t.Errorf("ipv4-addr id %v", got)
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	ok := func() Server {
		return Server{IP: netip.MustParseAddr("192.0.2.1"), FirstSeen: at("2026-11-01T00:00:00Z"), LastSeen: at("2026-11-02T00:00:00Z")}
	}
	for name, tc := range map[string]struct {
		in   Input
		want string
	}{
		"no organisation": {Input{TTL: time.Hour}, "no name"},
		"no TTL":          {Input{Organisation: "x"}, "TTL"},
		"zone":            {Input{Organisation: "x", TTL: time.Hour, Servers: []Server{func() Server { s := ok(); s.IP = netip.MustParseAddr("fe80::1%eth0"); return s }()}}, "zone"},
		"no IP":           {Input{Organisation: "x", TTL: time.Hour, Servers: []Server{func() Server { s := ok(); s.IP = netip.Addr{}; return s }()}}, "no IP"},
		"last before first": {Input{Organisation: "x", TTL: time.Hour, Servers: []Server{func() Server {
			s := ok()
			s.LastSeen = s.FirstSeen.Add(-time.Second)
			return s
		}()}}, "before first seen"},
		"confidence": {Input{Organisation: "x", TTL: time.Hour, Servers: []Server{func() Server { s := ok(); s.Confidence = 101; return s }()}}, "0-100"},
		"contacts without time": {Input{Organisation: "x", TTL: time.Hour, Servers: []Server{func() Server {
			s := ok()
			s.Contacts.Count = 3
			return s
		}()}}, "first and last time"},
		"twice": {Input{Organisation: "x", TTL: time.Hour, Servers: []Server{ok(), func() Server {
			s := ok()
			s.IP = netip.MustParseAddr("::ffff:192.0.2.1")
			return s
		}()}}, "twice"},
	} {
		_, err := Build(tc.in)
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInput with %q", name, err, tc.want)
		}
	}
}
