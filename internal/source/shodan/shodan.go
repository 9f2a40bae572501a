// Package shodan is the Shodan search as a source: each hunt is a search
// query, paged through the Shodan client (internal/shodan), which paces,
// retries and redacts. Query credits are the source's cost: Reserve checks
// the account (/api-info) once per run, and each hunt pages only as far as
// the run's budget allows.
package shodan

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"c2sweep/internal/plan"
	shodanapi "c2sweep/internal/shodan"
	"c2sweep/internal/source"
)

// Name is the registry name of the kind, and the default of a hunt's
// source:.
const Name = "shodan"

// hostURL links a sighting back to the address on Shodan.
const hostURL = "https://www.shodan.io/host/"

func init() {
	source.Register(source.Kind{
		Name:   Name,
		Doc:    "a Shodan search (query:), paged; filtered queries cost query credits",
		Fields: []string{"query", "pages"},
		New: func(s source.Settings) (source.Source, error) {
			c, err := shodanapi.New(shodanapi.Options{BaseURL: s.URL, Key: s.AuthKey, HTTPClient: s.HTTPClient, Logger: s.Log, Clock: s.Clock})
			if err != nil {
				return nil, err
			}
			return New(c), nil
		},
	})
}

// Source runs hunts as Shodan searches through one client, so every hunt
// of a run shares the key's pace and the run's credit budget.
type Source struct {
	c *shodanapi.Client

	mu       sync.Mutex
	reserved bool
	left     int            // credits this run may still spend, once reserved
	pages    map[string]int // the plan's pages per hunt, once reserved
	needed   map[string]int // the pages each hunt's results fill
}

// New returns the source over c.
func New(c *shodanapi.Client) *Source { return &Source{c: c} }

// Name implements source.Source.
func (*Source) Name() string { return Name }

// CreditsError is a run whose hunts need more Shodan query credits than it
// may spend. Reserve plans within the credits instead of failing, so this
// is no longer returned; the CLI's hint still reads it.
type CreditsError struct{ Hunts, Need, Budget, Account int }

func (e *CreditsError) Error() string {
	return fmt.Sprintf("shodan: the %d hunts need at least %d query credits, the run may spend %d (account has %d)",
		e.Hunts, e.Need, e.Budget, e.Account)
}

// ErrNoCredits is a hunt that could not run because the run's budget was
// spent by the hunts before it.
var ErrNoCredits = errors.New("no Shodan credits left in this run's budget")

// Reserve implements source.Budgeted: it asks /api-info for the credits
// left, counts every hunt with Shodan's free count (paced like every
// request of the client), and plans the pages within the credits and the
// budget (plan.Make). Collect then fetches only the planned pages, so a
// run spends at most the plan. It costs no credit.
func (s *Source) Reserve(ctx context.Context, hunts []source.Hunt, limit int) (bal source.Balance, _ error) {
	before := s.c.Stats()
	defer func() {
		after := s.c.Stats()
		bal.Requests, bal.Retries, bal.Throttled = after.Requests-before.Requests, after.Retries-before.Retries, after.RateLimited-before.RateLimited
	}()
	refused := func(err error) error {
		if errors.Is(err, shodanapi.ErrUnauthorized) {
			return source.Refused(err)
		}
		return err
	}
	info, err := s.c.APIInfo(ctx)
	if err != nil {
		return bal, refused(err)
	}
	bal.Left = info.QueryCredits
	budget := -1
	if limit > 0 {
		budget = limit
	}
	ph := make([]plan.Hunt, 0, len(hunts))
	for _, h := range hunts {
		n, err := s.c.Count(ctx, sentQuery(h))
		switch {
		case ctx.Err() != nil:
			return bal, ctx.Err()
		case errors.Is(err, shodanapi.ErrUnauthorized):
			return bal, source.Refused(err)
		case err != nil:
			// A count Shodan could not answer (a timeout, a query it
			// cannot run): plan the first page, so the hunt's search
			// runs and, if it fails too, the hunt fails alone.
			n = plan.PageSize
		}
		ph = append(ph, plan.Hunt{Name: h.Name, Total: n, Fidelity: h.Fidelity, MaxPages: h.Pages, Unfiltered: !shodanapi.HasFilter(h.Query)})
	}
	p := plan.Make(ph, info.QueryCredits, budget)
	bal.Plan = &p
	if p.Allowed == 0 && len(p.Unplanned) > 0 {
		// Not one page can be paid for: say so before anything runs.
		return bal, &CreditsError{Hunts: len(hunts), Need: p.UnplannedCredits(), Budget: p.Allowed, Account: info.QueryCredits}
	}
	s.mu.Lock()
	s.reserved, s.left = true, p.Credits
	s.pages, s.needed = map[string]int{}, map[string]int{}
	for _, pl := range p.Hunts {
		s.pages[pl.Name] = pl.Pages
		s.needed[pl.Name] = pl.Needed
	}
	s.mu.Unlock()
	return bal, nil
}

