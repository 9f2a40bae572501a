package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/hunting"
	"c2sweep/internal/output"
	"c2sweep/internal/pipeline"
)

// RunCmd is one sweep.
type RunCmd struct {
	SweepFlags
	Out    string `help:"Results directory: each run writes DIR/<run time>/ (default ./c2sweep-results), as 'serve --out' does." type:"path" placeholder:"DIR"`
	JSON   bool   `help:"Print the summary as JSON instead of text."`
	DryRun bool   `help:"Do everything except calling the hunting API; print each KQL query."`
}

func (c *RunCmd) Help() string {
	return `Runs every enabled hunt against Shodan, keeps the servers seen within
--max-age, sweeps their IPs in Defender advanced hunting and reports every
device that talked to one. Only hits not reported before are shown (--all
for everything in the window). Results: summary.json and <hunt>.json.

Credentials come from the environment (SHODAN_API_KEY or the Shodan CLI's
key file; AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or
AZURE_CLIENT_CERTIFICATE_PATH; managed identity; Azure CLI) or the config.

Examples:
  c2sweep run
  c2sweep run --dry-run --hunt CobaltStrikeJARM
  c2sweep run --api mde --max-age 3d --lookback 7d --json
  c2sweep --config c2sweep.yaml run --out /var/lib/c2sweep/results

Exit codes: 0 no new hits, 1 new hits, 2 partial failure, 3 could not run,
130 interrupted.`
}

func (c *RunCmd) Run(g *Globals) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	return g.sweep(cfg, &c.SweepFlags, nil, runOutput{dir: c.Out, json: c.JSON, dryRun: c.DryRun}, "run")
}

type runOutput struct {
	dir    string
	json   bool
	dryRun bool
}

// sweep runs one sweep with cfg and prints its summary; the returned error
// carries the outcome to the exit code.
func (g *Globals) sweep(cfg *config.Config, f *SweepFlags, httpClient *http.Client, o runOutput, command string) error {
	hunts, err := f.apply(cfg)
	if err != nil {
		return err
	}
	sw, err := g.newSweeper(g.ctx, cfg, f, hunts, httpClient, o.dryRun, command)
	if err != nil {
		return err
	}
	defer sw.close()
	now := time.Now().UTC()
	sw.opts.OutDir = output.RunDirIn(o.dir, now)
	sum, err := sw.pipe.Run(g.ctx, sw.opts)
	if sum != nil && (err == nil || sum.RunID != 0) {
		if o.json {
			enc := json.NewEncoder(g.stdout)
			enc.SetIndent("", "  ")
			enc.Encode(sum)
		} else {
			text := *sum
			if err != nil {
				text.Errors = nil // the fatal error is printed once, below
			}
			text.WriteText(g.stdout, !f.All)
		}
		if command != "demo" { // the demo prints its own next steps
			printHints(g, sum)
		}
	}
	if errors.Is(err, hunting.ErrAuth) {
		return withHint(err, "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or certificate; the app needs "+
			"ThreatHunting.Read.All (--api graph) or AdvancedQuery.Read.All (--api mde), with admin consent")
	}
	if err != nil {
		return err
	}
	return outcomeError{sum.Outcome}
}

// printHints says what to do next, on stderr so stdout stays parseable.
func printHints(g *Globals, s *pipeline.Summary) {
	if s.DryRun {
		fmt.Fprintln(g.stderr, "hint: nothing was sent to Defender (Shodan credits were spent); run without --dry-run to sweep")
		return
	}
	if s.Totals.NewHits > 0 {
		if s.Outcome != pipeline.OutcomeHits {
			fmt.Fprintf(g.stderr, "hint: %d new hits were recorded despite the failure: c2sweep hits --run %d\n", s.Totals.NewHits, s.RunID)
		} else {
			fmt.Fprintln(g.stderr, "hint: 'c2sweep hits --new' lists them again; 'c2sweep suppress' marks a benign one")
		}
	}
	if s.Outcome == pipeline.OutcomePartial || s.Outcome == pipeline.OutcomeFailed {
		fmt.Fprintln(g.stderr, "hint: the failed parts are retried by the next run: their windows did not move")
	}
}
