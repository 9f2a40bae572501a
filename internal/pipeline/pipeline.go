// Package pipeline is the sweep, start to end, the same for `run`, `demo`
// and `serve`:
//
//	hunts (sources: Shodan, ThreatFox, Feodo, feeds, banner files)
//	  -> indicators (valid, fresh, deduplicated, attributed)
//	  -> KQL plan (incremental windows, chunks) -> hunting API
//	  -> hits (attributed locally) -> state -> files and alerts
//
// One failing hunt or query never stops the others; the Summary says what
// failed and why.
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"c2sweep/internal/clock"
	"c2sweep/internal/config"
	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
	"c2sweep/internal/notify"
	"c2sweep/internal/source"
	"c2sweep/internal/store"
)

// Pipeline holds the services a sweep uses. Store and Notify may be nil
// (no memory, no alerts). Sources are the sources set up for the run's
// hunts by kind (with their keys); a kind not in it is made from the
// registry with no settings. Targets are where the indicators are swept;
// with none, Hunter is the one target (named indicator.DefaultTarget).
// Hunters may be nil for a dry run.
type Pipeline struct {
	Sources  map[string]source.Source
	Targets  []Target
	Hunter   hunting.Hunter
	Store    *store.Store
	Notify   []notify.Target
	Log      *slog.Logger
	Progress Progress
	Clock    clock.Clock // default the real clock; tests give theirs
}

// Options are one run's settings.
type Options struct {
	Hunts        []config.Hunt
	API          string        // the hunting backend of Pipeline.Hunter, for the summary
	Lookback     time.Duration // first sweep of an indicator (default 30d)
	Overlap      time.Duration // re-read before the last sweep's end (default 1h)
	CreditBudget int           // what this run may spend where hunts cost: Shodan query credits (0: what the account has)
	Limits       kql.Limits
	DryRun       bool // everything but the hunting API
	// SilentRuns is health.silent_runs: a hunt silent this many runs in a
	// row warns (0: 7).
	SilentRuns int
	// PlanOnly stops after the budgeted sources' plans (Shodan counts,
	// free): no search page, no hunt, no hunting call (--dry-run).
	PlanOnly     bool
	All          bool   // report every hit in the window, not only new ones
	OutDir       string // "" writes no files
	IndicatorTTL time.Duration
	Command      string // for the runs table
	Fingerprint  string
	// Exclude drops indicators in CDN ranges and the config's exclude:
	// list before they are stored or swept (nil: none).
	Exclude *Exclusions
}

// ErrCannotRun is matched by failures that stop a run before it sweeps
// anything (or stop every query of it).
var ErrCannotRun = errors.New("cannot run")

// cannotRunError matches ErrCannotRun and reads as its cause.
type cannotRunError struct{ err error }

func (e *cannotRunError) Error() string        { return e.err.Error() }
func (e *cannotRunError) Unwrap() error        { return e.err }
func (e *cannotRunError) Is(target error) bool { return target == ErrCannotRun }

func cannotRun(err error) error { return &cannotRunError{err} }

// OutDirError is a results directory that cannot be created or written.
type OutDirError struct {
	Dir string
	Err error
}

func (e *OutDirError) Error() string {
	return "results directory " + e.Dir + ": " + strings.TrimPrefix(e.Err.Error(), "results directory: ")
}
func (e *OutDirError) Unwrap() error { return e.Err }

// alertGrace is how long an interrupted run may take to deliver the hits
// it stored.
const alertGrace = 20 * time.Second

// preflight checks, before any Shodan credit is spent, what the sweep
// will need: the sign-in, the hunting API's TLS, and the results
// directory (created, with a file for each hunt). The state was checked
// by BeginRun.
func (r *run) preflight(ctx context.Context) error {
	if !r.o.DryRun {
		if err := r.signIn(ctx); err != nil {
			return cannotRun(err)
		}
	}
	if r.o.OutDir != "" {
		out, err := newOutputs(r.o.OutDir, r.s, &r.set)
		if err != nil {
			return cannotRun(&OutDirError{Dir: r.o.OutDir, Err: err})
		}
		r.out = out
		r.s.OutDir = r.o.OutDir
	}
	return nil
}

