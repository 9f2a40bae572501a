package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/store"
)

const payload = `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`

func hostileInput() Input {
	h := hit(1, "ws01"+payload, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "203.0.113.7", 0, `contoso\`+payload, "powershell.exe",
		"powershell.exe -enc AAA "+payload+"\u202e", 443, "CobaltStrikeJARM")
	h2 := hit(2, "ws02", "javascript:alert(1)", "198.51.100.9", time.Hour, "bob", "svchost.exe", "", 80, "Evil"+payload)
	return Input{
		Title: "c2sweep report", Scope: "new hits of run 1", Generated: t0.Add(48 * time.Hour),
		Hits: []store.StoredHit{h, h2},
		Runs: []store.Run{{ID: 1, Outcome: store.OutcomePartial, Error: "hunt Evil failed: " + payload,
			Hunts: json.RawMessage(`[{"name":"CobaltStrikeJARM","indicators":3,"hits":1,"new_hits":1,"credits":1},{"name":"Evil","error":"shodan refused"}]`)}},
		Indicators: []store.IndicatorRecord{{IP: netip.MustParseAddr("203.0.113.7"), Sightings: []indicator.Sighting{
			{Hunt: "CobaltStrikeJARM", Org: "Aeza " + payload, ASN: "AS210644", Country: "RU", Product: "Cobalt Strike Beacon", JARM: "07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2"}}}},
		Suppressions: []store.Suppression{{Kind: "ip", Value: "192.0.2.1", Reason: payload, Created: t0}},
		Family:       func(h string) string { return map[string]string{"CobaltStrikeJARM": "Cobalt Strike"}[h] },
	}
}

func render(t *testing.T, in Input) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, Build(in)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Attacker-controlled text (device names, accounts, command lines, org
// names, hunt names, errors, reasons) comes out as text, never markup; a
// device id that is not Defender's makes no link.
func TestRenderEscapes(t *testing.T) {
	page := render(t, hostileInput())
	if strings.Count(page, "<script") != 0 || strings.Contains(page, "<img") || strings.Contains(page, "onerror=\"") {
		t.Errorf("markup from the data reached the page:\n%s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;") {
		t.Errorf("the payload is not shown as text")
	}
	if strings.Contains(page, "\u202e") || !strings.Contains(page, `\u202e`) {
		t.Errorf("a bidi override reached the page unescaped")
	}
	if strings.Contains(page, "javascript:") && !strings.Contains(page, "<code>javascript:alert(1)</code>") {
		t.Errorf("javascript: outside a code span")
	}
	hrefs := regexp.MustCompile(`(?i)\b(?:href|src|action|xlink:href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(page, -1)
	want := map[string]bool{
		"https://www.shodan.io/host/203.0.113.7": true, "https://www.shodan.io/host/198.51.100.9": true,
		"https://security.microsoft.com/machines/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/overview": true,
	}
	for _, h := range hrefs {
		if !want[h[1]] {
			t.Errorf("unexpected link %q", h[1])
		}
		delete(want, h[1])
	}
	if len(want) != 0 {
		t.Errorf("links missing: %v", want)
	}
	for _, s := range []string{"url(", "@import", "http://", "<link", "<iframe", "<object"} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), s) {
			t.Errorf("page refers to outside content: %q", s)
		}
	}
	if !strings.Contains(page, `content="default-src &#39;none&#39;; style-src &#39;sha256-`) &&
		!strings.Contains(page, `content="default-src 'none'; style-src 'sha256-`) {
		t.Errorf("no content security policy")
	}
}

