// Package health judges a hunt by its last runs: a fingerprint that stops
// returning anything, or suddenly returns far more than usual, or fails,
// or whose fresh servers are mostly excluded, is worth a hunter's look.
// It is a pure function of the runs the state keeps.
package health

import (
	"fmt"
	"slices"
	"strings"
)

// Run is what the health needs of one run of a hunt.
type Run struct {
	Returned int // items the source returned
	Fresh    int // fresh indicators (before exclusion)
	Excluded int // of Fresh, dropped by exclusions
	Hits     int
	Failed   bool
}

// Verdicts.
const (
	Healthy  = "healthy"
	Silent   = "silent"
	Spiking  = "spiking"
	Failing  = "failing"
	Noisy    = "noisy"
	TooSoon  = "new" // too few runs to judge
	spikeMin = 3     // runs of history a spike needs
)

// Options are the thresholds.
type Options struct {
	SilentRuns int     // silent for this many runs in a row (default 7)
	SpikeX     float64 // results above median x this (default 5)
}

func (o Options) withDefaults() Options {
	if o.SilentRuns <= 0 {
		o.SilentRuns = 7
	}
	if o.SpikeX <= 0 {
		o.SpikeX = 5
	}
	return o
}

// Verdict is a hunt's state after runs (oldest first), with a detail for
// people ("silent for 7 runs", "120 results, 8x its median of 15").
type Verdict struct {
	State  string
	Detail string
}

// Warns says whether the state is one the summary, /metrics and the alert
// channel raise.
func (v Verdict) Warns() bool { return v.State == Silent || v.State == Spiking }

// Judge returns the verdict of the runs, oldest first.
func Judge(runs []Run, o Options) Verdict {
	o = o.withDefaults()
	if len(runs) == 0 {
		return Verdict{State: TooSoon}
	}
	last := runs[len(runs)-1]
	if last.Failed {
		n := 0
		for i := len(runs) - 1; i >= 0 && runs[i].Failed; i-- {
			n++
		}
		return Verdict{State: Failing, Detail: fmt.Sprintf("failed %s", times(n))}
	}
	silent := 0
	for i := len(runs) - 1; i >= 0 && !runs[i].Failed && runs[i].Returned == 0; i-- {
		silent++
	}
	if silent >= o.SilentRuns {
		return Verdict{State: Silent, Detail: fmt.Sprintf("silent for %d runs", silent)}
	}
	if prior := runs[:len(runs)-1]; len(prior) >= spikeMin {
		var rs []int
		for _, r := range prior {
			if !r.Failed {
				rs = append(rs, r.Returned)
			}
		}
		if len(rs) >= spikeMin {
			slices.Sort(rs)
			med := rs[len(rs)/2]
			if float64(last.Returned) > o.SpikeX*float64(max(med, 1)) {
				return Verdict{State: Spiking, Detail: fmt.Sprintf("%d results, over %gx its median of %d", last.Returned, o.SpikeX, med)}
			}
		}
	}
	if last.Fresh > 0 && 2*last.Excluded > last.Fresh {
		return Verdict{State: Noisy, Detail: fmt.Sprintf("%d of %d fresh IPs excluded", last.Excluded, last.Fresh)}
	}
	if len(runs) < 2 && last.Returned == 0 {
		return Verdict{State: TooSoon}
	}
	d := ""
	if silent > 0 {
		d = fmt.Sprintf("silent for %d runs", silent)
	}
	return Verdict{State: Healthy, Detail: d}
}

func times(n int) string {
	if n == 1 {
		return "in the last run"
	}
	return fmt.Sprintf("in the last %d runs", n)
}

// Sparkline draws values as block characters (a terminal) or, plain, as
// digits 0-9 scaled to the largest value, one a run.
func Sparkline(values []int, plain bool) string {
	top := 0
	for _, v := range values {
		top = max(top, v)
	}
	const blocks = "▁▂▃▄▅▆▇█"
	var b strings.Builder
	for _, v := range values {
		if plain {
			d := 0
			if top > 0 {
				d = (v*9 + top - 1) / top
			}
			b.WriteByte(byte('0' + d))
			continue
		}
		i := 0
		if top > 0 && v > 0 {
			i = 1 + (v*6+top-1)/top
		}
		if v == 0 {
			b.WriteRune(' ')
			continue
		}
		b.WriteRune([]rune(blocks)[min(i, 7)])
	}
	return b.String()
}
