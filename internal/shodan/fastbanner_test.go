package shodan

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// viaJSON and viaFast are what a sighting reader makes of a line with
// encoding/json and with DecodeSightingBanner.
func viaJSON(line []byte) string {
	var b Banner
	err := json.Unmarshal(line, &b)
	return outcome(&b, err)
}

func viaFast(line []byte) string {
	var b Banner
	err := DecodeSightingBanner(line, &b)
	return outcome(&b, err)
}

func outcome(b *Banner, err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	ip, sg, err := b.Sighting("H")
	if err != nil {
		return fmt.Sprintf("skip %s %v", SkipReason(err), err)
	}
	// %#v tells a nil slice from an empty one, and shows the times' zones.
	return fmt.Sprintf("%v %#v tags=%#v", ip, sg, b.Tags)
}

func checkSame(t *testing.T, line []byte) {
	t.Helper()
	if want, got := viaJSON(line), viaFast(line); want != got {
		t.Fatalf("line %q\nencoding/json: %s\nfast:          %s", line, want, got)
	}
}

// realBanner is a banner as Shodan writes it, with the parts a sighting
// skips: HTML, headers, a certificate, its chain, crawler fields.
const realBanner = `{"hash":-1618183411,"ip":3221226122,"ip_str":"192.0.2.138","port":443,"transport":"tcp","timestamp":"2026-04-29T10:11:12.462372","org":"DigitalOcean, LLC","isp":"DigitalOcean, LLC","asn":"AS14061","os":null,"product":"Cobalt Strike Beacon","version":"4.9","hostnames":["a1b2c3d4.example.net"],"domains":["example.net"],"tags":["c2","self-signed"],"cpe23":["cpe:2.3:a:f5:nginx"],"data":"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nServer: nginx\r\n\r\n","location":{"city":"Frankfurt am Main","region_code":"HE","area_code":null,"longitude":8.68,"latitude":50.11,"country_code":"DE","country_name":"Germany","postal_code":null},"http":{"status":404,"title":"404 Not Found","server":"nginx","host":"192.0.2.138","html":"<!DOCTYPE html>\n<html><head><title>404</title></head>\n<body>\u003cp\u003e not found</body></html>\n","html_hash":-1975413442,"redirects":[],"robots":null,"components":{"Nginx":{"categories":["Web servers","Reverse proxies"]}},"favicon":{"hash":-335242539,"data":"AAABAAEAEBAAAAEAIABoBAAAFgAAACgAAAAQAAAAIAAAAAEAIAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAA=","location":"https://192.0.2.138/favicon.ico"}},"ssl":{"jarm":"07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1","ja3s":"fd4bc6cea4877646ccd62f0792ec0b62","versions":["TLSv1.2","-SSLv2"],"cipher":{"version":"TLSv1.3","bits":256,"name":"TLS_AES_256_GCM_SHA384"},"chain":["-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----\n"],"dhparams":null,"trust":{"revoked":false,"browser":null},"cert":{"sig_alg":"sha256WithRSAEncryption","issued":"20260129101112Z","expires":"20261029101112Z","expired":false,"version":2,"serial":1.9585926715947384e+37,"subject":{"CN":"a1b2c3d4.example.net","O":["Microsoft Corporation","x"]},"issuer":{"C":"US","O":"Let's Encrypt","CN":"R11"},"fingerprint":{"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","sha1":"a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"},"extensions":[{"critical":true,"data":"\\x03\\x02\\x05\\xa0","name":"keyUsage"}]}},"opts":{"vulns":[],"heartbleed":"SAFE\n"},"_shodan":{"id":"3f1c2e4a-1b2c-4d5e-8f90-a1b2c3d4e5f6","module":"https","crawler":"0123456789abcdef0123456789abcdef01234567","ptr":true,"options":{}}}`