func TestVerdict(t *testing.T) {
	m := Build(hostileInput())
	v := m.Verdict
	if v.Pairs != 2 || v.Events != 2 || len(v.Devices) != 2 || len(v.Servers) != 2 || v.Complete ||
		strings.Join(v.Families, ",") != "Cobalt Strike" {
		t.Errorf("verdict: %+v", v)
	}
	if len(m.Failures) != 1 || m.Failures[0].Outcome != "partial" {
		t.Errorf("failures: %+v", m.Failures)
	}
	if len(m.Hunts) != 3 || m.Hunts[0].Name != "CobaltStrikeJARM" || m.Hunts[0].Pairs != 1 || m.Hunts[0].Indicators != 3 || m.Hunts[0].Family != "Cobalt Strike" ||
		m.Hunts[1].Name != "Evil" || len(m.Hunts[1].Errors) != 1 {
		t.Errorf("hunts: %+v", m.Hunts)
	}
	if r := m.Rows[1]; r.Server.Org != "Aeza "+payload || r.Server.Product != "Cobalt Strike Beacon" || r.DefenderURL == "" {
		t.Errorf("row 1: %+v", r)
	}
	if r := m.Rows[0]; r.DefenderURL != "" || r.Status != "new" {
		t.Errorf("row 0: %+v", r)
	}
	empty := Build(Input{Runs: []store.Run{{ID: 2, Outcome: store.OutcomeOK}}})
	if empty.Verdict.Pairs != 0 || !empty.Verdict.Complete || !strings.HasPrefix(empty.Verdict.Next[0], "No live") {
		t.Errorf("empty verdict: %+v", empty.Verdict)
	}
	var b bytes.Buffer
	if err := Render(&b, empty); err != nil || !strings.Contains(b.String(), "No device talked to a known C2 server") {
		t.Errorf("empty report: %v", err)
	}
}

// 1,000 rolled-up hits with long command lines stay under 2 MB.
func TestReportSize(t *testing.T) {
	long := strings.Repeat("A", 5000)
	var hits []store.StoredHit
	for i := range 1000 {
		ip := fmt.Sprintf("203.0.%d.%d", i/250, i%250+1)
		for j := range 4 {
			hits = append(hits, hit(int64(i*4+j), fmt.Sprintf("workstation-%04d.corp.contoso.com", i), fmt.Sprintf("%040x", i), ip,
				time.Duration(i*4+j)*time.Minute, fmt.Sprintf(`contoso\user%04d`, i), "powershell.exe",
				fmt.Sprintf("powershell.exe -nop -w hidden -encodedcommand %d %s", j, long), 443, "CobaltStrikeJARM", "CobaltStrikeCert"))
		}
	}
	m := Build(Input{Hits: hits, Generated: t0})
	if len(m.Rows) != 1000 {
		t.Fatalf("%d rows", len(m.Rows))
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 2<<20 {
		t.Errorf("report of 1,000 rows is %d bytes, want under 2 MB", fi.Size())
	}
	t.Logf("1,000 rows: %d bytes", fi.Size())
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".report-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// A report of the default target alone shows no target; one with another
// target shows each row's, as text; failed targets are listed as failures.
func TestRenderTargets(t *testing.T) {
	in := hostileInput()
	if page := render(t, in); strings.Contains(page, `class="w-tgt"`) {
		t.Errorf("a default-only report shows a target column")
	}
	in.Hits[1].Target = "agency" + payload
	in.Runs[0].Targets = []store.TargetOutcome{
		{Name: "default", Outcome: store.OutcomeOK, Queries: 2},
		{Name: "agency", Backend: "sentinel", Outcome: store.OutcomeFailed, Queries: 3, QueriesFailed: 3, Error: "401 " + payload},
	}
	m := Build(in)
	if !m.ShowTarget {
		t.Fatal("ShowTarget off with a second target")
	}
	page := render(t, in)
	if !strings.Contains(page, `class="w-tgt"`) || !strings.Contains(page, "<td>default</td>") ||
		!strings.Contains(page, "<td>agency&lt;script&gt;") {
		t.Errorf("target cells missing or not escaped:\n%s", page)
	}
	if strings.Count(page, "<script") != 0 || strings.Contains(page, "<img") {
		t.Errorf("markup from a target reached the page")
	}
	found := false
	for _, f := range m.Failures {
		if strings.HasPrefix(f.Message, "target agency failed: 3 of 3 queries failed: 401 ") {
			found = true
		}
	}
	if !found {
		t.Errorf("failed target not among the failures: %+v", m.Failures)
	}
	if hs := Hits(m); hs[0].Target == "" || hs[1].Target == "" {
		t.Errorf("hits.json rows without a target: %+v", hs)
	}
}