// credits is what the hunt may spend: the rest of the run's budget once
// Reserve ran, else no cap but the hunt's pages.
func (s *Source) credits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reserved {
		return s.left
	}
	return 1 << 30
}

// planned is how many pages the plan gives the hunt (ok false: no plan).
func (s *Source) planned(name string) (pages int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pages, ok = s.pages[name]
	return pages, ok
}

// left0 says whether the plan left out pages of a hunt it gave none.
func (s *Source) left0(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.needed[name] > 0
}

func (s *Source) spend(n int) {
	s.mu.Lock()
	if s.reserved {
		s.left -= n
	}
	s.mu.Unlock()
}

// sentQuery is the hunt's query as sent, to count and to search.
func sentQuery(h source.Hunt) string {
	q := h.Query
	if shodanapi.HasFilter(q) && !h.Since.IsZero() {
		// The query already costs a credit a page: asking Shodan to drop
		// stale banners costs nothing more and saves pages. after: has
		// day granularity, so ask from the day before; the caller makes
		// the exact cut.
		q = shodanapi.WithAfter(q, h.Since.Add(-24*time.Hour))
	}
	return q
}

// Collect implements source.Source: it pages through the hunt's search,
// newest banners first, as far as the hunt's pages and the run's credits
// allow. Banners with a bad ip_str or timestamp, and matches that are no
// banner, are skipped and counted (shodanapi.Skip*).
func (s *Source) Collect(ctx context.Context, h source.Hunt, emit func(source.Sighting) error) (st source.Stats, err error) {
	before := s.c.Stats()
	defer func() {
		// HTTP requests, retries included: that is what the limits see.
		after := s.c.Stats()
		st.Requests = after.Requests - before.Requests
		st.Retries = after.Retries - before.Retries
		st.Throttled = after.RateLimited - before.RateLimited
		if errors.Is(err, shodanapi.ErrUnauthorized) {
			err = source.Refused(err)
		}
	}()
	filtered := shodanapi.HasFilter(h.Query)
	q := sentQuery(h)
	st.Query = q
	// Page 1 of an unfiltered query is free; every other page costs one.
	maxPages := s.credits()
	if !filtered {
		maxPages++
	}
	if h.Pages > 0 && h.Pages < maxPages {
		maxPages = h.Pages
	}
	if pages, ok := s.planned(h.Name); ok {
		// The plan counted the hunt: no results, nothing to fetch; pages
		// left out are named in the summary by the plan, not failures.
		if pages == 0 {
			st.Truncated = s.left0(h.Name)
			return st, nil
		}
		maxPages = min(maxPages, pages)
	}
	if maxPages <= 0 {
		st.Truncated = true
		return st, ErrNoCredits
	}
	err = s.c.SearchAll(ctx, q, maxPages, func(page int, p *shodanapi.Page) error {
		st.Pages = page
		st.Total = p.Total
		if filtered || page > 1 {
			st.Cost++
			s.spend(1)
		}
		for range p.Undecodable {
			st.Skip(shodanapi.SkipUndecodableMatch)
		}
		for i := range p.Matches {
			ip, sg, err := p.Matches[i].Sighting(h.Name)
			if err != nil {
				st.Skip(shodanapi.SkipReason(err))
				continue
			}
			st.Keep()
			if err := emit(source.Sighting{IP: ip, Sighting: sg, Reference: hostURL + ip.String()}); err != nil {
				return err
			}
		}
		return nil
	})
	if st.Total > st.Pages*100 && err == nil {
		st.Truncated = true
	}
	return st, err
}
