// Package redact is c2sweep's one way to keep secrets out of text that a
// user, a log or a file may see: error excerpts of response bodies, URLs
// in errors, log lines. It hides what looks like a secret whatever the
// service (key= parameters, bearer tokens, JWTs) and, verbatim, the
// secrets the caller knows.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mark replaces a secret.
const Mark = "REDACTED"

var (
	// keyParam finds a key= query parameter in any text (URLs inside
	// error strings, log lines).
	keyParam = regexp.MustCompile(`(?i)((?:^|[?&;\s"'])key=)[^&#\s"'<>]*`)
	// bearer finds the credential of an Authorization header or a
	// "Bearer <token>" echoed in a body.
	bearer = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+`)
	// jwt finds a JSON Web Token wherever it stands.
	jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
)

// Text hides secrets in s: every key= value, bearer token and JWT, and
// each of secrets, verbatim or URL-escaped (secrets shorter than 4 bytes
// are ignored: hiding them would maul the text, not protect anything).
func Text(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < 4 {
			continue
		}
		s = strings.ReplaceAll(s, sec, Mark)
		if esc := url.QueryEscape(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, Mark)
		}
	}
	s = jwt.ReplaceAllString(s, Mark)
	s = bearer.ReplaceAllString(s, "${1}"+Mark)
	return keyParam.ReplaceAllString(s, "${1}"+Mark)
}

// URL returns u as text without its key parameter or user info.
func URL(u *url.URL, secrets ...string) string {
	if u == nil {
		return ""
	}
	c := *u
	q := c.Query()
	if q.Has("key") {
		q.Set("key", Mark)
		c.RawQuery = q.Encode()
	}
	c.User = nil
	return Text(c.String(), secrets...)
}

// Excerpt is the part of a response body an error may quote: on one line,
// secrets hidden (before it is cut, so that no half of one survives), at
// most max bytes and "...".
func Excerpt(body []byte, max int, secrets ...string) string {
	s := Text(strings.Join(strings.Fields(string(body)), " "), secrets...)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
