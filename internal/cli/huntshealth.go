package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/health"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/store"
)

// huntHealth is one row of `hunts --health`.
type huntHealth struct {
	Name     string     `json:"name"`
	Runs     []int      `json:"results"` // what the source returned, oldest run first
	Spark    string     `json:"-"`
	LastSeen *time.Time `json:"last_results"` // nil: never in these runs
	Hits     int        `json:"hits"`
	Verdict  string     `json:"verdict"`
	Detail   string     `json:"detail,omitempty"`
}

func (c *HuntsCmd) runHealth(g *Globals) error {
	if c.Runs < 1 {
		return fmt.Errorf("--runs %d: a number of runs is 1 or more", c.Runs)
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	st, err := g.openState(true)
	if err != nil {
		return err
	}
	defer st.Close()
	hist, err := st.HuntRuns(g.ctx, max(c.Runs, cfg.Health.SilentRuns))
	if err != nil {
		return err
	}
	rows := healthRows(cfg, hist, c.Runs, !isTerminal(g.stdout))
	return writeList(g, c.OutputFlags, ZoneFlag{}, list[huntHealth]{cols: healthColumns, items: rows,
		empty: "no hunt has run yet\nhint: c2sweep run"})
}

// healthRows judges the configured hunts, then any other hunt the state
// has runs of, by name.
func healthRows(cfg *config.Config, hist map[string][]store.HuntRun, n int, plain bool) []huntHealth {
	var names []string
	for _, h := range cfg.EnabledHunts() {
		if len(hist[h.Name]) > 0 {
			names = append(names, h.Name)
		}
	}
	var others []string
	for name := range hist {
		if !slices.Contains(names, name) {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	names = append(names, others...)
	rows := make([]huntHealth, 0, len(names))
	for _, name := range names {
		rs := hist[name]
		v := health.Judge(pipeline.HealthRuns(rs), health.Options{SilentRuns: cfg.Health.SilentRuns})
		row := huntHealth{Name: name, Verdict: v.State, Detail: v.Detail}
		shown := rs[max(0, len(rs)-n):]
		for _, r := range shown {
			row.Runs = append(row.Runs, r.Returned)
			row.Hits += r.Hits
		}
		for _, r := range rs {
			if r.Returned > 0 {
				at := r.At
				row.LastSeen = &at
			}
		}
		row.Spark = health.Sparkline(row.Runs, plain)
		rows = append(rows, row)
	}
	return rows
}

var healthColumns = []column[huntHealth]{
	{head: "NAME", csv: "name", cell: func(h huntHealth) any { return h.Name }},
	{head: "RESULTS BY RUN", csv: "results", cell: func(h huntHealth) any {
		return h.Spark
	}, only: "table"},
	{head: "RESULTS", csv: "results", cell: func(h huntHealth) any {
		s := make([]string, len(h.Runs))
		for i, r := range h.Runs {
			s[i] = fmt.Sprint(r)
		}
		return strings.Join(s, " ")
	}, only: "csv"},
	{head: "LAST RESULTS", csv: "last_results", cell: func(h huntHealth) any {
		if h.LastSeen == nil {
			return "never"
		}
		return *h.LastSeen
	}, layout: "2006-01-02 15:04"},
	{head: "HITS", csv: "hits", cell: func(h huntHealth) any { return h.Hits }},
	{head: "VERDICT", csv: "verdict", cell: func(h huntHealth) any {
		if h.Detail != "" && h.Verdict != health.Healthy {
			return h.Verdict + " (" + h.Detail + ")"
		}
		return h.Verdict
	}},
}
