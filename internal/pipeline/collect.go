package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"c2sweep/internal/catalog"
	"c2sweep/internal/config"
	"c2sweep/internal/source"
)

// sourceFor returns the source of a hunt's kind: the one the caller set
// up (with its keys and HTTP client), else a new one from the registry
// with no settings (enough for local files).
func (p *Pipeline) sourceFor(kind string) (source.Source, error) {
	if s, ok := p.Sources[kind]; ok {
		return s, nil
	}
	k, err := source.Lookup(kind)
	if err != nil {
		return nil, err
	}
	s, err := k.New(source.Settings{Log: p.Log})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", kind, err)
	}
	if p.Sources == nil {
		p.Sources = map[string]source.Source{}
	}
	p.Sources[kind] = s
	return s, nil
}

// sourceHunt is what the hunt's source needs to know of it.
func sourceHunt(h config.Hunt, since time.Time) source.Hunt {
	return source.Hunt{
		Name: h.Name, Since: since, MaxAge: time.Duration(h.MaxAge), Pages: h.Pages, Query: h.Query,
		Days: h.Days, MinConfidence: h.MinConfidence, Malware: h.Malware,
		URL: h.URL, Path: h.Path, Format: h.Format, Column: h.Column, LabelColumn: h.Label,
		Fidelity: fidelity(h.Name),
	}
}

// fidelity ranks a hunt of the catalog for the credit plan (0: not in it).
func fidelity(name string) int {
	if ch, ok := catalog.Builtin().Lookup(name); ok {
		return ch.Fidelity.Rank()
	}
	return 0
}

// since is the freshness cut of a hunt (zero: none).
func (r *run) since(h config.Hunt) time.Time {
	if h.MaxAge <= 0 {
		return time.Time{}
	}
	return r.now.Add(-time.Duration(h.MaxAge))
}

// collect runs every hunt against its source and fills r.set with the
// fresh indicators. Hunts run one after another: a Shodan key's hunts
// share its 1 request/second, and a run's hunts are few.
func (r *run) collect(ctx context.Context) error {
	kinds := []string{} // in the order hunts name them
	srcs := map[string]source.Source{}
	for _, h := range r.o.Hunts {
		if _, ok := srcs[h.Source]; ok {
			continue
		}
		s, err := r.p.sourceFor(h.Source)
		if err != nil {
			return cannotRun(err)
		}
		srcs[h.Source] = s
		kinds = append(kinds, h.Source)
	}
	t := &r.s.Totals
	defer func() {
		for _, h := range r.s.Hunts {
			t.CreditsUsed += h.Credits
		}
		if t.CreditsKnown {
			t.CreditsLeft -= t.CreditsUsed
		}
		if sh, ok := t.Sources[shodanKind]; ok {
			t.ShodanCalls, t.ShodanThrottled, t.ShodanRetries = sh.Requests, sh.Throttled, sh.Retries
		}
	}()
	// Budgeted kinds (Shodan's credits) check the account before any hunt
	// runs; the other kinds' hunts run even when this check fails.
	failedKind := map[string]error{}
	for _, kind := range kinds {
		b, ok := srcs[kind].(source.Budgeted)
		if !ok {
			continue
		}
		var hunts []source.Hunt
		for _, h := range r.o.Hunts {
			if h.Source == kind {
				hunts = append(hunts, sourceHunt(h, r.since(h)))
			}
		}
		bal, err := b.Reserve(ctx, hunts, r.o.CreditBudget)
		st := r.sourceTotals(kind)
		st.Requests += bal.Requests
		st.Retries += bal.Retries
		st.Throttled += bal.Throttled
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failedKind[kind] = err
			continue
		}
		if kind == shodanKind {
			t.CreditsLeft, t.CreditsKnown = bal.Left, true
			r.s.Plan = bal.Plan
		}
	}
	if r.o.PlanOnly {
		return nil
	}
	for i, h := range r.o.Hunts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		hs := r.hunts[h.Name]
		err := failedKind[h.Source]
		if err == nil {
			err = r.hunt(ctx, srcs[h.Source], h, hs, i, len(r.o.Hunts))
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		hs.Error = err.Error()
		r.huntsFailed++
		r.fail("hunt %s: %v", h.Name, err)
		if _, done := failedKind[h.Source]; !done && errors.Is(err, source.ErrCredentials) {
			// The key is refused: the kind's other hunts would fail the same way.
			failedKind[h.Source] = err
		}
	}
	if r.huntsFailed == len(r.o.Hunts) {
		// Nothing could be read, for a reason that is no hunt's own (a key
		// refused, credits short): the run could not run.
		for _, kind := range kinds {
			if err := failedKind[kind]; err != nil {
				return cannotRun(err)
			}
		}
	}
	return nil
}

