package browsertest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The harness is not blind: a page that logs an error, loads an image
// and fetches is seen doing all three, and its script ran.
func TestOpenSeesRequestsAndConsole(t *testing.T) {
	Chromium(t)
	path := filepath.Join(t.TempDir(), "control.html")
	page := `<!doctype html><html><head><title>before</title></head><body><p>control</p>` +
		`<img src="https://img.c2sweep.invalid/x.png"><script>console.error("control-error"); document.title = "after"; ` +
		`fetch("https://fetch.c2sweep.invalid/y")</script></body></html>`
	if err := os.WriteFile(path, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Open(t, path, 400, 300)
	if !strings.Contains(p.DOM, "<title>after</title>") {
		t.Errorf("the script did not run:\n%s", p.DOM)
	}
	if !slices.ContainsFunc(p.Console, func(s string) bool { return strings.Contains(s, "control-error") }) {
		t.Errorf("console not seen: %q", p.Console)
	}
	for _, host := range []string{"img.c2sweep.invalid:443", "fetch.c2sweep.invalid:443"} {
		if !slices.Contains(p.Requests, "CONNECT "+host) {
			t.Errorf("request to %s not seen: %q", host, p.Requests)
		}
	}
	if n := Colors(p.Screenshot, 10); n < 2 {
		t.Errorf("screenshot of a page with text has %d colours", n)
	}
}
