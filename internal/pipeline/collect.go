package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/shodan"
)

// collect runs every hunt against Shodan and fills r.set with the fresh
// indicators. Hunts run one after another: they share the key's
// 1 request/second, so running them at once would gain nothing.
func (r *run) collect(ctx context.Context) error {
	before := r.p.Shodan.Stats()
	defer func() {
		// Count HTTP requests, retries included: that is what the limits see.
		after := r.p.Shodan.Stats()
		r.s.Totals.ShodanCalls = after.Requests - before.Requests
		r.s.Totals.ShodanThrottled = after.RateLimited - before.RateLimited
		r.s.Totals.ShodanRetries = after.Retries - before.Retries
		for _, h := range r.s.Hunts {
			r.s.Totals.CreditsUsed += h.Credits
		}
		if r.s.Totals.CreditsKnown {
			r.s.Totals.CreditsLeft -= r.s.Totals.CreditsUsed
		}
	}()
	info, err := r.p.Shodan.APIInfo(ctx)
	if err != nil {
		return cannotRun(err)
	}
	r.s.Totals.CreditsLeft, r.s.Totals.CreditsKnown = info.QueryCredits, true
	budget := info.QueryCredits
	if r.o.CreditBudget > 0 && r.o.CreditBudget < budget {
		budget = r.o.CreditBudget
	}
	// Every hunt with a filter costs at least one credit: say so before
	// spending any rather than running half of them.
	need := 0
	for _, h := range r.o.Hunts {
		if shodan.HasFilter(h.Query) {
			need++
		}
	}
	if need > budget {
		return cannotRun(&CreditsError{Hunts: len(r.o.Hunts), Need: need, Budget: budget, Account: info.QueryCredits})
	}
	spent := 0
	for i, h := range r.o.Hunts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		hs := r.hunts[h.Name]
		err := r.hunt(ctx, h, hs, budget-spent, i, len(r.o.Hunts))
		spent += hs.Credits
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			hs.Error = err.Error()
			r.huntsFailed++
			r.fail("hunt %s: %v", h.Name, err)
			if errors.Is(err, shodan.ErrUnauthorized) {
				// The key is refused: the other hunts would fail the same way.
				return cannotRun(err)
			}
		}
	}
	return nil
}

// hunt pages through one hunt's results, keeping fresh, valid servers.
func (r *run) hunt(ctx context.Context, h config.Hunt, hs *HuntSummary, credits, idx, n int) error {
	filtered := shodan.HasFilter(h.Query)
	maxAge := time.Duration(h.MaxAge)
	since := r.now.Add(-maxAge)
	q := h.Query
	if filtered && maxAge > 0 {
		// The query already costs a credit a page: asking Shodan to drop
		// stale banners costs nothing more and saves pages. after: has
		// day granularity, so ask from the day before; the exact cut is
		// made here.
		q = shodan.WithAfter(q, since.Add(-24*time.Hour))
	}
	hs.SentQuery = q
	// Page 1 of an unfiltered query is free; every other page costs one.
	maxPages := credits
	if !filtered {
		maxPages++
	}
	if h.Pages > 0 && h.Pages < maxPages {
		maxPages = h.Pages
	}
	if maxPages <= 0 {
		hs.Truncated = true
		return errors.New("no Shodan credits left in this run's budget")
	}
	before := r.set.Len()
	r.p.Progress.Update(fmt.Sprintf("shodan  hunt %d/%d %s: page 1 ...", idx+1, n, h.Name))
	err := r.p.Shodan.SearchAll(ctx, q, maxPages, func(page int, p *shodan.Page) error {
		hs.Pages = page
		hs.Total = p.Total
		if filtered || page > 1 {
			hs.Credits++
		}
		pages := (p.Total + 99) / 100
		r.p.Progress.Update(fmt.Sprintf("shodan  hunt %d/%d %s: page %d/%d, %d indicators", idx+1, n, h.Name, page, max(pages, page), r.set.Len()))
		for i := range p.Matches {
			b := &p.Matches[i]
			hs.Banners++
			r.s.Totals.Banners++
			ip, sg, err := b.Sighting(h.Name)
			if err != nil {
				hs.Skipped.Add(shodan.SkipReason(err))
				r.s.Totals.Skipped++
				continue
			}
			if maxAge > 0 && sg.LastSeen.Before(since) {
				hs.Stale++
				r.s.Totals.Stale++
				continue
			}
			r.set.Add(ip, intern(sg))
		}
		return nil
	})
	if hs.Total > hs.Pages*100 && err == nil {
		hs.Truncated = true
	}
	hs.Fresh = len(r.set.IPs(h.Name))
	r.p.Log.Info("hunt done", "hunt", h.Name, "pages", hs.Pages, "banners", hs.Banners,
		"fresh", hs.Fresh, "new_ips", r.set.Len()-before, "skipped", hs.Skipped.Total(), "stale", hs.Stale)
	return err
}

// CreditsError is a run whose hunts need more Shodan query credits than it
// may spend.
type CreditsError struct{ Hunts, Need, Budget, Account int }

func (e *CreditsError) Error() string {
	return fmt.Sprintf("shodan: the %d hunts need at least %d query credits, the run may spend %d (account has %d)",
		e.Hunts, e.Need, e.Budget, e.Account)
}
