package shodan

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LoadKey finds the Shodan API key: $SHODAN_API_KEY, else the file the
// official CLI writes (~/.config/shodan/api_key, older ~/.shodan/api_key).
// source says where it came from, never the key itself.
func LoadKey() (key, source string, err error) {
	if k := strings.TrimSpace(os.Getenv("SHODAN_API_KEY")); k != "" {
		return k, "SHODAN_API_KEY", nil
	}
	home, herr := os.UserHomeDir()
	if herr == nil {
		for _, p := range []string{filepath.Join(home, ".config", "shodan", "api_key"), filepath.Join(home, ".shodan", "api_key")} {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			if k := strings.TrimSpace(string(b)); k != "" {
				return k, p, nil
			}
		}
	}
	return "", "", ErrNoKey
}

// WithAfter adds after:DD/MM/YYYY (the day of since, UTC) to query, so that
// Shodan returns only banners from that day on. A query that already has
// an after: filter is returned unchanged. Days are whole, so a banner from
// earlier on since's day still comes back: filter exact ages locally.
func WithAfter(query string, since time.Time) string {
	for _, t := range filters(query) {
		if t == "after" {
			return query
		}
	}
	return strings.TrimSpace(query) + " after:" + since.UTC().Format("02/01/2006")
}

// HasFilter reports whether query uses a filter (name:value), which makes
// every search of it cost a query credit.
func HasFilter(query string) bool { return len(filters(query)) > 0 }

// filters returns the lower-cased names of the filters in query, skipping
// quoted phrases.
func filters(query string) []string {
	var out []string
	i := 0
	for i < len(query) {
		for i < len(query) && (query[i] == ' ' || query[i] == '\t' || query[i] == '\n') {
			i++
		}
		if i < len(query) && query[i] == '-' {
			i++
		}
		if i < len(query) && query[i] == '"' {
			i = skipQuoted(query, i)
			continue
		}
		start := i
		for i < len(query) && query[i] != ' ' && query[i] != '\t' && query[i] != '\n' && query[i] != ':' && query[i] != '"' {
			i++
		}
		name := query[start:i]
		if i < len(query) && query[i] == ':' && isName(name) {
			out = append(out, strings.ToLower(name))
			i++
			if i < len(query) && query[i] == '"' {
				i = skipQuoted(query, i)
				continue
			}
		}
		for i < len(query) && query[i] != ' ' && query[i] != '\t' && query[i] != '\n' {
			if query[i] == '"' {
				i = skipQuoted(query, i)
				continue
			}
			i++
		}
	}
	return out
}

func skipQuoted(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s)
}

func isName(w string) bool {
	if w == "" {
		return false
	}
	c0 := w[0] | 0x20
	if c0 < 'a' || c0 > 'z' {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i] | 0x20
		if !(c >= 'a' && c <= 'z' || w[i] >= '0' && w[i] <= '9' || w[i] == '.' || w[i] == '_') {
			return false
		}
	}
	return true
}