// shodanKind is the kind whose counters the summary also shows under its
// historical names (shodan_calls, shodan_credits_left).
const shodanKind = config.DefaultSource

func (r *run) sourceTotals(kind string) *SourceTotals {
	if r.s.Totals.Sources == nil {
		r.s.Totals.Sources = map[string]*SourceTotals{}
	}
	st, ok := r.s.Totals.Sources[kind]
	if !ok {
		st = &SourceTotals{}
		r.s.Totals.Sources[kind] = st
	}
	return st
}

// hunt collects one hunt's sightings, keeping fresh, valid servers.
func (r *run) hunt(ctx context.Context, src source.Source, h config.Hunt, hs *HuntSummary, idx, n int) error {
	since := r.since(h)
	before := r.set.Len()
	r.p.Progress.Update(fmt.Sprintf("%s  hunt %d/%d %s ...", h.Source, idx+1, n, h.Name))
	st, err := src.Collect(ctx, sourceHunt(h, since), func(sg source.Sighting) error {
		if !routable(sg.IP) {
			// A source's bug must not reach KQL: count it like a bad item.
			hs.Skipped.Add(source.SkipInvalidIP)
			return nil
		}
		if !since.IsZero() && sg.LastSeen.Before(since) {
			hs.Stale++
			return nil
		}
		if reason, list := r.o.Exclude.lookup(sg.IP); reason != "" {
			r.exclude(h.Name, sg.IP, reason, list)
			return nil
		}
		isg := sg.Indicator()
		isg.Hunt, isg.LastSeen = h.Name, isg.LastSeen.UTC()
		if isg.Source == "" {
			isg.Source = h.Source
		}
		r.set.Add(sg.IP, intern(isg))
		if got := r.set.Len(); got%1000 == 0 && got > before {
			r.p.Progress.Update(fmt.Sprintf("%s  hunt %d/%d %s: %d indicators", h.Source, idx+1, n, h.Name, got))
		}
		return nil
	})
	hs.Requests, hs.Read, hs.Kept = st.Requests, st.Read, st.Kept
	hs.Skipped.Merge(st.Skipped)
	hs.Pages, hs.Total, hs.Truncated, hs.Credits = st.Pages, st.Total, st.Truncated, st.Cost
	hs.Banners = st.Read
	if st.Query != "" {
		hs.SentQuery = st.Query
	}
	hs.Fresh = len(r.set.IPs(h.Name))
	t := &r.s.Totals
	t.Banners += st.Read
	t.Skipped += hs.Skipped.Total()
	t.Stale += hs.Stale
	tot := r.sourceTotals(h.Source)
	tot.Hunts++
	tot.Stats.Add(st)
	tot.Stale += hs.Stale
	tot.Fresh += hs.Fresh
	if err != nil {
		tot.Failed++
	}
	r.p.Log.Info("hunt done", "hunt", h.Name, "source", h.Source, "requests", st.Requests, "read", st.Read,
		"fresh", hs.Fresh, "new_ips", r.set.Len()-before, "skipped", hs.Skipped.Total(), "stale", hs.Stale)
	return err
}

// routable is indicator.ParseIP's rule for an address a source already
// parsed: valid, unmapped, no zone, and able to be a server on the internet.
func routable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.Is4In6() && ip.Zone() == "" && !ip.IsUnspecified() &&
		!ip.IsLoopback() && !ip.IsMulticast() && !ip.IsLinkLocalUnicast()
}
