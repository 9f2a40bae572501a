package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// termProgress redraws one status line on a terminal, at most ten times a
// second, and clears it when done so the summary prints clean.
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
	if len(line) > 100 {
		line = line[:97] + "..."
	}
	pad := p.width - len(line)
	p.width = len(line)
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
