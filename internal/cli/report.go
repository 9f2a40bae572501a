package cli

import (
	"fmt"
	"time"

	"c2sweep/internal/report"
)

// ReportCmd writes the HTML report of a run, or of a time window, from the
// state.
type ReportCmd struct {
	Since  string   `env:"-" help:"Hits with events at or after this age or date, and the runs started since (e.g. 7d, 2026-11-01)." placeholder:"AGE|DATE"`
	RunID  int64    `env:"-" name:"run" help:"The new hits of this run (see 'c2sweep runs'); the default is the latest run." placeholder:"ID"`
	Target []string `env:"-" help:"Only the hits of this sweep target, and with --since the runs that swept it (repeatable)." placeholder:"NAME"`
	Output string   `env:"-" short:"o" help:"Write the report here (default c2sweep-report.html); - for standard output." default:"c2sweep-report.html" placeholder:"FILE"`
}

func (c *ReportCmd) Help() string {
	return `The report is one HTML file a person reads in a minute: the verdict first
(new hits, devices, C2 servers, families, what to do next), then one row per
device and C2 server with users, process and command line, first and last
contact and links to Shodan and the Defender device page, a timeline, the
per-hunt results, what was suppressed and what failed. It needs nothing but
itself: no script, font or image is loaded, so it opens offline and can be
mailed as an attachment.

Examples:
  c2sweep report                          # the new hits of the latest run
  c2sweep report --run 12 -o run12.html
  c2sweep report --since 7d -o week.html  # every hit with an event this week
  c2sweep report --since 30d --target contoso -o contoso.html
  c2sweep report -o - | gzip > report.html.gz`
}

func (c *ReportCmd) Run(g *Globals) error {
	if c.RunID != 0 && c.Since != "" {
		return withHint(fmt.Errorf("--run and --since: choose one"), "--run reports what one run found, --since every hit in a window")
	}
	since, err := whenFlag(c.Since, -1)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	st, err := g.openState(true)
	if err != nil {
		return err
	}
	defer st.Close()
	sc := report.Scope{Since: since, Targets: c.Target}
	if c.Since == "" {
		if c.RunID != 0 {
			n := &names{st: st, g: g}
			if err := n.run("--run", c.RunID); err != nil {
				return err
			}
		} else {
			runs, err := st.Runs(g.ctx, 1)
			if err != nil {
				return err
			}
			if len(runs) == 0 {
				return withHint(fmt.Errorf("no run recorded yet: nothing to report"), "c2sweep run")
			}
			c.RunID = runs[0].ID
		}
		sc.Run = c.RunID
	}
	in, err := report.Load(g.ctx, st, sc, time.Now())
	if err != nil {
		return err
	}
	m := report.Build(in)
	if c.Output == "-" {
		return report.Render(g.stdout, m)
	}
	if err := report.WriteFile(c.Output, m); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "wrote %s: %d device-C2 rows, %d not suppressed, on %d devices\n",
		c.Output, len(m.Rows), m.Verdict.Pairs, len(m.Verdict.Devices))
	return nil
}
