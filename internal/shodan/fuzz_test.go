package shodan

import (
	"errors"
	"testing"
)

// Shodan's answers are outside data: a search page, its banners, /api-info
// and the error envelope must decode or fail cleanly, never panic.

func FuzzDecodePage(f *testing.F) {
	for _, s := range []string{
		`{"matches":[{"ip_str":"203.0.113.7","port":443,"transport":"tcp","timestamp":"2026-11-20T10:00:00.123456","hostnames":["a.example"],"org":"Org","product":"Cobalt Strike Beacon","ssl":{"jarm":"07d14d16d21d21d07c42d41d00041d24a458a375eef0c576d23a7bab9a9fb1"}}],"total":1}`,
		`{"matches":[{"ip":3405803783,"port":"443","timestamp":1700000000,"hostnames":"x"},{"ip_str":"::ffff:1.2.3.4"},7,null],"total":-5}`,
		`{"matches":null,"total":1e400}`,
		`[]`, `{"error":"Invalid API key"}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := DecodePage(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("a bad page is not ErrBadResponse: %v", err)
			}
			return
		}
		for i := range p.Matches {
			b := &p.Matches[i]
			if ip, err := b.Address(); err == nil && !ip.IsValid() {
				t.Fatalf("banner %d: invalid address without an error", i)
			}
			b.Sighting("h")
		}
	})
}

func FuzzErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"error": "Invalid API key"}`, `{"error":"Insufficient query credits, please upgrade your API plan"}`,
		`{"error":null}`, `{"error":7}`, `<html>502</html>`, `{"plan":"dev","query_credits":"x","unlocked":"yes"}`,
		`{"plan":"stream-100","query_credits":99,"usage_limits":{"query_credits":-1},"https":1,"telnet":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if msg, ok := jsonError(body); ok {
			if classify(msg) == nil || classifyAuth(msg) == nil {
				t.Fatal("no class for an error message")
			}
		} else if msg != "" {
			t.Fatalf("no envelope, yet message %q", msg)
		}
		var info APIInfo
		if err := decode("/api-info", body, &info); err != nil && !errors.Is(err, ErrBadResponse) {
			t.Fatalf("/api-info: %v", err)
		}
	})
}
