package cli

import (
	"fmt"
	"os"
	"strings"

	"c2sweep/internal/config"
)

// HuntsCmd lists the effective hunts.
type HuntsCmd struct {
	OutputFlags `embed:""`
	Health      bool `help:"Each hunt's health from the state: its last runs, last results, hits and verdict."`
	Runs        int  `help:"With --health: how many runs to show." default:"14" placeholder:"N"`
}

func (c *HuntsCmd) Help() string {
	return `Examples:
  c2sweep hunts
  c2sweep --config c2sweep.yaml hunts --json
  c2sweep hunts --health`
}

func (c *HuntsCmd) Run(g *Globals) error {
	if c.Health {
		return c.runHealth(g)
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	return writeList(g, c.OutputFlags, ZoneFlag{}, list[config.Hunt]{cols: huntColumns, items: cfg.Hunts, empty: "no hunts"})
}

var huntColumns = []column[config.Hunt]{
	{head: "NAME", csv: "name", cell: func(h config.Hunt) any { return h.Name }},
	{head: "ENABLED", csv: "enabled", cell: func(h config.Hunt) any { return h.Enabled }},
	{head: "SOURCE", csv: "source", cell: func(h config.Hunt) any { return h.Source }},
	{head: "MAX AGE", csv: "max_age", cell: func(h config.Hunt) any { return h.MaxAge.String() }},
	{head: "PAGES", csv: "pages", cell: func(h config.Hunt) any {
		if h.Pages > 0 {
			return h.Pages
		}
		return "all"
	}},
	{head: "SWEEP", csv: "sweep", cell: func(h config.Hunt) any {
		ts := make([]string, len(h.Sweep))
		for i, t := range h.Sweep {
			ts[i] = t.String()
		}
		return strings.Join(ts, ",")
	}},
	{head: "QUERY", csv: "query", cell: func(h config.Hunt) any { return huntWhat(h) }},
	{head: "FROM", csv: "origin", cell: func(h config.Hunt) any { return h.Origin }},
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// InitCmd writes the starter config.
type InitCmd struct {
	Output string `short:"o" help:"Write to FILE instead of stdout (never overwrites)." type:"path" placeholder:"FILE"`
}

func (c *InitCmd) Help() string {
	return `Examples:
  c2sweep init > c2sweep.yaml
  c2sweep init -o /etc/c2sweep/c2sweep.yaml`
}

func (c *InitCmd) Run(g *Globals) error {
	text := config.StarterConfig()
	if c.Output == "" {
		_, err := fmt.Fprint(g.stdout, text)
		return err
	}
	f, err := os.OpenFile(c.Output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return withHint(err, "choose another file, or remove the old one first")
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "wrote %s\n", c.Output)
	printHint(g.stderr, "c2sweep --config "+c.Output+" hunts  shows the hunts it gives")
	return nil
}

// huntWhat is what a hunt asks its source: the Shodan query, the feed or
// file, or ThreatFox's window and filters.
func huntWhat(h config.Hunt) string {
	switch {
	case h.Query != "":
		return h.Query
	case h.URL != "":
		return h.URL
	case h.Path != "":
		return h.Path
	}
	var parts []string
	if h.Days > 0 {
		parts = append(parts, fmt.Sprintf("days: %d", h.Days))
	}
	if h.MinConfidence > 0 {
		parts = append(parts, fmt.Sprintf("min_confidence: %d", h.MinConfidence))
	}
	if len(h.Malware) > 0 {
		parts = append(parts, "malware: "+strings.Join(h.Malware, ", "))
	}
	return strings.Join(parts, "; ")
}
