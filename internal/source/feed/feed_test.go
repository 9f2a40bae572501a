package feed

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/source"
)

var seen = time.Date(2026, 4, 30, 8, 0, 0, 0, time.FixedZone("CEST", 2*3600))

// got renders sightings as "ip:port label" lines for comparison.
func got(t *testing.T, sgs []source.Sighting) string {
	t.Helper()
	var lines []string
	for _, s := range sgs {
		if !s.LastSeen.Equal(seen) || s.LastSeen.Location() != time.UTC || s.Source != "feed" || s.Hunt != "H" {
			t.Errorf("sighting %+v: wrong time, source or hunt", s)
		}
		l := s.IP.String()
		if s.Port != 0 {
			l += ":" + strconv.Itoa(s.Port)
		}
		if s.Malware != "" {
			l += " " + s.Malware
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		body string
		want string
		skip map[string]int
	}{
		{
			name: "c2-tracker text",
			o:    Options{Name: "https://example.org/data/Sliver%20C2%20IPs.txt"},
			body: "1.94.183.238\n45.76.1.2\n2001:db8::9\n",
			want: "1.94.183.238\n45.76.1.2\n2001:db8::9",
		},
		{
			name: "text with comments, ports, v6 in brackets, CRLF, BOM and bad lines",
			o:    Options{Format: Text},
			body: "\ufeff# C2 servers\r\n\r\n192.0.2.10 # seen by us\r\n  198.51.100.7:8443\r\n[2001:db8::1]:443\r\n" +
				"999.1.1.1\r\n192.0.2.0/24\r\n192.0.2.1-192.0.2.9\r\n127.0.0.1\r\nevil.example.com\r\n192.0.2.10\r\n::ffff:203.0.113.5\r\n",
			want: "192.0.2.10\n198.51.100.7:8443\n2001:db8::1:443\n192.0.2.10\n203.0.113.5",
			skip: map[string]int{source.SkipInvalidIP: 3, SkipRange: 2},
		},
		{
			name: "c2intelfeeds csv, commented header, label by name",
			o:    Options{Name: "feeds/IPC2s.csv", Column: "ip", LabelColumn: "ioc"},
			body: "#ip,ioc\n1.94.183.238,Possible Cobaltstrike C2 IP\n43.138.20.1,Possible Metasploit C2 IP\n" +
				"not-an-ip,Possible Powershell Empire C2 IP\n",
			want: "1.94.183.238 Possible Cobaltstrike C2 IP\n43.138.20.1 Possible Metasploit C2 IP",
			skip: map[string]int{source.SkipInvalidIP: 1},
		},
		{
			name: "threatfox export: banner, commented quoted header, spaces after commas, None, reordered columns, trailer",
			o:    Options{Format: CSV, Column: "ioc_value", LabelColumn: "malware_printable"},
			body: `################################################################
# ThreatFox IOCs: recent                                       #
# Last updated: 2024-07-16 05:30:11 UTC                        #
#                                                              #
# Terms Of Use: https://threatfox.abuse.ch/faq/#tos            #
################################################################
#
# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","is_compromised","reference","tags","anonymous","reporter"
"2024-07-16 05:25:36", "1301610", "8.134.12.90:7777", "ip:port", "botnet_cc", "win.cobalt_strike", "None", "Cobalt Strike", "", "100", "0", "None", "c2", "0", "drb_ra"
"2024-07-16 05:20:00", "1301611", "https://evil.example.com/x", "url", "payload_delivery", "win.qakbot", "None", "None", "", "75", "0", "None", "None", "0", "x"
"2024-07-16 05:10:00", "1301612", "[2001:db8::5]:443", "ip:port", "botnet_cc", "win.sliver", "None", "Sliver", "", "75", "0", "None", "None", "0", "x"
"2024-07-16 05:00:00", "1301613"
# Number of entries: 4
`,
			want: "8.134.12.90:7777 Cobalt Strike\n2001:db8::5:443 Sliver",
			skip: map[string]int{source.SkipInvalidIP: 1, SkipShortRow: 1},
		},
		{
			name: "feodo csv: names differ from the json",
			o:    Options{Format: CSV, Column: "dst_ip", LabelColumn: "malware"},
			body: "# Feodo Tracker\n# first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n" +
				"2026-04-01 00:00:00,192.0.2.50,443,online,2026-04-30,QakBot\n2026-04-01 00:00:00,203.0.113.9,8080,offline,2026-04-02,Emotet\n",
			want: "192.0.2.50 QakBot\n203.0.113.9 Emotet",
		},
		{
			name: "uncommented header, default first column",
			o:    Options{Format: CSV},
			body: "address,family\n198.51.100.1,Sliver\n198.51.100.2,Havoc\n",
			want: "198.51.100.1\n198.51.100.2",
		},
		{
			name: "uncommented header found by name",
			o:    Options{Format: CSV, Column: "IP", LabelColumn: "Family"},
			body: "seen,ip,family\n2026-04-01,198.51.100.1,\"Sliver, maybe\"\n2026-04-01,198.51.100.2,None\n",
			want: "198.51.100.1 Sliver, maybe\n198.51.100.2",
		},
		{
			name: "no header, first column; a field with a newline inside",
			o:    Options{Format: CSV},
			body: "198.51.100.3,\"multi\nline\"\n198.51.100.4,x\n",
			want: "198.51.100.3\n198.51.100.4",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Hunt, tc.o.Seen = "H", seen
			sgs, st, err := Parse(strings.NewReader(tc.body), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if g := got(t, sgs); g != tc.want {
				t.Errorf("got\n%s\nwant\n%s", g, tc.want)
			}
			if len(tc.skip) != len(st.Skipped) {
				t.Errorf("skipped %v, want %v", st.Skipped, tc.skip)
			}
			for k, v := range tc.skip {
				if st.Skipped[k] != v {
					t.Errorf("skipped[%q] = %d, want %d (all %v)", k, st.Skipped[k], v, st.Skipped)
				}
			}
			if st.Read != st.Kept+st.Skipped.Total() || st.Kept != len(sgs) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		body string
		want error
	}{
		{"empty body", Options{Format: Text}, "", ErrEmpty},
		{"only comments", Options{Format: Text}, "# Sliver C2 IPs\n\n# none this week\n", ErrEmpty},
		{"csv header only", Options{Format: CSV, Column: "ip"}, "#ip,ioc\n", ErrEmpty},
		{"an html error page", Options{Format: Text}, "<html>\n<head><title>404 Not Found</title></head>\n</html>\n", ErrShape},
		{"json where text was expected", Options{Format: Text}, `{"ips":["1.2.3.4"]}`, ErrShape},
		{"csv read as text", Options{Format: Text}, "1.94.183.238,Possible Cobaltstrike C2 IP\n", ErrShape},
		{"csv column renamed", Options{Format: CSV, Column: "ip"}, "#address,ioc\n1.94.183.238,x\n", ErrShape},
		{"csv label column missing", Options{Format: CSV, Column: "ip", LabelColumn: "family"}, "#ip,ioc\n1.94.183.238,x\n", ErrShape},
		{"csv column holds no ips", Options{Format: CSV, Column: "ioc"}, "#ip,ioc\n1.94.183.238,x\n", ErrShape},
		{"a line too long", Options{Format: Text}, "1.2.3.4\n" + strings.Repeat("9", MaxLine+1) + "\n", ErrLineTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Seen = seen
			sgs, _, err := Parse(strings.NewReader(tc.body), tc.o)
			if !errors.Is(err, tc.want) || sgs != nil {
				t.Fatalf("got %v, %v; want %v", sgs, err, tc.want)
			}
		})
	}
	_, _, err := Parse(strings.NewReader("#address,ioc\n1.2.3.4,x\n"), Options{Format: CSV, Column: "ip", Seen: seen})
	if want := `feed changed shape: no column "ip" in the header "address,ioc"`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if _, _, err := Parse(strings.NewReader("1.2.3.4\n"), Options{}); err == nil {
		t.Error("no error without Seen")
	}
	if _, _, err := Parse(strings.NewReader("1.2.3.4\n"), Options{Seen: seen, Format: "xml"}); err == nil {
		t.Error("no error for an unknown format")
	}
}

func TestFormatFor(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.org/c2/ips.csv": CSV, "https://example.org/c2/IPS.CSV?x=1": CSV, "./feeds/ips.txt": Text,
		"https://example.org/data/Sliver%20C2%20IPs.txt": Text, "feeds/IPC2s-30day.csv": CSV, "https://example.org/list": Text,
	} {
		if got := FormatFor(in); got != want {
			t.Errorf("FormatFor(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("#ip,ioc\n1.94.183.238,Possible Cobaltstrike C2 IP\n", true, "ip", "ioc")
	f.Add("# x\n192.0.2.1:80\n[2001:db8::1]:443\n", false, "", "")
	f.Add("a,b\n\"1.2.3.4\", x\n", true, "", "b")
	f.Fuzz(func(t *testing.T, body string, csv bool, col, label string) {
		o := Options{Format: Text, Seen: seen, Column: col, LabelColumn: label}
		if csv {
			o.Format = CSV
		}
		sgs, st, err := Parse(strings.NewReader(body), o)
		if err != nil && sgs != nil {
			t.Fatal("sightings with an error")
		}
		if err == nil && (len(sgs) == 0 || st.Kept != len(sgs) || st.Read != st.Kept+st.Skipped.Total()) {
			t.Fatalf("stats %+v for %d sightings", st, len(sgs))
		}
		for _, g := range sgs {
			if !g.IP.IsValid() || g.IP.Is4In6() || g.IP.Zone() != "" || g.IP.IsLoopback() || g.IP.IsUnspecified() ||
				g.Port < 0 || g.Port > 65535 || !g.LastSeen.Equal(seen) {
				t.Fatalf("bad sighting %+v", g)
			}
		}
	})
}
