package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/output"
	"c2sweep/internal/pipeline"
)

// RunCmd is one sweep.
type RunCmd struct {
	SweepFlags
	Out    string `help:"Results directory: each run writes DIR/<run time>/ (default ./c2sweep-results), as 'serve --out' does." type:"path" placeholder:"DIR"`
	JSON   bool   `help:"Print the summary as JSON instead of text."`
	DryRun bool   `help:"Count the Shodan hunts (free) and print the credit plan; fetch no page, spend no credit, query nothing in Defender."`
}

func (c *RunCmd) Help() string {
	return `Runs every enabled hunt against its source (Shodan by default; ThreatFox,
Feodo Tracker, feeds, Shodan banner files), keeps the servers seen within
--max-age, sweeps their IPs in Defender advanced hunting and reports every
device that talked to one. Only hits not reported before are shown (--all
for everything in the window). Results: summary.json and <hunt>.json.

Credentials come from the environment (SHODAN_API_KEY or the Shodan CLI's
key file, needed only by Shodan hunts; ABUSECH_AUTH_KEY for ThreatFox;
AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or
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
	// A run that failed before it swept anything has no results to show:
	// the error and its hint say it all.
	swept := sum != nil && (err == nil || sum.Totals.HuntingCalls > 0 || sum.Totals.NewHits > 0 || sum.DryRun)
	if o.json && sum != nil && (err == nil || sum.RunID != 0) {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sum)
	} else if swept {
		text := *sum
		if err != nil {
			text.Errors = nil // the fatal error is printed once, below
		}
		text.WriteText(g.stdout, !f.All)
	}
	if swept && command != "demo" { // the demo prints its own next steps
		printHints(g, sum)
	}
	if err != nil {
		return err
	}
	return outcomeError{sum.Outcome}
}

// printHints says what to do next, on stderr so stdout stays parseable.
func printHints(g *Globals, s *pipeline.Summary) {
	if s.DryRun {
		printHint(g.stderr, "nothing was fetched or sent to Defender and no Shodan credit was spent; run without --dry-run to sweep")
		return
	}
	if s.Totals.NewHits > 0 {
		if s.Outcome != pipeline.OutcomeHits {
			printHint(g.stderr, fmt.Sprintf("%d new hits were recorded despite the failure: c2sweep hits --run %d", s.Totals.NewHits, s.RunID))
		} else {
			printHint(g.stderr, "'c2sweep hits --new' lists them again; 'c2sweep suppress' marks a benign one")
		}
	}
	// True only of what failed after the sweep began: a failed query's
	// window did not move, a failed hunt names its servers again.
	huntFailed := false
	for _, h := range s.Hunts {
		huntFailed = huntFailed || h.Error != ""
	}
	if s.Totals.QueriesAtRowCap > 0 {
		printHint(g.stderr, "a busy address (CDN, cloud front) fills the row cap: suppress it or use a shorter --lookback")
	}
	// Each failed query's hint, once per kind of failure.
	said := map[string]bool{}
	for _, err := range s.QueryErrors {
		if _, h := explain(err); h != "" && !said[h] {
			said[h] = true
			printHint(g.stderr, h)
		}
	}
	if s.Totals.QueriesFailed > 0 || huntFailed {
		printHint(g.stderr, "the failed parts are retried by the next run: their windows did not move")
	}
}