// signIn signs in to every target (and checks its API root) at once. A
// target that fails is left out of the sweep and said; the error is the
// first failure when every target failed.
func (r *run) signIn(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, tr := range r.targets {
		if tr.Hunter == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, ok := tr.Hunter.(hunting.SignInChecker); ok {
				tr.failed = c.SignIn(ctx)
			}
			if c, ok := tr.Hunter.(hunting.Prober); ok && tr.failed == nil {
				tr.failed = c.Probe(ctx)
			}
		}()
	}
	wg.Wait()
	var first error
	live := 0
	for _, tr := range r.targets {
		if tr.failed == nil {
			live++
		} else if first == nil {
			first = tr.failed
		}
	}
	if live == 0 && first != nil {
		return first
	}
	for _, tr := range r.targets {
		if tr.failed != nil {
			// Said now, before any credit is spent; the others go on.
			tr.ts.firstError(tr.failed)
			tr.ts.settle()
			r.fail("%s: %v", r.where(tr, kql.Target{}), tr.failed)
			r.s.QueryErrors = append(r.s.QueryErrors, tr.failed)
		}
	}
	return nil
}

// Run performs one sweep. The error is non-nil only when the run could not
// start or was cancelled; partial failures are in the Summary.
func (p *Pipeline) Run(ctx context.Context, o Options) (*Summary, error) {
	p.Clock = clock.Or(p.Clock)
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Progress == nil {
		p.Progress = quiet{}
	}
	defer p.Progress.Done()
	if o.Lookback <= 0 {
		o.Lookback = 30 * 24 * time.Hour
	}
	if o.Overlap <= 0 {
		o.Overlap = time.Hour
	}
	o.Hunts = slices.Clone(o.Hunts)
	for i := range o.Hunts {
		if o.Hunts[i].Source == "" {
			o.Hunts[i].Source = config.DefaultSource
		}
	}
	now := p.Clock.Now().UTC()
	o.DryRun = o.DryRun || o.PlanOnly
	s := &Summary{Started: now, API: o.API, DryRun: o.DryRun, PlanOnly: o.PlanOnly}
	r := &run{p: p, o: o, s: s, now: now, hunts: map[string]*HuntSummary{}}
	if w := o.Exclude.stale(now); w != nil {
		s.Warnings = append(s.Warnings, w.Error())
	}
	for _, h := range o.Hunts {
		hs := &HuntSummary{Name: h.Name, Source: h.Source, Query: h.Query, Skipped: indicator.Skips{}}
		for _, t := range h.Sweep {
			hs.Targets = append(hs.Targets, t.String())
		}
		s.Hunts = append(s.Hunts, hs)
		r.hunts[h.Name] = hs
	}
	for _, t := range p.sweepTargets(o.API) {
		t.Name = cmp.Or(t.Name, indicator.DefaultTarget)
		tr := &targetRun{Target: t, ts: &TargetSummary{Name: t.Name, Backend: t.Backend}}
		for _, c := range r.columns(tr) {
			tr.ts.Sweep = append(tr.ts.Sweep, c.String())
		}
		r.targets = append(r.targets, tr)
		s.Targets = append(s.Targets, tr.ts)
	}
	if s.API == "" && len(r.targets) > 0 {
		s.API = r.targets[0].Backend
	}
	// Recording the run first is the check that the state is writable,
	// and it records a run that fails its pre-flight too.
	if p.Store != nil && !o.DryRun {
		id, err := p.Store.BeginRun(ctx, store.RunInfo{Started: now, Command: o.Command, ConfigFingerprint: o.Fingerprint})
		if err != nil {
			return s, cannotRun(fmt.Errorf("state: %w", err))
		}
		s.RunID = id
	}
	err := r.preflight(ctx)
	if err == nil {
		err = r.do(ctx)
	}
	if p.Store != nil && !o.DryRun && s.RunID != 0 && len(p.Notify) > 0 {
		// Hits stored by this run or an earlier one go out even when this
		// run failed or was interrupted: the outbox has them.
		actx, cancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			actx, cancel = context.WithTimeout(context.WithoutCancel(ctx), alertGrace)
		}
		t2 := time.Now()
		r.alert(actx)
		cancel()
		s.Timing.OutputSec = time.Since(t2).Seconds()
	}
	s.Finished = p.Clock.Now().UTC()
	s.DurationSec = s.Finished.Sub(s.Started).Seconds()
	s.Outcome = r.outcome(ctx, err)
	switch {
	case s.Outcome == OutcomeAborted:
		s.Error = "interrupted"
	case err != nil:
		s.Error = err.Error()
		p.Log.Info("run failed", "error", s.Error)
	}
	if p.Store != nil && s.RunID != 0 && s.Outcome != OutcomeAborted {
		if herr := r.recordHealth(ctx); herr != nil {
			r.fail("state: hunt health: %v", herr)
		}
		r.alertHealth(ctx)
	}
	if r.out != nil {
		// Results of a failed or interrupted run are written too: the
		// summary says what happened.
		if ferr := r.out.finish(); ferr != nil {
			r.fail("writing results: %v", ferr)
			if err == nil && s.Outcome != OutcomeFailed {
				s.Outcome = OutcomePartial
			}
		}
	}
	if p.Store != nil && s.RunID != 0 {
		// Record the end even when cancelled: the next run must know.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		ferr := p.Store.FinishRun(fctx, s.RunID, r.result())
		cancel()
		if ferr != nil && err == nil {
			err = fmt.Errorf("state: recording the run: %w", ferr)
		}
		if r.out != nil && ferr == nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if rerr := r.out.report(rctx, p.Store, s.RunID, s.Finished); rerr != nil {
				// The run is recorded already: say it, and keep its outcome.
				s.Errors = append(s.Errors, "writing hits.json and report.html: "+rerr.Error())
				p.Log.Info("writing the run's report failed", "error", rerr.Error())
			}
			cancel()
		}
	}
	return s, err
}

