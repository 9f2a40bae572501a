package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"c2sweep/internal/textsafe"
)

// termProgress redraws one status line on a terminal, at most ten times a
// second, and clears it when done so the summary prints clean. Lines quote
// hunt names and targets, so they are made terminal-safe here: a newline or
// escape sequence would break the redraw or the screen.
type termProgress struct {
	mu    sync.Mutex
	w     io.Writer
	last  time.Time
	width int
}

func (p *termProgress) Update(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	line = textsafe.Terminal(line)
	if utf8.RuneCountInString(line) > 100 {
		line = string([]rune(line)[:97]) + "..."
	}
	n := utf8.RuneCountInString(line)
	pad := p.width - n
	p.width = n
	fmt.Fprintf(p.w, "\r%s%*s", line, max(pad, 0), "")
}

func (p *termProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.width, "")
		p.width = 0
	}
}
