package kql

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// unquote parses a KQL string literal ('...' or "...") with the escapes the
// language defines (\\ \' \" \a \b \f \n \r \t \v \uXXXX \xHH), as the
// engine reads it. It is the test's independent reading of what Quote
// writes, and stricter than the engine: it refuses anything Quote should
// never emit (a raw line break, a lone surrogate, an unknown escape).
func unquote(lit string) (string, error) {
	if len(lit) < 2 || (lit[0] != '"' && lit[0] != '\'') || lit[len(lit)-1] != lit[0] {
		return "", errors.New("not a quoted literal")
	}
	q, body := lit[0], lit[1:len(lit)-1]
	var units []uint16 // UTF-16, as the engine holds strings
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == q:
			return "", fmt.Errorf("unescaped quote at %d", i+1)
		case c == '\n' || c == '\r':
			return "", fmt.Errorf("raw line break at %d", i+1)
		case c != '\\':
			r, size := utf8.DecodeRuneInString(body[i:])
			if r == utf8.RuneError && size == 1 {
				return "", fmt.Errorf("invalid UTF-8 at %d", i+1)
			}
			units = utf16.AppendRune(units, r)
			i += size
			continue
		}
		if i+1 >= len(body) {
			return "", errors.New("escape at the end")
		}
		e := body[i+1]
		i += 2
		switch e {
		case '\\', '\'', '"':
			units = append(units, uint16(e))
		case 'a':
			units = append(units, 7)
		case 'b':
			units = append(units, 8)
		case 'f':
			units = append(units, 12)
		case 'n':
			units = append(units, '\n')
		case 'r':
			units = append(units, '\r')
		case 't':
			units = append(units, '\t')
		case 'v':
			units = append(units, 11)
		case 'u', 'x':
			n := 4
			if e == 'x' {
				n = 2
			}
			if i+n > len(body) {
				return "", errors.New("short hex escape")
			}
			v, err := strconv.ParseUint(body[i:i+n], 16, 16)
			if err != nil {
				return "", fmt.Errorf("bad hex escape %q", body[i:i+n])
			}
			units = append(units, uint16(v))
			i += n
		default:
			return "", fmt.Errorf("unknown escape \\%c", e)
		}
	}
	for j := 0; j < len(units); j++ {
		u := rune(units[j])
		if utf16.IsSurrogate(u) {
			if j+1 >= len(units) || u >= 0xdc00 || utf16.DecodeRune(u, rune(units[j+1])) == utf8.RuneError {
				return "", fmt.Errorf("lone surrogate %#x", u)
			}
			j++
		}
	}
	return string(utf16.Decode(units)), nil
}

// checkLiteral holds a literal to Quote's promises for input s.
func checkLiteral(t *testing.T, s, lit string) {
	t.Helper()
	got, err := unquote(lit)
	if err != nil {
		t.Fatalf("Quote(%q) = %s: %v", s, lit, err)
	}
	if want := string([]rune(s)); got != want {
		t.Fatalf("Quote(%q) = %s reads back as %q, want %q", s, lit, got, want)
	}
	if !utf8.ValidString(lit) {
		t.Fatalf("Quote(%q) = %q is not valid UTF-8", s, lit)
	}
	for i := 0; i < len(lit); i++ {
		if c := lit[i]; c < 0x20 || c == 0x7f {
			t.Fatalf("Quote(%q) = %q has raw control byte %#x at %d", s, lit, c, i)
		}
	}
	for _, r := range lit {
		if r == 0x85 || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			t.Fatalf("Quote(%q) = %q has a raw line separator or bidi control %U", s, lit, r)
		}
	}
}

// quoteCases are the ugly inputs: injection attempts, every escape, line
// breaks of all kinds, bidi overrides, invalid UTF-8, astral characters.
var quoteCases = []struct{ in, want string }{
	{"", `""`},
	{"203.0.113.7", `"203.0.113.7"`},
	{`a"b`, `"a\"b"`},
	{`a'b`, `"a\'b"`},
	{`back\slash`, `"back\\slash"`},
	{`\`, `"\\"`},
	{`\"`, `"\\\""`},
	{"line\nbreak", `"line\nbreak"`},
	{"cr\r\nlf", `"cr\r\nlf"`},
	{"tab\there", `"tab\there"`},
	{"nul\x00bell\x07esc\x1bdel\x7f", `"nul\u0000bell\u0007esc\u001bdel\u007f"`},
	{"nel\u0085ls\u2028ps\u2029", `"nel\u0085ls\u2028ps\u2029"`},
	{"rlo\u202egnp.exe", `"rlo\u202egnp.exe"`},
	{"zwsp\u200bbom\ufeff", `"zwsp\u200bbom\ufeff"`},
	{"é中文😀", `"é中文😀"`},
	{"tag\U000E0041", `"tag\udb40\udc41"`},
	{"private\U0010FFFD", `"private\udbff\udffd"`},
	{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
	{`") | project DeviceName | take 1 //`, `"\") | project DeviceName | take 1 //"`},
	{"\") \n| where 1==1\n| union (DeviceInfo", `"\") \n| where 1==1\n| union (DeviceInfo"`},
	{`@'verbatim'`, `"@\'verbatim\'"`},
	{"h'obfuscated'", `"h\'obfuscated\'"`},
	{"```multi```", "\"```multi```\""},
	{"//comment", `"//comment"`},
}

func TestQuote(t *testing.T) {
	for _, tc := range quoteCases {
		got := Quote(tc.in)
		if got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
		checkLiteral(t, tc.in, got)
	}
}

func FuzzQuote(f *testing.F) {
	for _, tc := range quoteCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkLiteral(t, s, Quote(s))
	})
}

func TestUnquoteRejects(t *testing.T) {
	// The checker must be able to fail, or FuzzQuote proves nothing.
	for _, lit := range []string{`"a"b"`, "\"a\nb\"", `"a\"`, `"\q"`, `"\ud800"`, `'a'b'`, `a`, `"a'`, "\"\xff\""} {
		if s, err := unquote(lit); err == nil {
			t.Errorf("unquote(%q) = %q, want an error", lit, s)
		}
	}
	if s, err := unquote(`'it\'s \u00e9 \x41 "ok"'`); err != nil || s != `it's é A "ok"` {
		t.Errorf("unquote of a valid single-quoted literal = %q, %v", s, err)
	}
}