// run is the state of one sweep.
type run struct {
	p     *Pipeline
	o     Options
	s     *Summary
	now   time.Time
	set   indicator.Set
	hunts map[string]*HuntSummary
	out   *outputs
	// excluded are the IPs each hunt had excluded: an address is counted
	// once per hunt however many banners name it.
	excluded map[string]map[netip.Addr]bool
	targets  []*targetRun
	// huntsFailed counts hunts whose Shodan stage failed.
	huntsFailed int
	outFailed   bool // a result file could not be written (said once)
	// commits shares store transactions between the targets' commits.
	commits *committer
	// mu guards the summary, the hunts' counts and the result files
	// while the targets are swept concurrently.
	mu sync.Mutex
}

func (r *run) do(ctx context.Context) error {
	t0 := time.Now()
	if err := r.collect(ctx); err != nil {
		return err
	}
	if r.o.PlanOnly {
		return nil
	}
	r.s.Timing.ShodanSec = time.Since(t0).Seconds()
	if r.p.Store != nil && !r.o.DryRun {
		if err := r.p.Store.UpsertIndicators(ctx, r.s.RunID, r.now, r.set.All()); err != nil {
			return fmt.Errorf("state: saving indicators: %w", err)
		}
		if r.o.IndicatorTTL > 0 {
			n, err := r.p.Store.ExpireIndicators(ctx, r.now, r.o.IndicatorTTL)
			if err != nil {
				return fmt.Errorf("state: expiring indicators: %w", err)
			}
			r.s.Totals.Expired = n
		}
	}
	if r.p.Store != nil {
		if err := r.carryOver(ctx); err != nil {
			return fmt.Errorf("state: indicators of earlier runs: %w", err)
		}
	}
	r.s.Totals.Indicators = r.set.Len()
	t1 := time.Now()
	if err := r.sweep(ctx); err != nil {
		return err
	}
	r.s.Timing.HuntingSec = time.Since(t1).Seconds()
	return ctx.Err()
}

