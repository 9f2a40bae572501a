package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"c2sweep/internal/daemon"
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
	OutRoot     string        `name:"out" env:"C2SWEEP_SERVE_OUT" help:"Directory under which each sweep writes its results (default ./c2sweep-results)." type:"path" placeholder:"DIR"`
}

func (c *ServeCmd) Help() string {
	return `Sweeps never overlap; a failed sweep is logged and retried at the next
time; SIGTERM lets the running sweep finish (30 s) then abandons it cleanly:
its windows do not move, so the next sweep covers them.

Examples:
  c2sweep serve --schedule "0 6 * * *"
  c2sweep serve --every 24h --now --listen 127.0.0.1:9464
  curl -s 127.0.0.1:9464/healthz; curl -s 127.0.0.1:9464/metrics`
}

func (c *ServeCmd) Run(g *Globals) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
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
	metrics := daemon.NewMetrics()
	sweep := func(ctx context.Context) error {
		cfg, err := g.loadConfig()
		if err != nil {
			return err
		}
		hunts, err := c.SweepFlags.apply(cfg)
		if err != nil {
			return err
		}
		sw, err := g.newSweeper(ctx, cfg, &c.SweepFlags, hunts, nil, false, "serve")
		if err != nil {
			return err
		}
		defer sw.close()
		sw.pipe.Progress = nil // no terminal redraws in a service
		root := c.OutRoot
		if root == "" {
			root = "c2sweep-results"
		}
		sw.opts.OutDir = filepath.Join(root, time.Now().UTC().Format("20060102T150405Z"))
		sum, err := sw.pipe.Run(ctx, sw.opts)
		if sum != nil {
			observe(metrics, sum)
			g.log.Info("sweep finished", "outcome", sum.Outcome, "indicators", sum.Totals.Indicators,
				"hits", sum.Totals.Hits, "new_hits", sum.Totals.NewHits, "results", sum.OutDir)
		}
		if err != nil {
			return err
		}
		if sum.Outcome == pipeline.OutcomePartial || sum.Outcome == pipeline.OutcomeFailed {
			return fmt.Errorf("sweep %s: %d errors, first: %s", sum.Outcome, len(sum.Errors), first(sum.Errors))
		}
		return nil
	}
	fmt.Fprintf(g.stderr, "c2sweep serve: schedule %s, health and metrics on http://%s\n", sched, orDefault(listen, daemon.DefaultListen))
	return daemon.Serve(g.ctx, daemon.Options{
		Schedule: sched, Listen: listen, AllowRemote: c.AllowRemote, Logger: g.log, RunAtStart: c.Now,
	}, sweep, metrics)
}

// observe moves a sweep's numbers into the metrics.
func observe(m *daemon.Metrics, s *pipeline.Summary) {
	t := s.Totals
	m.Add(daemon.MetricAPICalls, float64(t.ShodanCalls), "shodan")
	m.Add(daemon.MetricAPICalls, float64(t.HuntingCalls), s.API)
	m.Add(daemon.MetricThrottled, float64(t.Throttled), s.API)
	m.Add(daemon.MetricThrottled, float64(t.ShodanThrottled), "shodan")
	m.Hits(t.Hits, t.NewHits)
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
