package kql

import (
	"errors"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Quote returns s as a double-quoted KQL string literal that can never end
// early or span lines: backslash and both quote characters are escaped, and
// so is every character that is not printable (control characters, line and
// paragraph separators, bidirectional overrides, unassigned code points), as
// \n, \r, \t or \uXXXX (a UTF-16 surrogate pair above U+FFFF, which is how the
// engine's strings hold it). Printable non-ASCII text stays as UTF-8.
//
// Invalid UTF-8 cannot be a KQL string, so each invalid byte becomes U+FFFD.
func Quote(s string) string {
	return string(appendQuoted(make([]byte, 0, len(s)+2), s, '"'))
}

// appendQuoted appends s as a string literal delimited by q (' or ").
func appendQuoted(b []byte, s string, q byte) []byte {
	b = append(b, q)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				b = append(b, '\\', '\\')
			case c == '"', c == '\'':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = appendU(b, rune(c))
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = appendU(b, utf8.RuneError)
		case unicode.IsPrint(r):
			b = append(b, s[i:i+size]...)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			b = appendU(appendU(b, hi), lo)
		default:
			b = appendU(b, r)
		}
		i += size
	}
	return append(b, q)
}

// appendU appends the escape \uXXXX for a UTF-16 code unit.
func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// QuoteIP returns ip as a string literal. An address's text holds only hex
// digits, dots and colons, so it needs no escaping; an address with a zone
// is quoted with Quote all the same, although Build never emits one.
func QuoteIP(ip netip.Addr) string {
	if ip.Zone() != "" {
		return Quote(ip.String())
	}
	return string(appendIP(nil, ip))
}

func appendIP(b []byte, ip netip.Addr) []byte {
	b = append(b, '"')
	b = ip.AppendTo(b)
	return append(b, '"')
}

// datetimeLayout has the 7 fractional digits that Defender's own DateTime
// values carry (100 ns ticks).
const datetimeLayout = "2006-01-02T15:04:05.0000000Z"

// Datetime returns t as a KQL datetime literal in UTC, to the 100 ns tick
// that Kusto stores: datetime(2026-11-27T07:00:00.0000000Z). Finer parts are
// truncated, which never excludes a stored timestamp from an inclusive upper
// bound. t must lie in Kusto's range, years 1 to 9999 (Build checks).
func Datetime(t time.Time) string {
	return string(appendDatetime(nil, t))
}

func appendDatetime(b []byte, t time.Time) []byte {
	b = append(b, "datetime("...)
	b = t.UTC().AppendFormat(b, datetimeLayout)
	return append(b, ')')
}

// Timespan returns the ISO 8601 interval start/end that Graph's
// runHuntingQuery takes as Timespan, with the same 100 ns precision as the
// query's own datetime bounds so that the two agree.
func Timespan(start, end time.Time) string {
	b := start.UTC().AppendFormat(nil, datetimeLayout)
	b = append(b, '/')
	return string(end.UTC().AppendFormat(b, datetimeLayout))
}

// ErrEmptyName is returned by Ident for an empty name.
var ErrEmptyName = errors.New("kql: empty table or column name")

// Ident returns name as a KQL identifier: as is when it is a plain
// identifier that no keyword can shadow, otherwise in the bracket form
// ['name'] with the name as an escaped literal inside. All Kusto keywords
// that cannot serve as identifiers are lower case, start with "__" or with a
// digit (the parser check in kqlcheck_test.go holds us to Microsoft's list),
// so a plain name must have an upper-case letter and not start with "__".
func Ident(name string) (string, error) {
	if name == "" {
		return "", ErrEmptyName
	}
	if isPlainIdent(name) {
		return name, nil
	}
	b := append(make([]byte, 0, len(name)+4), '[')
	b = appendQuoted(b, name, '\'')
	return string(append(b, ']')), nil
}

func isPlainIdent(name string) bool {
	if strings.HasPrefix(name, "__") {
		return false
	}
	upper := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return upper
}
