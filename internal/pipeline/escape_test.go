package pipeline_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/report"
	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
)

// reported reports whether a default sweep of the world finds contact c.
func reported(c lab.Contact) bool {
	return c.Table == dne.Table && !c.Stale && !c.Old && slices.Contains(huntedFrameworks, c.Server.Framework)
}

// TestRunSummaryKeepsHostileTextInert sweeps a world whose reported hits
// carry escape sequences and a bidi override in device and process names
// (planted by the lab), and prints the summary as to a terminal: no escape
// byte, control or bidi character reaches it, and each hit stays one line.
func TestRunSummaryKeepsHostileTextInert(t *testing.T) {
	now := time.Now().UTC()
	seed := pickSeed(t, now, func(w *lab.World) bool {
		var esc, bidi bool
		for _, c := range w.Contacts {
			if reported(c) {
				esc = esc || strings.Contains(c.Device, "\x1b")
				bidi = bidi || strings.Contains(c.Process, "\u202e")
			}
		}
		return esc && bidi
	})
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: seed, Now: now}})
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: ptTempStore(t)}
	s := ptRun(t, p, pipeline.Options{Hunts: ptHunts(), API: "graph", OutDir: filepath.Join(t.TempDir(), "results")})
	if len(s.NewHits) == 0 {
		t.Fatalf("no hits: %s", ptDescribe(s))
	}

	var term bytes.Buffer
	s.WriteText(&term, true)
	text := term.String()
	if !utf8.ValidString(text) {
		t.Fatalf("summary is not valid UTF-8:\n%q", text)
	}
	for i, r := range text {
		if r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == '\u202e' || r >= '\u2066' && r <= '\u2069') {
			t.Fatalf("summary holds raw %U at byte %d:\n%q", r, i, text)
		}
	}
	for _, c := range l.World.Contacts {
		if !reported(c) {
			continue
		}
		for _, v := range []string{c.Device, c.Process} {
			if !strings.Contains(text, textsafe.Terminal(v)) {
				t.Errorf("summary lacks %q shown as %q:\n%s", v, textsafe.Terminal(v), text)
			}
		}
	}
	// One line a device and C2 server, under a header row: the hit list is
	// the indented block after its title.
	_, list, _ := strings.Cut(text, "NEW HITS")
	lines := strings.Split(list, "\n")[1:]
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "  DEVICE") {
		t.Fatalf("hit list without its header row:\n%s", text)
	}
	n := 0
	for n+1 < len(lines) && strings.HasPrefix(lines[n+1], "  ") && !strings.HasPrefix(lines[n+1], "  ...") {
		n++
	}
	stored := make([]store.StoredHit, len(s.NewHits))
	for i, h := range s.NewHits {
		stored[i].Hit = h
	}
	if want := len(report.Rollup(stored)); n != want {
		t.Errorf("%d hit lines for %d rolled-up hits:\n%s", n, want, text)
	}
}
