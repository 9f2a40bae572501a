// Package textsafe renders untrusted text (device, process, account, command
// line, Shodan org and banner fields: all chosen by an attacker) so that it
// stays text in each output format. There is one function per format; every
// new output must use the one for its format and never print such a field
// raw.
//
// All functions first make invisible and control characters visible, the
// way Terminal does, so a value always shows on one line and can never move
// the cursor, recolour the screen, hide a link or reverse the reading order:
//
//   - C0 controls and DEL as \xNN (\n, \r and \t by name), C1 controls as
//     \u0080-style escapes, bytes that are not UTF-8 as \xNN;
//   - every invisible format character as \uXXXX (or \UXXXXXXXX): the
//     bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
//     U+2066-U+2069), zero-width spaces and joiners, the byte order mark,
//     tag characters (Unicode category Cf), and the line and paragraph
//     separators (U+2028, U+2029). Hidden in a name, they would make two
//     different names look the same.
//
// A backslash is left as it is: command lines and paths are full of them and
// a hunter must read them unchanged. So the visible form is not reversible,
// but it is stable: applying Terminal twice changes nothing.
package textsafe

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// hidden reports whether r is a rune that must be shown as an escape.
func hidden(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r < 0xad:
		return false
	case r == 0x2028, r == 0x2029:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// clean reports whether s is valid UTF-8 without any rune Terminal escapes.
func clean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || hidden(r) {
			return false
		}
		i += n
	}
	return true
}

// appendVisible appends the visible form of the hidden rune r, or, when bad,
// of the byte invalid that is not UTF-8.
func appendVisible(b *strings.Builder, r rune, invalid byte, bad bool) {
	switch {
	case bad:
		b.WriteString(`\x`)
		b.WriteByte(hexDigits[invalid>>4])
		b.WriteByte(hexDigits[invalid&0xf])
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\t':
		b.WriteString(`\t`)
	case r < 0x80:
		b.WriteString(`\x`)
		b.WriteByte(hexDigits[r>>4])
		b.WriteByte(hexDigits[r&0xf])
	case r <= 0xffff:
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hexDigits[(r>>shift)&0xf])
		}
	default:
		b.WriteString(`\U`)
		for shift := 28; shift >= 0; shift -= 4 {
			b.WriteByte(hexDigits[(r>>shift)&0xf])
		}
	}
}

// visible rewrites s with every hidden rune and invalid byte made visible,
// passing every other rune to emit (which appends it, escaped as its format
// needs). Visible escapes go through emit too, one rune at a time, so a
// format that escapes the backslash escapes theirs.
func visible(s string, emit func(b *strings.Builder, r rune)) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	var esc strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		bad := r == utf8.RuneError && n == 1
		if bad || hidden(r) {
			esc.Reset()
			appendVisible(&esc, r, s[i], bad)
			for _, e := range esc.String() {
				emit(&b, e)
			}
		} else {
			emit(&b, r)
		}
		i += n
	}
	return b.String()
}

func plain(b *strings.Builder, r rune) { b.WriteRune(r) }

// Terminal renders s for a terminal: a table cell or a line of human output.
// Control characters (ESC included, so no escape sequence survives), DEL,
// bidi controls and other invisible format characters, line separators and
// invalid UTF-8 become visible escapes such as \x1b, \u202e, \n and \xff;
// the value stays on one line. Everything else, backslashes included, is
// unchanged, and text that needs no escape is returned as it is.
func Terminal(s string) string {
	if clean(s) {
		return s
	}
	return visible(s, plain)
}

// CSV renders s as a field value for encoding/csv (which adds the quoting):
// terminal-safe as Terminal, and never read as a formula by a spreadsheet.
//
// Spreadsheets evaluate a cell starting with =, +, - or @ (and some with a
// leading tab or CR, or the full-width forms of those signs). Such a value,
// also when leading spaces come first, gets a leading apostrophe, the marker
// spreadsheets use for "text, not a formula" (OWASP's advice for CSV
// injection). The apostrophe is visible in a text viewer; a negative number
// such as -5 is kept as text too, which is the price of a uniform rule.
// Tabs and CRs never lead after Terminal (they become \t and \r).
func CSV(s string) string {
	t := Terminal(s)
	if formulaLead(t) {
		return "'" + t
	}
	return t
}

