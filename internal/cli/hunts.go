package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"c2sweep/internal/catalog"
	"c2sweep/internal/config"
	"c2sweep/internal/textsafe"
)

// HuntsCmd lists the hunt catalog, or the hunts of the config.
type HuntsCmd struct {
	Family      string `help:"Only hunts of this family (e.g. Sliver)." placeholder:"FAMILY"`
	Kind        string `help:"Only hunts of this kind: c2, rat, stealer, botnet, tooling." placeholder:"KIND"`
	Name        string `help:"Only hunts whose name contains TEXT (any case)." placeholder:"TEXT"`
	ConfigOnly  bool   `help:"List the hunts the config runs (with their settings) instead of the catalog."`
	OutputFlags `embed:""`
	Health      bool `help:"Each hunt's health from the state: its last runs, last results, hits and verdict."`
	Runs        int  `help:"With --health: how many runs to show." default:"14" placeholder:"N"`
}

func (c *HuntsCmd) Help() string {
	return `Lists the built-in catalog: each hunt's family, kind, fidelity, where it
comes from and as of when, and whether the current config selects it.

Examples:
  c2sweep hunts
  c2sweep hunts --family Sliver
  c2sweep hunts --kind stealer --json
  c2sweep hunts --name jarm --format csv
  c2sweep --config c2sweep.yaml hunts --config-only
  c2sweep hunts --health`
}

func (c *HuntsCmd) Run(g *Globals) error {
	if c.Health {
		return c.runHealth(g)
	}
	if _, err := c.OutputFlags.format(); err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if c.ConfigOnly {
		if c.Family != "" || c.Kind != "" || c.Name != "" {
			return withHint(errors.New("--config-only lists the config's hunts, which have no family or kind"),
				"drop --family, --kind and --name, or --config-only")
		}
		return writeList(g, c.OutputFlags, ZoneFlag{}, list[config.Hunt]{cols: huntColumns, items: cfg.Hunts, empty: "no hunts"})
	}
	return c.listCatalog(g, cfg)
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

// catalogHunt is one row of `c2sweep hunts`.
type catalogHunt struct {
	Name       string    `json:"name"`
	Family     string    `json:"family"`
	Kind       string    `json:"kind"`
	Fidelity   string    `json:"fidelity"`
	Query      string    `json:"query"`
	Note       string    `json:"note"`
	Source     string    `json:"source"`
	SourceDate time.Time `json:"source_date,omitzero"`
	Retired    time.Time `json:"retired,omitzero"`
	Selected   bool      `json:"selected"`

	sourceShort string // "c2-tracker 2026-03-16"
}

var catalogColumns = []column[catalogHunt]{
	{head: "NAME", csv: "name", cell: func(h catalogHunt) any { return h.Name }},
	{head: "FAMILY", csv: "family", cell: func(h catalogHunt) any { return h.Family }},
	{head: "KIND", csv: "kind", cell: func(h catalogHunt) any { return h.Kind }},
	{head: "FIDELITY", csv: "fidelity", cell: func(h catalogHunt) any { return h.Fidelity }},
	{head: "SELECTED", csv: "selected", cell: func(h catalogHunt) any { return h.Selected }},
	// A table names the source by its id and date; CSV and JSON say it whole.
	{head: "SOURCE", cell: func(h catalogHunt) any { return h.sourceShort }, only: "table"},
	{csv: "source", cell: func(h catalogHunt) any { return h.Source }, only: "csv"},
	{head: "NOTE", csv: "note", cell: func(h catalogHunt) any { return h.Note }},
	{head: "QUERY", csv: "query", cell: func(h catalogHunt) any { return h.Query }, only: "csv"},
}

func dateOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// listCatalog prints the catalog's hunts that pass the filters, each
// marked with whether cfg runs it (an enabled hunt of that name).
func (c *HuntsCmd) listCatalog(g *Globals, cfg *config.Config) error {
	cat := catalog.Builtin()
	hunts, err := cat.Where(c.Family, strings.ToLower(c.Kind))
	if err != nil {
		return withHint(err, "c2sweep hunts lists every family and kind")
	}
	selected := map[string]bool{}
	var outside []string
	for _, h := range cfg.Hunts {
		if !h.Enabled {
			continue
		}
		selected[strings.ToLower(h.Name)] = true
		if _, ok := cat.Lookup(h.Name); !ok {
			outside = append(outside, textsafe.Terminal(h.Name)) // the config's text, shown on a terminal
		}
	}
	var rows []catalogHunt
	for _, h := range hunts {
		if c.Name != "" && !strings.Contains(strings.ToLower(h.Name), strings.ToLower(c.Name)) {
			continue
		}
		rows = append(rows, catalogHunt{Name: h.Name, Family: h.Family, Kind: string(h.Kind), Fidelity: string(h.Fidelity),
			Query: h.Query, Note: h.Note, Source: h.Provenance(), SourceDate: h.Source.Date, Retired: h.Retired,
			Selected: selected[strings.ToLower(h.Name)], sourceShort: strings.TrimSpace(h.SourceID + " " + dateOnly(h.Source.Date))})
	}
	l := list[catalogHunt]{cols: catalogColumns, items: rows, empty: "no catalog hunt matches"}
	if len(outside) > 0 {
		l.note = fmt.Sprintf("the config also runs %d hunts of its own (%s): c2sweep hunts --config-only lists them",
			len(outside), strings.Join(outside, ", "))
	}
	return writeList(g, c.OutputFlags, ZoneFlag{}, l)
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
