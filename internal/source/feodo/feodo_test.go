package feodo

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/source"
)

const blocklist = `[
{"ip_address":"192.0.2.50","port":443,"status":"online","hostname":null,"as_number":64500,"as_name":"EXAMPLE-AS","country":"NL","first_seen":"2026-04-01 00:00:00","last_online":"2026-04-30","malware":"QakBot"},
{"ip_address":"203.0.113.9","port":"8080","status":"offline","hostname":"c2.example.net","as_number":null,"as_name":null,"country":null,"first_seen":"2026-03-01 10:11:12","last_online":null,"malware":"Emotet"},
{"ip_address":"2001:db8::77","port":null,"status":"online","hostname":"None","as_number":64501,"as_name":"V6-AS","country":"DE","first_seen":"2026-04-02 00:00:00","last_online":"2026-04-29","malware":"Dridex"},
{"ip_address":"192.0.2.999","port":443,"status":"online","last_online":"2026-04-30","malware":"QakBot"},
{"ip_address":"10.0.0.1:443","port":443,"status":"online","last_online":"2026-04-30","malware":"QakBot"},
{"ip_address":"198.51.100.1","port":70000,"status":"online","last_online":"2026-04-30","malware":"QakBot"},
{"ip_address":"198.51.100.2","port":443,"status":"online","last_online":"30/04/2026","malware":"QakBot"},
{"ip_address":"198.51.100.3","port":"https","status":"online","last_online":"2026-04-30","malware":"QakBot"},
[1,2]
]`

func TestParse(t *testing.T) {
	got, st, err := Parse(strings.NewReader(blocklist), "Feodo")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		ip, seen, malware, asn, org, country, host, status string
		port                                               int
	}
	wants := []want{
		{"192.0.2.50", "2026-04-30T00:00:00Z", "QakBot", "AS64500", "EXAMPLE-AS", "NL", "", "online", 443},
		{"203.0.113.9", "2026-03-01T10:11:12Z", "Emotet", "", "", "", "c2.example.net", "offline", 8080},
		{"2001:db8::77", "2026-04-29T00:00:00Z", "Dridex", "AS64501", "V6-AS", "DE", "", "online", 0},
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d sightings, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		host := strings.Join(g.Hostnames, ",")
		if g.IP != netip.MustParseAddr(w.ip) || g.LastSeen.Format(time.RFC3339) != w.seen || g.LastSeen.Location() != time.UTC ||
			g.Malware != w.malware || g.ASN != w.asn || g.Org != w.org || g.Country != w.country || host != w.host ||
			strings.Join(g.Tags, ",") != w.status || g.Port != w.port || g.Hunt != "Feodo" || g.Source != "feodo" ||
			g.Reference != "https://feodotracker.abuse.ch/browse/host/"+w.ip+"/" {
			t.Errorf("sighting %d = %+v, want %+v", i, g, w)
		}
	}
	wantSkips := map[string]int{source.SkipInvalidIP: 2, source.SkipBadItem: 3, source.SkipBadTime: 1}
	for k, v := range wantSkips {
		if st.Skipped[k] != v {
			t.Errorf("skipped[%q] = %d, want %d (all %v)", k, st.Skipped[k], v, st.Skipped)
		}
	}
	if st.Read != 9 || st.Kept != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestParseShape(t *testing.T) {
	for _, body := range []string{
		"# first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n2026-04-01 00:00:00,192.0.2.50,443,online,2026-04-30,QakBot\n",
		`<html>404 Not Found</html>`,
		`{"error":"x"}`,
		``,
	} {
		if got, _, err := Parse(strings.NewReader(body), "F"); !errors.Is(err, ErrShape) || got != nil {
			t.Errorf("Parse(%q) = %v, %v; want ErrShape", body, got, err)
		}
	}
	got, st, err := Parse(strings.NewReader(" [ ] "), "F")
	if err != nil || len(got) != 0 || st.Read != 0 {
		t.Errorf("empty list: %v %+v %v", got, st, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(blocklist)
	f.Add(`[{"ip_address":"::ffff:1.2.3.4","port":"1","last_online":"2026-01-01"}]`)
	f.Fuzz(func(t *testing.T, body string) {
		got, st, err := Parse(strings.NewReader(body), "F")
		if err != nil && len(got) > 0 {
			t.Fatal("sightings with an error")
		}
		if st.Read != st.Kept+st.Skipped.Total() || st.Kept != len(got) {
			t.Fatalf("stats %+v for %d sightings", st, len(got))
		}
		for _, g := range got {
			if !g.IP.IsValid() || g.IP.Is4In6() || g.IP.Zone() != "" || g.IP.IsLoopback() || g.IP.IsUnspecified() ||
				g.Port < 0 || g.Port > 65535 || g.LastSeen.IsZero() || g.LastSeen.Location() != time.UTC {
				t.Fatalf("bad sighting %+v", g)
			}
		}
	})
}