// trickyLines are lines each meant to send the fast decoder to its
// fallback, or to catch it keeping a value encoding/json would not.
var trickyLines = []string{
	realBanner,
	`null`, `[]`, `"x"`, `{}`, ` {} `, `{} x`, `{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00"}`,
	`{"IP_STR":"192.0.2.1","timestamp":"2026-01-01T00:00:00"}`,
	`{"ip_str":"192.0.2.1","Timestamp":"2026-01-01T00:00:00","Port":80}`,
	`{"ip_\u0073tr":"192.0.2.1","timestamp":"2026-01-01T00:00:00"}`,
	`{"ip_str":"192.0.2.1","ip_str":"192.0.2.2","timestamp":"2026-01-01T00:00:00"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","location":{"country_code":"DE"},"location":{"city":"x"}}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","port":"443"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","port":443.0}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","port":1e3}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","port":99999999999999999999}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","port":-0}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","port":01}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","hash":1.5}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","location":{"latitude":1e999}}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","location":"DE"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","ip":"3221225985"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","ip":"x"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","ip":true}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","hostnames":null,"tags":[]}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","hostnames":[null,"a",null],"tags":[1]}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","hostnames":"a"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","org":"caf\u00e9 \"q\" \ud800","isp":"caf` + "\xe9" + `","asn":"\u0041S1"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","org":"a` + "\x01" + `"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","data":"a` + "\x7f\xff" + `"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","data":"\x"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","data":"\u12"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","ssl":null}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","ssl":{}}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","ssl":{"JARM":"x","cert":{"expired":{"a":[1]},"serial":"12","subject":[1,2]}}}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","ssl":{"cert":{"sig_alg":1}}}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","http":{"favicon":{"hash":"1"}}}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","http":{"title":null,"status":null,"favicon":null}}`,
	`{"ip_str":"192.0.2.1","timestamp":null}`,
	`{"ip_str":"192.0.2.1","timestamp":12}`,
	`{"ip_str":"192.0.2.1","timestamp":{"a": [1, 2]}}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00\u005a"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01 00:00:00.5"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00+02:00"}`,
	`{"ipv6":"2001:db8::1","timestamp":"2026-01-01T00:00:00.123"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","x":[[[[{"a":{"b":[true,false,null,-1.5e+3]}}]]]]}`,
	"{\"ip_str\":\"192.0.2.1\",\t\"timestamp\" : \"2026-01-01T00:00:00\" ,\r\n\"tags\": [ \"a\" , \"b\" ] }",
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","x":{"a":1,}}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00",}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","x":tru}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","x":[1,]}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","x":-}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","x":1.}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","x":1e}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00"`,
	`{"ſsl":{"jarm":"x"},"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00"}`,
	`{"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","é":1}`,
}

func TestDecodeSightingBannerMatchesEncodingJSON(t *testing.T) {
	for _, l := range trickyLines {
		checkSame(t, []byte(l))
	}
}

// TestDecodeSightingBannerFast checks the common banner takes the fast
// path (a fallback would be correct but slow).
func TestDecodeSightingBannerFast(t *testing.T) {
	var b Banner
	s := scanner{d: []byte(realBanner)}
	if !s.banner(&b) {
		t.Fatalf("the fast path refused a plain banner at byte %d", s.i)
	}
	var want Banner
	if err := json.Unmarshal([]byte(realBanner), &want); err != nil {
		t.Fatal(err)
	}
	if b.IPStr != want.IPStr || b.Port != want.Port || b.Org != want.Org || b.Location.CountryCode != "DE" ||
		b.SSL == nil || b.SSL.JARM != want.SSL.JARM || !reflect.DeepEqual(b.Tags, want.Tags) || !b.Timestamp.Equal(want.Timestamp.Time) {
		t.Fatalf("fast %+v\nwant %+v", b, want)
	}
}

// mutate changes line at random: a byte flipped, dropped, doubled, or a
// token that JSON or Banner's types treat specially put in.
func mutate(r *rand.Rand, line []byte) []byte {
	tokens := []string{`"`, `\`, `\u00e9`, `\ud800`, "\x00", "\xff", `{`, `}`, `[`, `]`, `,`, `:`, `null`, `true`, `1.5`, `-0`, `1e400`, `""`, ` `, `"IP_STR"`, `"Port"`, `"ssl"`, `"tags"`, `"ip_str":"192.0.2.9",`}
	out := append([]byte(nil), line...)
	for range 1 + r.IntN(3) {
		if len(out) == 0 {
			break
		}
		i := r.IntN(len(out))
		switch r.IntN(4) {
		case 0:
			out[i] ^= byte(1 << r.IntN(8))
		case 1:
			out = append(out[:i], out[i+1:]...)
		case 2:
			out = append(out[:i], append([]byte{out[i]}, out[i:]...)...)
		default:
			tok := tokens[r.IntN(len(tokens))]
			out = append(out[:i], append([]byte(tok), out[i:]...)...)
		}
	}
	return out
}

// TestDecodeSightingBannerMutations compares both decoders on thousands of
// mutated banners (the fuzz test's corpus without -fuzz).
func TestDecodeSightingBannerMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		seed := []byte(trickyLines[i%len(trickyLines)])
		checkSame(t, mutate(r, seed))
	}
}

// FuzzDecodeSightingBanner checks that the fast decoder and encoding/json
// agree: the same sighting or skip reason, the same tags, the same error.
func FuzzDecodeSightingBanner(f *testing.F) {
	for _, l := range trickyLines {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkSame(t, line)
	})
}
