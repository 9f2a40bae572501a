package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"c2sweep/internal/cli"
	"c2sweep/internal/report/browsertest"
	"c2sweep/internal/textsafe"
)

// domText is text as Chromium serializes a text node.
var domText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;")

// TestReportOfLabRun: a run against the lab, then `report`, opened in
// headless Chromium: one row per device and C2 server of the lab's truth
// with its event count, the hostile world's device names and command
// lines as text, no console message, no request, a non-blank screenshot.
func TestReportOfLabRun(t *testing.T) {
	browsertest.Chromium(t)
	state, out := runEnv(t)
	l := shared(t)
	want := map[[2]string]int{} // (device, IP) -> events
	for k := range truth(t, l, "CobaltStrikeJARM") {
		want[[2]string{k.Device, k.IP}]++
	}
	st := func(args ...string) []string { return append([]string{"--state", state}, args...) }
	mustCode(t, cli.ExitHits, st("run", "--hunt", "CobaltStrikeJARM", "--out", out)...)

	// Both scopes at once, or a run that is not recorded, are errors.
	if r := c2sweep(t, st("report", "--run", "1", "--since", "7d")...); r.code != cli.ExitCannotRun || !strings.Contains(r.stderr, "choose one") {
		t.Errorf("--run with --since: %s", r)
	}
	if r := c2sweep(t, st("report", "--run", "9")...); r.code != cli.ExitCannotRun || !strings.Contains(r.stderr, "no such run") {
		t.Errorf("--run 9: %s", r)
	}

	path := filepath.Join(t.TempDir(), "report.html")
	r := mustCode(t, 0, st("report", "-o", path)...)
	if !strings.Contains(r.stderr, "wrote "+path+": "+strconv.Itoa(len(want))+" device-C2 rows") {
		t.Errorf("report: %s", r)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if std := mustCode(t, 0, st("report", "-o", "-")...).stdout; len(std) < len(html)/2 || !strings.Contains(std, "<!doctype html>") {
		t.Errorf("report -o - wrote %d bytes", len(std))
	}
	// The lab's truth is the lookback's contacts: a 30-day window has every
	// row, and says so.
	if std := mustCode(t, 0, st("report", "--since", "30d", "-o", "-")...).stdout; strings.Count(std, `<tr id="hit-`) != len(want) ||
		!strings.Contains(std, "hits with events since ") {
		t.Errorf("report --since 30d: %d rows, want %d", strings.Count(std, `<tr id="hit-`), len(want))
	}

	p := browsertest.Open(t, path, 1400, 2000)
	if len(p.Console) != 0 {
		t.Errorf("console messages: %q", p.Console)
	}
	if len(p.Requests) != 0 {
		t.Errorf("network requests: %q", p.Requests)
	}
	if n := browsertest.Colors(p.Screenshot, 16); n < 16 {
		t.Errorf("screenshot has %d colours: blank?", n)
	}
	if strings.Contains(p.DOM, "<img") || strings.Contains(p.DOM, "<script") || !strings.Contains(p.DOM, "<title>c2sweep report</title>") {
		t.Errorf("markup from the lab's data became elements")
	}
	rows := regexp.MustCompile(`(?s)<tr id="hit-\d+" data-ip="([^"]+)">\s*<th scope="row">(.*?)</th>.*?<td class="num">(\d+)</td>.*?</tr>`).FindAllStringSubmatch(p.DOM, -1)
	if len(rows) != len(want) {
		t.Errorf("%d rows in the DOM, want %d", len(rows), len(want))
	}
	hostile := 0
	for k, n := range want {
		dev := domText.Replace(textsafe.Terminal(k[0]))
		found := false
		for _, row := range rows {
			if row[1] == k[1] && strings.HasPrefix(row[2], dev) && row[3] == strconv.Itoa(n) {
				found = true
			}
		}
		if !found {
			t.Errorf("no row for %s -> %s with %d events", k[0], k[1], n)
		}
		if strings.Contains(k[0], "<") {
			hostile++
			if !strings.Contains(p.DOM, dev) {
				t.Errorf("hostile device name %q is not shown as text", k[0])
			}
		}
	}
	// The seed-1 world's JARM hits carry markup in a device name and in a
	// command line: the test proves nothing without them.
	if hostile == 0 || !strings.Contains(p.DOM, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the hostile device name or command line is not in the report")
	}
}
