package redact

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const token = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"GET /api-info?key=abc123 failed":         "GET /api-info?key=REDACTED failed",
		"Authorization: Bearer opaque.token-1~x=": "Authorization: Bearer REDACTED",
		`{"message":"bad token ` + token + `"}`:   `{"message":"bad token REDACTED"}`,
		"my secret s3cr3t+/ and s3cr3t%2B%2F":     "my secret REDACTED and REDACTED",
		"nothing to hide; key: value; Bearer":     "nothing to hide; key: value; Bearer",
	} {
		if got := Text(in, "s3cr3t+/", "ab"); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestURLAndExcerpt(t *testing.T) {
	u, _ := url.Parse("https://user:pw@api.example/x?query=a&key=k123")
	if got := URL(u); strings.Contains(got, "k123") || strings.Contains(got, "pw") {
		t.Errorf("URL = %q", got)
	}
	body := []byte("<html>\n  denied for   Bearer " + token + strings.Repeat(" pad", 100))
	got := Excerpt(body, 60)
	if strings.Contains(got, token[:20]) || !strings.HasPrefix(got, "<html> denied for Bearer REDACTED") || len(got) != 63 {
		t.Errorf("Excerpt = %q", got)
	}
}

func TestShodanKeys(t *testing.T) {
	for in, want := range map[string]string{
		`Get "https://api.shodan.io/api-info?key=SeCrEt": EOF`:        `Get "https://api.shodan.io/api-info?key=REDACTED": EOF`,
		"https://x/shodan/host/search?query=port%3A80&key=abc&page=2": "https://x/shodan/host/search?query=port%3A80&key=REDACTED&page=2",
		"https://x/?KEY=abc":        "https://x/?KEY=REDACTED",
		"no key here; monkey=1":     "no key here; monkey=1",
		"key=abc&page=2":            "key=REDACTED&page=2",
		"https://x/?apikey=1&key=z": "https://x/?apikey=1&key=REDACTED",
	} {
		if got := Text(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	u, _ := http.NewRequest(http.MethodGet, "https://u:p@x/api-info?key=abc&q=1", nil)
	if got := URL(u.URL); strings.Contains(got, "abc") || strings.Contains(got, "u:p") {
		t.Errorf("RedactURL: %s", got)
	}
}
