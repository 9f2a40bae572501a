package notify

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"c2sweep/internal/indicator"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
)

// labHits are the planted contacts of a lab world as hits: their device,
// account, process and command line carry the lab's hostile payloads.
func labHits(t *testing.T) []indicator.Hit {
	t.Helper()
	w := lab.NewWorld(lab.WorldConfig{Seed: 1, Now: t0})
	var hs []indicator.Hit
	for _, c := range w.Contacts {
		hs = append(hs, indicator.Hit{
			Table: c.Table, Column: c.Column, IP: c.ServerIP, Port: c.Port, Timestamp: c.Time,
			Device: c.Device, DeviceID: c.DeviceID, Account: c.Account, Process: c.Process,
			Command: c.CommandLine, ReportID: strconv.FormatInt(c.ReportID, 10),
			Hunts: []string{c.Server.Framework + " **hunt** <b>"},
		})
	}
	hostile := 0
	for _, h := range hs {
		if strings.ContainsAny(h.Device+h.Command+h.Process+h.Account, "\x1b\u202e<\n") {
			hostile++
		}
	}
	if hostile < 3 {
		t.Fatalf("precondition: the lab plants hostile text in hits, %d of %d carry some", hostile, len(hs))
	}
	return hs
}

// strs collects every string value of a decoded JSON document.
func strs(v any, out *[]string) {
	switch x := v.(type) {
	case string:
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			strs(e, out)
		}
	case map[string]any:
		for _, e := range x {
			strs(e, out)
		}
	}
}

// sendLab sends the lab's hits to a sink of kind and returns every string
// value of the body the receiver got.
func sendLab(t *testing.T, kind string) []string {
	t.Helper()
	hs := labHits(t)
	s := startSink(t, kind)
	tg := newTarget(t, s, &sleeps{}, WithMaxHits(len(hs)))
	if err := tg.Send(context.Background(), Alert{RunID: 3, Time: t0, Hits: hs}); err != nil {
		t.Fatal(err)
	}
	acc := s.Accepted()
	if len(acc) != 1 {
		t.Fatalf("not accepted: %+v", s.Requests())
	}
	var doc any
	if err := json.Unmarshal(acc[0].Body, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	strs(doc, &out)
	return out
}

// inert fails when a string of a message holds a control or bidi character
// or a sequence the receiver would act on.
func inert(t *testing.T, kind string, values []string, acting []string) {
	t.Helper()
	for _, v := range values {
		for _, r := range v {
			if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)) {
				t.Errorf("%s: raw %U in %q", kind, r, v)
			}
		}
		for _, a := range acting {
			if strings.Contains(v, a) {
				t.Errorf("%s: %q acts in %q", kind, a, v)
			}
		}
	}
}

// shownAs are payloads the lab plants and the text Teams and Slack must
// get for them.
var shownAs = []struct{ raw, teams, slack string }{
	{"\x1b]8;;https://evil.example/\x1b\\Windows Update",
		`\\x1b\]8;;https://evil.example/\\x1b\\Windows Update`,
		`\x1b]8;;https://evil.example/\x1b\Windows Update`},
	{"**[Microsoft Update](https://evil.example)**",
		`\*\*\[Microsoft Update\](https://evil.example)\*\*`,
		"∗∗[Microsoft Update](https://evil.example)∗∗"},
	{"<!channel> <https://evil.example|click here>",
		`&lt;!channel&gt; &lt;https://evil.example\|click here&gt;`,
		"&lt;!channel&gt; &lt;https://evil.example|click here&gt;"},
	{"invoice\u202efdp.exe", `invoice\\u202efdp.exe`, `invoice\u202efdp.exe`},
	{"ws-0001.corp.contoso.lab\x1b[1A\x1b[2K\x1b[31m",
		`ws-0001.corp.contoso.lab\\x1b\[1A\\x1b\[2K\\x1b\[31m`,
		`ws-0001.corp.contoso.lab\x1b[1A\x1b[2K\x1b[31m`},
	{"<img src=x onerror=alert(1)>**ws-0002**\n<!channel>",
		`&lt;img src=x onerror=alert(1)&gt;\*\*ws-0002\*\*\\n&lt;!channel&gt;`,
		`&lt;img src=x onerror=alert(1)&gt;∗∗ws-0002∗∗\n&lt;!channel&gt;`},
}

// checkShown fails when a planted payload of the hits is not in the message
// in its escaped form.
func checkShown(t *testing.T, kind string, values []string) {
	t.Helper()
	var raw strings.Builder
	for _, h := range labHits(t) {
		raw.WriteString(h.Device + "\x00" + h.Command + "\x00" + h.Process + "\x00")
	}
	joined := strings.Join(values, "\n")
	planted := 0
	for _, p := range shownAs {
		if !strings.Contains(raw.String(), p.raw) {
			continue
		}
		planted++
		want := p.teams
		if kind == labtest.SinkSlack {
			want = p.slack
		}
		if !strings.Contains(joined, want) {
			t.Errorf("%s: message lacks %q shown as %q", kind, p.raw, want)
		}
	}
	if planted < 3 {
		t.Errorf("precondition: only %d of the payloads are in the lab's hits", planted)
	}
}

func TestTeamsCardShowsLabPayloadsAsText(t *testing.T) {
	values := sendLab(t, labtest.SinkTeams)
	inert(t, "teams", values, []string{"<", ">", "\n"})
	for _, v := range values {
		// Every Markdown character that acts is escaped.
		for i := 0; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '*', '_', '~', '`', '[', ']', '|':
				t.Errorf("teams: unescaped %q at %d in %q", v[i], i, v)
			}
		}
	}
	checkShown(t, labtest.SinkTeams, values)
}

func TestSlackMessageShowsLabPayloadsAsText(t *testing.T) {
	values := sendLab(t, labtest.SinkSlack)
	inert(t, "slack", values, []string{"<", ">", "@channel", "@here", "**", "~", "\r"})
	checkShown(t, labtest.SinkSlack, values)
	// A hit's section is its device line, then one "*Title:* value" line a
	// fact: a line break in a value must not add a line of its own.
	sections := 0
	for _, v := range values {
		lines := strings.Split(v, "\n")
		if len(lines) < 2 || !strings.Contains(lines[0], " → `") {
			continue
		}
		sections++
		for _, l := range lines[1:] {
			title, _, ok := strings.Cut(l, ":* ")
			if !ok || !strings.HasPrefix(title, "*") || strings.ContainsAny(title[1:], "*`<") {
				t.Errorf("slack: forged line %q in section:\n%s", l, v)
			}
		}
	}
	if sections != len(labHits(t)) {
		t.Errorf("slack: %d hit sections, want %d", sections, len(labHits(t)))
	}
}
