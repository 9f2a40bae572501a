package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"c2sweep/internal/config"
)

// HuntsCmd lists the effective hunts.
type HuntsCmd struct {
	JSON bool `help:"Print as JSON."`
}

func (c *HuntsCmd) Help() string {
	return `Examples:
  c2sweep hunts
  c2sweep --config c2sweep.yaml hunts --json`
}

func (c *HuntsCmd) Run(g *Globals) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cfg.Hunts)
	}
	tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENABLED\tMAX AGE\tPAGES\tSWEEP\tQUERY\tFROM")
	for _, h := range cfg.Hunts {
		pages := "all"
		if h.Pages > 0 {
			pages = fmt.Sprint(h.Pages)
		}
		var ts []string
		for _, t := range h.Sweep {
			ts = append(ts, t.String())
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\t%s\n", h.Name, yesNo(h.Enabled), h.MaxAge, pages, strings.Join(ts, ","), h.Query, h.Origin)
	}
	return tw.Flush()
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
