package threatfox

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/source"
)

// answer is a get_iocs answer in the contract's shape, ugly parts included:
// null last_seen, reference and tags, "None", a domain IOC, an IPv6 IOC in
// brackets, a bad IP, a private-looking but routable IP, loopback, port 0,
// a plain IP, a bad time, a confidence given as a string.
const answer = `{
  "query_status": "ok",
  "data": [
    {"id": "1301610", "ioc": "8.134.12.90:7777", "threat_type": "botnet_cc", "threat_type_desc": "Indicator that identifies a botnet command&control server (C&C)",
     "ioc_type": "ip:port", "ioc_type_desc": "ip:port combination that is used for botnet Command&control (C&C)",
     "malware": "win.cobalt_strike", "malware_printable": "Cobalt Strike", "malware_alias": "Agentemis,BEACON,CobaltStrike,cobeacon",
     "malware_malpedia": "https://malpedia.caad.fkie.fraunhofer.de/details/win.cobalt_strike",
     "confidence_level": 100, "first_seen": "2024-07-16 05:25:36 UTC", "last_seen": null, "reference": null,
     "reporter": "drb_ra", "tags": ["c2", "CobaltStrike"]},
    {"id": "1301611", "ioc": "203.0.113.7:443", "ioc_type": "ip:port", "threat_type": "botnet_cc",
     "malware": "win.sliver", "malware_printable": "Sliver", "malware_alias": null,
     "confidence_level": 75, "first_seen": "2024-07-15 01:00:00 UTC", "last_seen": "2024-07-16 09:10:11 UTC",
     "reference": "https://example.org/report", "reporter": "someone", "tags": null},
    {"id": "1301612", "ioc": "evil.example.com", "ioc_type": "domain", "threat_type": "botnet_cc",
     "malware": "win.sliver", "malware_printable": "Sliver", "confidence_level": 100,
     "first_seen": "2024-07-15 01:00:00 UTC", "last_seen": null, "reference": null, "tags": null},
    {"id": "1301613", "ioc": "[2001:db8:1::5]:8443", "ioc_type": "ip:port", "threat_type": "botnet_cc",
     "malware": "elf.xorddos", "malware_printable": "XOR DDoS", "malware_alias": "None",
     "confidence_level": "80", "first_seen": "2024-07-14 00:00:00 UTC", "last_seen": "None", "reference": "None", "tags": "xorddos, linux"},
    {"id": "1301614", "ioc": "999.1.1.1:80", "ioc_type": "ip:port", "malware": "win.cobalt_strike", "malware_printable": "Cobalt Strike",
     "confidence_level": 100, "first_seen": "2024-07-14 00:00:00 UTC", "last_seen": null},
    {"id": "1301615", "ioc": "127.0.0.1:80", "ioc_type": "ip:port", "malware": "win.cobalt_strike", "malware_printable": "Cobalt Strike",
     "confidence_level": 100, "first_seen": "2024-07-14 00:00:00 UTC", "last_seen": null},
    {"id": "1301616", "ioc": "198.51.100.9:0", "ioc_type": "ip:port", "malware": "win.cobalt_strike", "malware_printable": "Cobalt Strike",
     "confidence_level": 100, "first_seen": "2024-07-14 00:00:00 UTC", "last_seen": null},
    {"id": "1301617", "ioc": "198.51.100.10", "ioc_type": "ip:port", "malware": "win.qakbot", "malware_printable": "QakBot",
     "confidence_level": 50, "first_seen": "2024-07-14 00:00:00 UTC", "last_seen": null, "tags": null},
    {"id": "1301618", "ioc": "198.51.100.11:80", "ioc_type": "ip:port", "malware": "win.qakbot", "malware_printable": "QakBot",
     "confidence_level": 90, "first_seen": "14/07/2024", "last_seen": null},
    {"id": "1301619", "ioc": "0123456789abcdef0123456789abcdef", "ioc_type": "md5_hash", "malware": "win.qakbot",
     "confidence_level": 90, "first_seen": "2024-07-14 00:00:00 UTC"},
    "not an object"
  ]
}`

