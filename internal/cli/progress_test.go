package cli

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// A progress line quotes hunt names: on the terminal it stays one redrawn
// line with no escape sequence, and is cut on a character boundary.
func TestProgressLineIsTerminalSafe(t *testing.T) {
	var term bytes.Buffer
	p := &termProgress{w: &term}
	p.Update("shodan  hunt 1/1 \x1b[2Jevil\nhunt\u202e: page 1 " + strings.Repeat("é", 120))
	p.Done()
	out := term.String()
	if strings.ContainsAny(out, "\x1b\n\u202e") {
		t.Fatalf("progress wrote a raw control or bidi character: %q", out)
	}
	if !strings.Contains(out, `\x1b[2Jevil\nhunt\u202e`) {
		t.Errorf("progress does not show the hunt name as text: %q", out)
	}
	if !strings.Contains(out, "é...") || !utf8.ValidString(out) {
		t.Errorf("progress line not cut on a character boundary: %q", out)
	}
}
