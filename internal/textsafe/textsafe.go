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
//   - the Unicode bidirectional controls (U+061C, U+200E, U+200F,
//     U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators
//     (U+2028, U+2029) as \uXXXX.
//
// A backslash is left as it is: command lines and paths are full of them and
// a hunter must read them unchanged. So the visible form is not reversible,
// but it is stable: applying Terminal twice changes nothing.
package textsafe

import (
	"html"
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// hidden reports whether r is a rune that must be shown as an escape.
func hidden(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
		r == 0x2028, r == 0x2029:
		return true
	}
	return false
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

// appendVisible appends the visible form of the hidden rune r, or of the
// invalid byte b when r is utf8.RuneError of width 1.
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
	default:
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
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
// bidi controls and invalid UTF-8 become visible escapes such as \x1b,
// \u202e, \n and \xff; the value stays on one line. Everything else,
// backslashes included, is unchanged.
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
// characters are made visible as in Terminal, the Markdown syntax characters
// are backslash-escaped and <, > and & become HTML entities, so the text
// shows as typed: no emphasis, heading, list, link, image, table or tag.
// A bare URL may still be made clickable by the client, but its text then is
// the URL itself, never a disguise.
func Markdown(s string) string {
	return visible(s, func(b *strings.Builder, r rune) {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			if r < utf8.RuneSelf && strings.IndexByte(markdownSyntax, byte(r)) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	})
}

// markdownSyntax are the ASCII characters CommonMark and Teams give meaning
// to; CommonMark lets a backslash escape every one of them.
const markdownSyntax = "\\`*_~[]()#+-.!|{}=:\"'"

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
//   - a zero-width space after the @ of @channel, @here and @everyone keeps
//     them from notifying when the message is sent with link names on;
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
		b.WriteString(s[:i+1])
		s = s[i+1:]
		for _, m := range slackMentions {
			if len(s) >= len(m) && strings.EqualFold(s[:len(m)], m) {
				b.WriteString("\u200b")
				break
			}
		}
	}
}
