package textsafe

import (
	"html"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile are the payloads the lab plants too: escape sequences, bidi
// overrides, line breaks, Markdown, HTML and Slack control sequences.
var hostile = []string{
	"",
	"WS-0042",
	"\x1b[31mred\x1b[0m",
	"\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
	"\x1b[2J\x1b[H",
	"\x9b31m",
	"ws\u202egpj.exe",
	"a\u2066b\u2069c\u200e\u200f\u061c",
	"line1\nline2\r\n\tx",
	"**bold** [link](https://evil.example) ![img](https://evil.example/x.png)",
	"<script>alert(1)</script>",
	`<img src=x onerror="alert(1)">`,
	"<!channel> <!here> <@U123> <https://evil.example|click>",
	"@channel @HERE @everyone user@corp.example",
	"=HYPERLINK(\"https://evil.example\",\"x\")",
	"  +1+1",
	"-5",
	"@SUM(1)",
	"\tcmd",
	"\xff\xfe invalid \xc3",
	`C:\Windows\System32\cmd.exe /c "whoami"`,
	"&amp; &lt; already escaped",
	"\u2028\u2029",
	"日本語 ✓ é",
	"`code` _it_ ~strike~ *b*",
	"rund\u200bll32.exe\ufeff \U000E0041\U000E007F",
	"# heading\n- item\n1. first\n> quote\n|a|b|",
}

func TestTerminal(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"WS-0042.corp.example", "WS-0042.corp.example"},
		{`C:\Windows\cmd.exe /c "x"`, `C:\Windows\cmd.exe /c "x"`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"\x1b]8;;https://e.example\x1b\\x", `\x1b]8;;https://e.example\x1b\x`},
		{"a\nb\r\tc", `a\nb\r\tc`},
		{"\x00\x07\x7f", `\x00\x07\x7f`},
		{"\u0085\u009b", `\u0085\u009b`},
		{"ws\u202egpj.exe", `ws\u202egpj.exe`},
		{"\u2066\u2069\u200e\u200f\u061c\u202a", `\u2066\u2069\u200e\u200f\u061c\u202a`},
		{"\u2028\u2029", `\u2028\u2029`},
		{"rund\u200bll32\ufeff\u00ad.exe", `rund\u200bll32\ufeff\u00ad.exe`},
		{"tag\U000E0041", `tag\U000e0041`},
		{"\xff\xc3x", `\xff\xc3x`},
		{"日本語 é ✓", "日本語 é ✓"},
		{"<b>**x**</b>", "<b>**x**</b>"},
	} {
		if got := Terminal(c.in); got != c.want {
			t.Errorf("Terminal(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCSV(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"WS-0042", "WS-0042"},
		{"=1+1", "'=1+1"},
		{"+cmd", "'+cmd"},
		{"-5", "'-5"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"  =1", "'  =1"},
		{"＝1", "'＝1"},
		{"\t=1", `\t=1`},
		{"\r=1", `\r=1`},
		{"a=1", "a=1"},
		{"\x1b[31m=x", `\x1b[31m=x`},
		{"=\x1b[2J", `'=\x1b[2J`},
		{"a\nb", `a\nb`},
	} {
		if got := CSV(c.in); got != c.want {
			t.Errorf("CSV(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"WS0042", "WS0042"},
		{"ws-01.corp.example", "ws-01.corp.example"},
		{"**bold**", `\*\*bold\*\*`},
		{"[link](https://evil.example)", `\[link\](https://evil.example)`},
		{"![x](https://evil.example/x.png)", `!\[x\](https://evil.example/x.png)`},
		{"<script>alert(1)</script>", `&lt;script&gt;alert(1)&lt;/script&gt;`},
		{"a & b", "a &amp; b"},
		{"# h", `\# h`},
		{"  - item", `  \- item`},
		{"+ item", `\+ item`},
		{"=== x", `\=== x`},
		{"12. item", `12\. item`},
		{"3) item", `3\) item`},
		{"1 + 2. x", "1 + 2. x"},
		{"> quote", "&gt; quote"},
		{`C:\x`, `C:\\x`},
		{"a\nb", `a\\nb`},
		{"\x1b[31m", `\\x1b\[31m`},
		{"x\u202ey", `x\\u202ey`},
		{"_i_ ~s~ `c` |t|", "\\_i\\_ \\~s\\~ \\`c\\` \\|t\\|"},
	} {
		if got := Markdown(c.in); got != c.want {
			t.Errorf("Markdown(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHTML(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"WS-0042", "WS-0042"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{`<img src=x onerror="alert('1')">`, "&lt;img src=x onerror=&#34;alert(&#39;1&#39;)&#34;&gt;"},
		{"a & b", "a &amp; b"},
		{"x\u202ey\n", `x\u202ey\n`},
		{"\x1b[31m<b>", `\x1b[31m&lt;b&gt;`},
	} {
		if got := HTML(c.in); got != c.want {
			t.Errorf("HTML(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSlack(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"WS-0042", "WS-0042"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"<https://evil.example|click>", "&lt;https://evil.example|click&gt;"},
		{"a & b", "a &amp; b"},
		{"*b* _i_ ~s~ `c`", "∗b∗ ˍiˍ ∼s∼ ˋcˋ"},
		{"@channel hi @Here @everyone", "＠channel hi ＠Here ＠everyone"},
		{"admin@corp.example", "admin@corp.example"},
		{"a\nb\u202e", `a\nb\u202e`},
		{"\x1b[31m", `\x1b[31m`},
	} {
		if got := Slack(c.in); got != c.want {
			t.Errorf("Slack(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// checkVisible fails when out is not valid UTF-8 or holds a rune a reader
// would not see.
func checkVisible(t *testing.T, name, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("%s(%q) = %q: not valid UTF-8", name, in, out)
	}
	for _, r := range out {
		if hidden(r) {
			t.Fatalf("%s(%q) = %q: holds raw %U", name, in, out, r)
		}
	}
}

func FuzzTerminal(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Terminal(s)
		checkVisible(t, "Terminal", s, out)
		if Terminal(out) != out {
			t.Fatalf("Terminal is not idempotent on %q", s)
		}
		if clean(s) != (out == s) {
			t.Fatalf("Terminal(%q) = %q: clean text must pass unchanged, other text must change", s, out)
		}
	})
}

func FuzzCSV(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := CSV(s)
		checkVisible(t, "CSV", s, out)
		if formulaLead(out) {
			t.Fatalf("CSV(%q) = %q: a spreadsheet reads it as a formula", s, out)
		}
		if term := Terminal(s); out != term && out != "'"+term {
			t.Fatalf("CSV(%q) = %q: want Terminal's %q, apostrophe-prefixed at most", s, out, term)
		}
		if CSV(out) != out {
			t.Fatalf("CSV is not idempotent on %q", s)
		}
	})
}

// markdownText is what a Markdown renderer shows for out, which must hold
// only backslash escapes and the three entities Markdown writes, and must
// not start a block.
func markdownText(t *testing.T, out string) string {
	t.Helper()
	body := strings.TrimLeft(out, " ")
	if body != "" && strings.IndexByte(markdownLead, body[0]) >= 0 {
		t.Fatalf("%q starts a block", out)
	}
	if d := strings.TrimLeft(body, "0123456789"); len(d) < len(body) && d != "" && (d[0] == '.' || d[0] == ')') {
		t.Fatalf("%q starts an ordered list", out)
	}
	var b strings.Builder
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c == '\\':
			if i+1 == len(out) || strings.IndexByte(markdownInline+markdownLead+".)", out[i+1]) < 0 {
				t.Fatalf("dangling backslash at %d in %q", i, out)
			}
			i++
			b.WriteByte(out[i])
		case strings.IndexByte(markdownInline, c) >= 0:
			t.Fatalf("unescaped Markdown %q at %d in %q", c, i, out)
		case c == '<' || c == '>':
			t.Fatalf("raw %q at %d in %q", c, i, out)
		case c == '&':
			j := strings.IndexByte(out[i:], ';')
			if j < 0 {
				t.Fatalf("raw & at %d in %q", i, out)
			}
			ent := out[i : i+j+1]
			if ent != "&lt;" && ent != "&gt;" && ent != "&amp;" {
				t.Fatalf("raw & at %d in %q", i, out)
			}
			b.WriteString(html.UnescapeString(ent))
			i += j
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzMarkdown(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Markdown(s)
		checkVisible(t, "Markdown", s, out)
		if got, want := markdownText(t, out), Terminal(s); got != want {
			t.Fatalf("Markdown(%q) shows %q, want Terminal's %q", s, got, want)
		}
	})
}

func FuzzHTML(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HTML(s)
		checkVisible(t, "HTML", s, out)
		if strings.ContainsAny(out, `<>"'`) {
			t.Fatalf("HTML(%q) = %q: raw markup character", s, out)
		}
		if got, want := html.UnescapeString(out), Terminal(s); got != want {
			t.Fatalf("HTML(%q) shows %q, want Terminal's %q", s, got, want)
		}
	})
}

func FuzzSlack(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Slack(s)
		checkVisible(t, "Slack", s, out)
		if strings.ContainsAny(out, "<>*_~`") {
			t.Fatalf("Slack(%q) = %q: raw mrkdwn control character", s, out)
		}
		for i := 0; i < len(out); i++ {
			if rest := out[i:]; out[i] == '&' && !strings.HasPrefix(rest, "&amp;") &&
				!strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
				t.Fatalf("Slack(%q) = %q: raw & at %d", s, out, i)
			}
		}
		low := strings.ToLower(out)
		for _, m := range slackMentions {
			if strings.Contains(low, "@"+m) {
				t.Fatalf("Slack(%q) = %q: live @%s", s, out, m)
			}
		}
		// Without the look-alikes in the input, the text reads back as
		// Terminal shows it.
		if !strings.ContainsAny(s, "∗ˍ∼ˋ＠") {
			back := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">",
				"∗", "*", "ˍ", "_", "∼", "~", "ˋ", "`", "＠", "@").Replace(out)
			if want := Terminal(s); back != want {
				t.Fatalf("Slack(%q) reads back as %q, want %q", s, back, want)
			}
		}
	})
}