func utc(s string) time.Time {
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	got, st, err := Parse(strings.NewReader(answer), Filter{Hunt: "TF"})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		ip        string
		port      int
		seen      string
		malware   string
		id        string
		conf      int
		tags      string
		reference string
	}
	wants := []want{
		{"8.134.12.90", 7777, "2024-07-16 05:25:36", "Cobalt Strike", "win.cobalt_strike", 100, "c2,CobaltStrike", "https://threatfox.abuse.ch/ioc/1301610/"},
		{"203.0.113.7", 443, "2024-07-16 09:10:11", "Sliver", "win.sliver", 75, "", "https://threatfox.abuse.ch/ioc/1301611/"},
		{"2001:db8:1::5", 8443, "2024-07-14 00:00:00", "XOR DDoS", "elf.xorddos", 80, "xorddos,linux", "https://threatfox.abuse.ch/ioc/1301613/"},
		{"198.51.100.10", 0, "2024-07-14 00:00:00", "QakBot", "win.qakbot", 50, "", "https://threatfox.abuse.ch/ioc/1301617/"},
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d sightings, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.IP != netip.MustParseAddr(w.ip) || g.Port != w.port || !g.LastSeen.Equal(utc(w.seen)) || g.LastSeen.Location() != time.UTC ||
			g.Malware != w.malware || g.MalwareID != w.id || g.Confidence != w.conf || strings.Join(g.Tags, ",") != w.tags ||
			g.Reference != w.reference || g.Hunt != "TF" || g.Source != "threatfox" {
			t.Errorf("sighting %d = %+v, want %+v", i, g, w)
		}
	}
	wantSkips := map[string]int{source.SkipNotIP: 2, source.SkipInvalidIP: 3, source.SkipBadTime: 1, source.SkipBadItem: 1}
	for k, v := range wantSkips {
		if st.Skipped[k] != v {
			t.Errorf("skipped[%q] = %d, want %d (all: %v)", k, st.Skipped[k], v, st.Skipped)
		}
	}
	if st.Read != 11 || st.Kept != 4 || st.Read != st.Kept+st.Skipped.Total() {
		t.Errorf("stats = %+v", st)
	}
}

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Filter
		ips  []string
		skip map[string]int
	}{
		{"min confidence", Filter{MinConfidence: 80}, []string{"8.134.12.90", "2001:db8:1::5"},
			map[string]int{source.SkipConfidence: 2}},
		{"malpedia id and printable name, any case", Filter{Malware: []string{"WIN.COBALT_STRIKE", " sliver "}}, []string{"8.134.12.90", "203.0.113.7"},
			map[string]int{source.SkipMalware: 3}},
		{"both", Filter{MinConfidence: 76, Malware: []string{"Sliver", "xor ddos"}}, []string{"2001:db8:1::5"},
			map[string]int{source.SkipConfidence: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := Parse(strings.NewReader(answer), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ips []string
			for _, g := range got {
				ips = append(ips, g.IP.String())
			}
			if strings.Join(ips, " ") != strings.Join(tc.ips, " ") {
				t.Errorf("ips = %v, want %v", ips, tc.ips)
			}
			for k, v := range tc.skip {
				if st.Skipped[k] != v {
					t.Errorf("skipped[%q] = %d, want %d (all %v)", k, st.Skipped[k], v, st.Skipped)
				}
			}
		})
	}
}

func TestParseEnvelopes(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		auth       bool
		api        string // query status in an *APIError
		shape      bool
	}{
		{name: "no_result has string data", body: `{"query_status":"no_result","data":"Your search did not yield any results"}`},
		{name: "ok with empty list", body: `{"query_status":"ok","data":[]}`},
		{name: "unknown key", body: `{"query_status":"unknown_auth_key"}`, auth: true, api: "unknown_auth_key"},
		{name: "illegal days", body: `{"query_status":"illegal_days","data":"Days must be between 1 and 7"}`, api: "illegal_days"},
		{name: "html", body: `<html><body>502 Bad Gateway</body></html>`, shape: true},
		{name: "export shape", body: `{"1797050":[{"ioc_value":"141.98.10.115:1430"}]}`, shape: true},
		{name: "data not a list", body: `{"query_status":"ok","data":{"a":1}}`, shape: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := Parse(strings.NewReader(tc.body), Filter{})
			if len(got) != 0 || st.Read != 0 {
				t.Fatalf("got %v %+v", got, st)
			}
			var ae *APIError
			switch {
			case tc.api != "":
				if !errors.As(err, &ae) || ae.QueryStatus != tc.api || errors.Is(err, ErrAuth) != tc.auth {
					t.Fatalf("err = %v, want APIError %q (auth %v)", err, tc.api, tc.auth)
				}
			case tc.shape:
				if !errors.Is(err, ErrShape) {
					t.Fatalf("err = %v, want ErrShape", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestResponseError(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		auth   bool
		qs     string
	}{
		{401, `<html><head><title>401 Unauthorized</title></head></html>`, true, ""},
		{403, `{"query_status":"unknown_auth_key"}`, true, "unknown_auth_key"},
		{503, `Service Unavailable`, false, ""},
		{400, `{"query_status":"unknown_query"}`, false, "unknown_query"},
	} {
		err := ResponseError(tc.status, []byte(tc.body))
		var ae *APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != tc.status || ae.QueryStatus != tc.qs || errors.Is(err, ErrAuth) != tc.auth {
			t.Errorf("ResponseError(%d, %q) = %v", tc.status, tc.body, err)
		}
		if strings.ContainsAny(err.Error(), "<>") || err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
			t.Errorf("message %q should be lower case and hold no body", err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(answer)
	f.Add(`{"query_status":"no_result","data":"x"}`)
	f.Add(`{"query_status":"ok","data":[{"ioc":"[::1]:1","ioc_type":"ip:port","first_seen":"2024-07-14 00:00:00 UTC","tags":"a,,b"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		got, st, err := Parse(strings.NewReader(body), Filter{MinConfidence: 10})
		if err != nil && len(got) > 0 {
			t.Fatal("sightings with an error")
		}
		if st.Read != st.Kept+st.Skipped.Total() || st.Kept != len(got) {
			t.Fatalf("stats %+v for %d sightings", st, len(got))
		}
		for _, g := range got {
			if !g.IP.IsValid() || g.IP.Is4In6() || g.IP.Zone() != "" || g.IP.IsLoopback() || g.IP.IsUnspecified() {
				t.Fatalf("bad ip %v", g.IP)
			}
			if g.Port < 0 || g.Port > 65535 || g.LastSeen.IsZero() || g.LastSeen.Location() != time.UTC || g.Confidence < 10 {
				t.Fatalf("bad sighting %+v", g)
			}
		}
	})
}