func TestQuoteIP(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"203.0.113.7", `"203.0.113.7"`},
		{"2001:DB8:0:0:0:0:0:1", `"2001:db8::1"`},
		{"::ffff:198.51.100.9", `"::ffff:198.51.100.9"`},
		{"fe80::1%eth0\"", `"fe80::1%eth0\""`},
	} {
		ip, err := netip.ParseAddr(tc.ip)
		if err != nil {
			// A zone is free text in netip: build one with a quote in it.
			ip = netip.MustParseAddr("fe80::1").WithZone("eth0\"")
		}
		if got := QuoteIP(ip); got != tc.want {
			t.Errorf("QuoteIP(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}

func TestDatetime(t *testing.T) {
	east := time.FixedZone("UTC+3", 3*3600)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC), "datetime(2026-11-27T07:00:00.0000000Z)"},
		{time.Date(2026, 11, 27, 10, 0, 0, 0, east), "datetime(2026-11-27T07:00:00.0000000Z)"},
		{time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), "datetime(2026-01-02T03:04:05.1234567Z)"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "datetime(9999-12-31T23:59:59.9999999Z)"},
	} {
		if got := Datetime(tc.t); got != tc.want {
			t.Errorf("Datetime(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

func TestTimespan(t *testing.T) {
	s := time.Date(2026, 10, 28, 7, 0, 0, 0, time.UTC)
	e := time.Date(2026, 11, 27, 9, 30, 0, 500, time.FixedZone("CET", 3600))
	want := "2026-10-28T07:00:00.0000000Z/2026-11-27T08:30:00.0000005Z"
	if got := Timespan(s, e); got != want {
		t.Fatalf("Timespan = %s, want %s", got, want)
	}
	// Both halves parse back with the standard layout to the same instants.
	parts := strings.Split(Timespan(s, e), "/")
	for i, want := range []time.Time{s, e.Truncate(100)} {
		got, err := time.Parse(time.RFC3339Nano, parts[i])
		if err != nil || !got.Equal(want) {
			t.Errorf("Timespan part %d = %s: %v, %v", i, parts[i], got, err)
		}
	}
}

func TestIdent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"DeviceNetworkEvents", "DeviceNetworkEvents"},
		{"RemoteIP", "RemoteIP"},
		{"IPAddress", "IPAddress"},
		{"SenderIPv4", "SenderIPv4"},
		{"_Private1", "_Private1"},
		{"where", "['where']"},
		{"project", "['project']"},
		{"in", "['in']"},
		{"lower_case", "['lower_case']"},
		{"__crossCluster", "['__crossCluster']"},
		{"3Dchart", "['3Dchart']"},
		{"has space", "['has space']"},
		{"Dash-ed", "['Dash-ed']"},
		{"it's", `['it\'s']`},
		{"x']|take 1//", `['x\']|take 1//']`},
		{"new\nline", `['new\nline']`},
		{"Ünïcode", "['Ünïcode']"},
	} {
		got, err := Ident(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Ident(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if got, err := Ident(""); !errors.Is(err, ErrEmptyName) {
		t.Errorf("Ident(\"\") = %q, %v; want ErrEmptyName", got, err)
	}
}

func FuzzIdent(f *testing.F) {
	for _, s := range []string{"RemoteIP", "where", "a b", "x']", "__x", "\x00", "É"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, err := Ident(name)
		if name == "" {
			if err == nil {
				t.Fatalf("Ident(\"\") = %q, want an error", id)
			}
			return
		}
		if err != nil {
			t.Fatalf("Ident(%q): %v", name, err)
		}
		if id == name {
			if !isPlainIdent(name) {
				t.Fatalf("Ident(%q) left a non-plain name bare", name)
			}
			return
		}
		if !strings.HasPrefix(id, "['") || !strings.HasSuffix(id, "']") {
			t.Fatalf("Ident(%q) = %q, want the bracket form", name, id)
		}
		checkLiteral(t, name, id[1:len(id)-1])
	})
}