func formulaLead(s string) bool {
	s = strings.TrimLeft(s, " ")
	r, _ := utf8.DecodeRuneInString(s)
	switch r {
	case '=', '+', '-', '@', '\t', '\r',
		'＝', '＋', '－', '＠': // full-width forms some spreadsheets convert
		return true
	}
	return false
}

// Markdown renders s for Microsoft Teams (Adaptive Card TextBlock and Fact
// values, whose Markdown Teams renders with HTML too). Control and bidi
// characters are made visible as in Terminal (so the value is one line),
// <, > and & become HTML entities, and the Markdown syntax that could act is
// backslash-escaped: emphasis, code, strike, link and table characters
// everywhere, and a heading, list or quote marker at the start. The text then
// shows as typed: no emphasis, heading, list, link, image, table or tag. Dots
// and hyphens inside names are left alone, so device names stay readable. A
// bare URL may still be made clickable by the client, but its text then is
// the URL itself, never a disguise.
func Markdown(s string) string {
	lead := true    // only spaces so far: a marker here starts a block
	digits := false // only digits after them: "1." or "1)" starts a list
	return visible(s, func(b *strings.Builder, r rune) {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r < utf8.RuneSelf && strings.IndexByte(markdownInline, byte(r)) >= 0,
			lead && strings.IndexByte(markdownLead, byte(r)) >= 0,
			digits && (r == '.' || r == ')'):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
		switch {
		case r == ' ' && lead:
		case r >= '0' && r <= '9' && (lead || digits):
			lead, digits = false, true
		default:
			lead, digits = false, false
		}
	})
}

// markdownInline are the characters that act anywhere in a line (a backslash
// is one: it would escape what follows); markdownLead act at its start.
// CommonMark lets a backslash escape each of them.
const (
	markdownInline = "\\`*_~[]|"
	markdownLead   = "#-+="
)

// HTML renders s as HTML text or a quoted attribute value: control and bidi
// characters are made visible as in Terminal, then <, >, &, ' and " are
// escaped as html.EscapeString does.
func HTML(s string) string {
	return html.EscapeString(Terminal(s))
}

// Slack renders s for Slack mrkdwn. Slack has only three escapes (&amp;,
// &lt;, &gt;) and no way to escape its formatting characters, so:
//   - &, < and > are escaped, which also defuses links (<https://x|click>)
//     and special mentions (<!channel>, <@U123>);
//   - *, _, ~ and ` are replaced by look-alikes (∗ ˍ ∼ ˋ) so no bold,
//     italic, strike or code span can start or end inside the value;
//   - the @ of @channel, @here and @everyone becomes a full-width ＠, so
//     they never notify, even when the message is sent with link names on;
//   - control and bidi characters are made visible as in Terminal.
func Slack(s string) string {
	out := visible(s, func(b *strings.Builder, r rune) {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '*':
			b.WriteRune('∗')
		case '_':
			b.WriteRune('ˍ')
		case '~':
			b.WriteRune('∼')
		case '`':
			b.WriteRune('ˋ')
		default:
			b.WriteRune(r)
		}
	})
	if strings.IndexByte(out, '@') < 0 {
		return out
	}
	return defuseMentions(out)
}

// slackMentions are the words Slack turns into a broadcast after an @.
var slackMentions = []string{"channel", "here", "everyone"}

func defuseMentions(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 6)
	for {
		i := strings.IndexByte(s, '@')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		at := "@"
		for _, m := range slackMentions {
			if len(s) >= len(m) && strings.EqualFold(s[:len(m)], m) {
				at = "＠"
				break
			}
		}
		b.WriteString(at)
	}
}