// carryOver adds the indicators that earlier runs named and that have not
// expired, but that today's Shodan results no longer show: a server that
// went quiet yesterday is still worth a day of telemetry until its TTL
// runs out. Only sightings of this run's hunts count, so attribution stays
// with hunts that still exist and run.
func (r *run) carryOver(ctx context.Context) error {
	// Stream the sightings instead of listing every indicator: the run's
	// own indicators are in memory already, and rebuilding them doubled
	// the live heap of a large sweep.
	var (
		cur     netip.Addr
		held    bool   // cur was in the set before the carry-over
		carried bool   // cur has been carried
		hunt    string // the last hunt cur was carried for (sightings come by hunt)
	)
	keep := func(hunt string) bool { _, ok := r.hunts[hunt]; return ok }
	return r.p.Store.EachActiveSighting(ctx, r.s.RunID, keep, func(ip netip.Addr, sg indicator.Sighting) error {
		if ip != cur {
			cur, carried, hunt = ip, false, ""
			_, held = r.set.Get(ip)
		}
		if held {
			return nil
		}
		if reason, list := r.o.Exclude.lookup(ip); reason != "" {
			// Named by an earlier run, excluded since (a new exclude:
			// entry, a refreshed snapshot): not swept, and said.
			r.exclude(sg.Hunt, ip, reason, list)
			return nil
		}
		r.set.Add(ip, intern(sg))
		if sg.Hunt != hunt {
			hunt = sg.Hunt
			if hs, ok := r.hunts[sg.Hunt]; ok {
				hs.Carried++
			}
		}
		if !carried {
			carried = true
			r.s.Totals.Carried++
		}
		return nil
	})
}

// intern makes the text fields of sg that repeat across indicators (hunt,
// product, network, country, ...) share one copy: a sweep holds tens of
// thousands of sightings, most naming the same few organisations.
func intern(sg indicator.Sighting) indicator.Sighting {
	for _, f := range []*string{&sg.Hunt, &sg.Source, &sg.Transport, &sg.Product, &sg.Version, &sg.Org, &sg.ISP, &sg.ASN, &sg.Country, &sg.JARM,
		&sg.Labels.Malware, &sg.Labels.MalwareID} {
		if *f != "" {
			*f = unique.Make(*f).Value()
		}
	}
	return sg
}

// fail records an error that makes the run partial.
func (r *run) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failLocked(format, args...)
}

// failLocked is fail for a caller that holds r.mu.
func (r *run) failLocked(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.s.Errors = append(r.s.Errors, msg)
	r.p.Log.Info(msg) // the summary shows it; the log keeps it in order with the rest
}

func (r *run) outcome(ctx context.Context, err error) Outcome {
	switch {
	case ctx.Err() != nil:
		return OutcomeAborted
	case err != nil:
		return OutcomeFailed
	case len(r.s.Errors) > 0:
		t := r.s.Totals
		allQueriesFailed := t.Queries > 0 && t.QueriesFailed == t.Queries && t.Hits == 0
		allHuntsFailed := len(r.s.Hunts) > 0 && r.huntsFailed == len(r.s.Hunts)
		if allQueriesFailed || allHuntsFailed {
			return OutcomeFailed // nothing was swept: not a partial result
		}
		return OutcomePartial
	case r.s.Totals.NewHits > 0:
		return OutcomeHits
	}
	return OutcomeNoHits
}

// huntOutcome is a hunt's line in the runs table.
type huntOutcome struct {
	Name       string `json:"name"`
	Indicators int    `json:"indicators"`
	Hits       int    `json:"hits"`
	NewHits    int    `json:"new_hits"`
	Credits    int    `json:"credits"`
	Error      string `json:"error,omitempty"`
}

