package shodanfile

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"c2sweep/internal/shodan"
)

// decodeLine is what the Shodan client makes of one banner.
func decodeLine(line []byte) (ok bool, out string) {
	var b shodan.Banner
	if err := json.Unmarshal(line, &b); err != nil {
		return false, ""
	}
	ip, sg, err := b.Sighting("H")
	if err != nil {
		return true, "skip " + shodan.SkipReason(err)
	}
	j, _ := json.Marshal(sg)
	return true, ip.String() + " " + string(j) + " " + strings.Join(b.Tags, ",")
}

func TestSlim(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct{ in, want string }{
		{`{"data":"` + long + `","ip_str":"` + long + `"}`, `{"data":"","ip_str":"` + long + `"}`},
		{`{"http":{"html":"` + long + `","title":"short"},"tags":["` + long + `"]}`, `{"http":{"html":"","title":"short"},"tags":["` + long + `"]}`},
		{`{"ssl":{"jarm":"` + long + `","chain":["` + long + `"],"JARM":"` + long + `"}}`, `{"ssl":{"jarm":"` + long + `","chain":[""],"JARM":"` + long + `"}}`},
		{`{"SSL":{"cert":{"subject":{"CN":"` + long + `"}}}}`, `{"SSL":{"cert":{"subject":{"CN":""}}}}`},
		// A key with an escape, or one that is not ASCII, is never taken for
		// a known one.
		{`{"d\u0061ta":"` + long + `","\u017fsl":{"x":"` + long + `"}}`, `{"d\u0061ta":"` + long + `","\u017fsl":{"x":"` + long + `"}}`},
		{`{"ssl":{"ja\u0072m":"` + long + `"}}`, `{"ssl":{"ja\u0072m":"` + long + `"}}`},
		// A bad string anywhere: the line is left as it is.
		{`{"data":"` + long + "\x01" + `"}`, `{"data":"` + long + "\x01" + `"}`},
		{`{"data":"` + long + `\x"}`, `{"data":"` + long + `\x"}`},
		{`{"data":"` + long, `{"data":"` + long},
		// Escapes inside a blanked string are checked, then dropped.
		{`{"data":"` + long + `\n\u00e9\""}`, `{"data":""}`},
		{`{"location":{"country_code":"` + long + `"}}`, `{"location":{"country_code":"` + long + `"}}`},
		{`]{"data":"` + long + `"}`, `]{"data":"` + long + `"}`},
		// Kept strings with escaped quotes and backslashes are delimited right.
		{`{"ip_str":"a\"b\\","data":"` + long + `","org":"\\\""}`, `{"ip_str":"a\"b\\","data":"","org":"\\\""}`},
		{`{"data":"` + long + `\"` + long + `"}`, `{"data":""}`},
	} {
		if got := string(slim(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("slim(%.60q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// FuzzSlim checks that a slimmed banner decodes exactly as the original:
// the same verdict, the same sighting or skip reason, the same tags.
func FuzzSlim(f *testing.F) {
	for _, l := range ugly {
		f.Add([]byte(l))
	}
	var raw bytes.Buffer
	if err := writeBanners(&raw, 20, 7); err != nil {
		f.Fatal(err)
	}
	for _, l := range bytes.Split(raw.Bytes(), []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"ssl":{"jarm":1,"x":"` + strings.Repeat("y", 80) + `"},"ip_str":"192.0.2.1","timestamp":"2026-01-01T00:00:00","data":"` + strings.Repeat("z", 70) + `"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ok1, out1 := decodeLine(line)
		slimmed := slim(nil, line)
		ok2, out2 := decodeLine(slimmed)
		if ok1 != ok2 || out1 != out2 {
			t.Fatalf("original %q\n -> %v %s\nslimmed %q\n -> %v %s", line, ok1, out1, slimmed, ok2, out2)
		}
		if !reflect.DeepEqual(slim(nil, slimmed), slimmed) {
			t.Fatalf("slim is not idempotent on %q", line)
		}
	})
}
