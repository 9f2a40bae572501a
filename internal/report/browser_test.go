package report

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"c2sweep/internal/report/browsertest"
)

// The hostile report in a real browser: nothing of the data runs (its
// payload would retitle the page), nothing is fetched, nothing is logged,
// and the payload shows as text.
func TestReportInChromium(t *testing.T) {
	browsertest.Chromium(t)
	path := filepath.Join(t.TempDir(), "report.html")
	m := Build(hostileInput())
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	p := browsertest.Open(t, path, 1400, 1000)
	if len(p.Console) != 0 {
		t.Errorf("console messages: %q", p.Console)
	}
	if len(p.Requests) != 0 {
		t.Errorf("network requests: %q", p.Requests)
	}
	if !strings.Contains(p.DOM, "<title>c2sweep report</title>") || strings.Contains(p.DOM, "pwned</title>") {
		t.Errorf("the page was retitled: a payload ran")
	}
	// The DOM holds no element the data brought: the page has no img or
	// script of its own.
	if strings.Contains(p.DOM, "<img") || strings.Contains(p.DOM, "<script") {
		t.Errorf("markup from the data became elements")
	}
	if !strings.Contains(p.DOM, "&lt;img src=x onerror=\"document.title='pwned'\"&gt;") {
		t.Errorf("the payload is not shown as text")
	}
	for _, r := range m.Rows {
		if !strings.Contains(p.DOM, `id="`+r.Anchor+`"`) || !strings.Contains(p.DOM, r.IP.String()) {
			t.Errorf("row %s (%s) missing from the DOM", r.Anchor, r.IP)
		}
	}
	if n := browsertest.Colors(p.Screenshot, 16); n < 16 {
		t.Errorf("screenshot has %d colours: blank?", n)
	}
	if !slices.Contains(m.Verdict.Servers, "203.0.113.7") {
		t.Errorf("verdict servers: %v", m.Verdict.Servers)
	}
}