func (r *run) result() store.RunResult {
	var hunts []huntOutcome
	for _, h := range r.s.Hunts {
		hunts = append(hunts, huntOutcome{Name: h.Name, Indicators: h.Fresh, Hits: h.Hits, NewHits: h.NewHits, Credits: h.Credits, Error: h.Error})
	}
	outcome := string(r.s.Outcome)
	if r.s.Outcome == OutcomeHits || r.s.Outcome == OutcomeNoHits {
		outcome = "ok"
	}
	var targets []store.TargetOutcome
	for _, t := range r.s.Targets {
		o := t.Outcome
		if o == "" {
			o = store.TargetSkipped // the run ended before it was swept
		}
		targets = append(targets, store.TargetOutcome{Name: t.Name, Backend: t.Backend, Outcome: o, Queries: t.Queries,
			QueriesFailed: t.QueriesFailed, Hits: t.Hits, NewHits: t.NewHits, Error: t.Error})
	}
	return store.RunResult{
		Outcome:     outcome,
		Finished:    r.s.Finished,
		Hunts:       hunts,
		CreditsUsed: r.s.Totals.CreditsUsed,
		Calls:       r.s.Totals.ShodanCalls + r.s.Totals.HuntingCalls,
		Indicators:  r.s.Totals.Indicators,
		Hits:        r.s.Totals.Hits,
		Errors:      slices.Clone(r.s.Errors),
		Error:       r.s.Error,
		Targets:     targets,
	}
}

// RecordRefused records a run that could not even be set up (no Shodan
// key, a secret that cannot be read) as failed, with the reason, so that
// `runs` shows why a scheduled run did nothing. It needs the run lock.
func RecordRefused(ctx context.Context, st *store.Store, command, fingerprint string, cause error) error {
	now := time.Now().UTC()
	id, err := st.BeginRun(ctx, store.RunInfo{Started: now, Command: command, ConfigFingerprint: fingerprint})
	if err != nil {
		return err
	}
	return st.FinishRun(ctx, id, store.RunResult{Outcome: store.OutcomeFailed, Finished: now, Error: cause.Error()})
}

// Collect runs the hunts' sources only, as `c2sweep collect` does: no
// sign-in, no sweep, nothing written to the state (an indicator's windows
// do not move). It returns the fresh, valid, deduplicated indicators with
// every hunt that named them. The error is non-nil only when nothing could
// be collected for a reason no hunt owns (a key refused) or ctx ended;
// hunts that failed alone are in the Summary, whose Outcome is failed
// when no hunt could be read and partial when some could not.
func (p *Pipeline) Collect(ctx context.Context, o Options) (*Summary, []*indicator.Indicator, error) {
	p.Clock = clock.Or(p.Clock)
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Progress == nil {
		p.Progress = quiet{}
	}
	defer p.Progress.Done()
	o.Hunts = slices.Clone(o.Hunts)
	for i := range o.Hunts {
		if o.Hunts[i].Source == "" {
			o.Hunts[i].Source = config.DefaultSource
		}
	}
	now := p.Clock.Now().UTC()
	s := &Summary{Started: now, API: o.API}
	r := &run{p: p, o: o, s: s, now: now, hunts: map[string]*HuntSummary{}}
	if w := o.Exclude.stale(now); w != nil {
		s.Warnings = append(s.Warnings, w.Error())
	}
	for _, h := range o.Hunts {
		hs := &HuntSummary{Name: h.Name, Source: h.Source, Query: h.Query, Skipped: indicator.Skips{}}
		s.Hunts = append(s.Hunts, hs)
		r.hunts[h.Name] = hs
	}
	t0 := time.Now()
	err := r.collect(ctx)
	s.Timing.ShodanSec = time.Since(t0).Seconds()
	s.Totals.Indicators = r.set.Len()
	s.Finished = p.Clock.Now().UTC()
	s.DurationSec = s.Finished.Sub(s.Started).Seconds()
	s.Outcome = r.outcome(ctx, err)
	if err != nil {
		s.Error = err.Error()
	}
	return s, r.set.All(), err
}
