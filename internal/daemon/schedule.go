// Package daemon runs sweeps on a schedule in one long-lived process (the
// `serve` command): never two at once, surviving failed sweeps, stopping
// gracefully, with /healthz and Prometheus /metrics on loopback.
package daemon

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when sweeps run: a cron expression or a fixed interval.
// The zero value is not usable; make one with ParseSchedule or Every.
type Schedule struct {
	spec  string
	cron  cron.Schedule
	every time.Duration
}

// ParseSchedule reads a standard 5-field cron expression ("0 6 * * *"), a
// descriptor (@daily, @hourly, @weekly, @monthly, @yearly, @every 6h), or
// either prefixed with CRON_TZ=Zone to pick the time zone (default: the
// zone of the times given to Next, i.e. local).
func ParseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Schedule{}, errors.New("schedule: empty cron expression")
	}
	c, err := cron.ParseStandard(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", spec, err)
	}
	// A valid expression may still never fire (30 February).
	if c.Next(time.Now()).IsZero() {
		return Schedule{}, fmt.Errorf("schedule %q never fires", spec)
	}
	return Schedule{spec: spec, cron: c}, nil
}

// Every runs a sweep every d, counted from the previous start.
func Every(d time.Duration) (Schedule, error) {
	if d < time.Second {
		return Schedule{}, fmt.Errorf("schedule: interval %s is shorter than a second", d)
	}
	return Schedule{spec: "every " + d.String(), every: d}, nil
}

// Next is the first run strictly after t; the zero time if none.
func (s Schedule) Next(t time.Time) time.Time {
	switch {
	case s.every > 0:
		return t.Add(s.every)
	case s.cron != nil:
		return s.cron.Next(t)
	}
	return time.Time{}
}

// Interval is the gap between the run after t and the one after that: the
// period health checks measure staleness in.
func (s Schedule) Interval(t time.Time) time.Duration {
	if s.every > 0 {
		return s.every
	}
	n1 := s.Next(t)
	n2 := s.Next(n1)
	if n1.IsZero() || n2.IsZero() {
		return 0
	}
	return n2.Sub(n1)
}

// IsZero reports whether s was never set.
func (s Schedule) IsZero() bool { return s.every == 0 && s.cron == nil }

func (s Schedule) String() string { return s.spec }
