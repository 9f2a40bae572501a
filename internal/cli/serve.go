package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"c2sweep/internal/daemon"
	"c2sweep/internal/output"
	"c2sweep/internal/pipeline"
)

// ServeCmd runs sweeps on a schedule in one long-lived process.
type ServeCmd struct {
	SweepFlags
	Schedule    string        `help:"Cron schedule, 5 fields or @daily (default: config serve.schedule)." placeholder:"CRON"`
	Every       time.Duration `help:"Run every interval instead of a cron schedule, e.g. 24h."`
	Listen      string        `help:"Address of /healthz and /metrics (default 127.0.0.1:9464)." env:"C2SWEEP_SERVE_LISTEN" placeholder:"ADDR"`
	AllowRemote bool          `help:"Allow a non-loopback --listen (the endpoints have no authentication)."`
	Now         bool          `help:"Also sweep once at start."`
	Out         string        `env:"C2SWEEP_SERVE_OUT" help:"Results directory: each sweep writes DIR/<run time>/ (default ./c2sweep-results), as 'run --out' does." type:"path" placeholder:"DIR"`
}

func (c *ServeCmd) Help() string {
	return `Sweeps never overlap; a failed sweep is logged and retried at the next
time; SIGTERM lets the running sweep finish (30 s) then abandons it cleanly:
its windows do not move, so the next sweep covers them.

Each sweep logs one line at the default level (info) with its outcome and
new hits; a warning at start says when no alert target is configured.
/healthz answers 200 before the first sweep and after a successful one, 503
(with the reason in its JSON) after a failed one or when sweeps stop
succeeding. Each sweep writes its results to --out/<run time>/.

Examples:
  c2sweep serve --schedule "0 6 * * *"
  c2sweep serve --every 24h --now --listen 127.0.0.1:9464
  curl -s 127.0.0.1:9464/healthz; curl -s 127.0.0.1:9464/metrics`
}

func (c *ServeCmd) Run(g *Globals) error {
	if g.LogLevel == "" {
		// A service's log is its only report: each sweep's outcome is
		// logged at info, so that is serve's default.
		g.log = newLogger(g.stderr, "info", g.LogFormat)
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if c.Every < 0 {
		return fmt.Errorf("--every %s: an interval must be more than 0", c.Every)
	}
	spec := c.Schedule
	if spec == "" && c.Every == 0 {
		spec = cfg.Serve.Schedule
		if spec == "" && cfg.Serve.Every > 0 {
			c.Every = cfg.Serve.Every.Std()
		}
	}
	var sched daemon.Schedule
	switch {
	case spec != "" && c.Every > 0:
		return errors.New("--schedule and --every: choose one")
	case c.Every > 0:
		sched, err = daemon.Every(c.Every)
	case spec != "":
		sched, err = daemon.ParseSchedule(spec)
	default:
		return withHint(errors.New("no schedule"), `give --schedule "0 6 * * *" or --every 24h, or serve.schedule in the config`)
	}
	if err != nil {
		return err
	}
	listen := c.Listen
	if listen == "" {
		listen = cfg.Serve.Listen
	}
	if _, err := c.SweepFlags.apply(cfg); err != nil {
		return err // a bad flag fails now, not at 6 a.m.
	}
	if len(cfg.Notify) == 0 {
		g.log.Warn("serve: no notify target is configured; new hits are only logged and stored (add a webhook, teams or slack target under notify: in the config)")
	}
	metrics := daemon.NewMetrics()
	sweep := func(ctx context.Context) (daemon.Report, error) {
		var rep daemon.Report
		cfg, err := g.loadConfig()
		if err != nil {
			return rep, err
		}
		hunts, err := c.SweepFlags.apply(cfg)
		if err != nil {
			return rep, err
		}
		sw, err := g.newSweeper(ctx, cfg, &c.SweepFlags, hunts, nil, false, "serve")
		if err != nil {
			return rep, err
		}
		defer sw.close()
		sw.pipe.Progress = nil // no terminal redraws in a service
		sw.opts.OutDir = output.RunDirIn(c.Out, time.Now())
		sum, err := sw.pipe.Run(ctx, sw.opts)
		if err == nil && sum != nil {
			var handed strings.Builder
			g.afterSweep(ctx, cfg, sw.store, nil, sum, handOff{stixFile: cfg.Stix.File, org: cfg.Stix.Org}, &handed)
			if handed.Len() > 0 {
				g.log.Info("serve: handed on", "report", strings.TrimSpace(handed.String()))
			}
		}
		if sum != nil {
			observe(metrics, sum)
			rep = daemon.Report{Outcome: string(sum.Outcome), NewHits: sum.Totals.NewHits, Results: sum.OutDir}
		}
		if err != nil {
			return rep, err
		}
		if sum.Outcome == pipeline.OutcomePartial || sum.Outcome == pipeline.OutcomeFailed {
			return rep, fmt.Errorf("sweep %s: %d errors, first: %s", sum.Outcome, len(sum.Errors), first(sum.Errors))
		}
		return rep, nil
	}
	fmt.Fprintf(g.stderr, "c2sweep serve: schedule %s, health and metrics on http://%s\n", sched, orDefault(listen, daemon.DefaultListen))
	return daemon.Serve(g.ctx, daemon.Options{
		Schedule: sched, Listen: listen, AllowRemote: c.AllowRemote, Logger: g.log, RunAtStart: c.Now,
	}, sweep, metrics)
}

// observe moves a sweep's numbers into the metrics.
func observe(m *daemon.Metrics, s *pipeline.Summary) {
	t := s.Totals
	for kind, st := range t.Sources {
		m.SourceHunts(kind, st.Requests, st.Throttled, st.Kept-st.Stale, st.Stale, st.Cost, st.Failed, st.Skipped)
	}
	m.Add(daemon.MetricAPICalls, float64(t.HuntingCalls), s.API)
	m.Add(daemon.MetricThrottled, float64(t.Throttled), s.API)
	m.Hits(t.Hits, t.NewHits)
	m.Add(daemon.MetricExcluded, float64(t.Excluded.CDN), pipeline.ExcludedCDN)
	m.Add(daemon.MetricExcluded, float64(t.Excluded.Config), pipeline.ExcludedConfig)
	for _, c := range s.Health {
		m.Inc(daemon.MetricHuntHealth, c.Hunt, c.Verdict)
	}
	m.Indicators(t.Indicators)
	if t.CreditsKnown {
		m.ShodanCredits(t.CreditsLeft)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
