// Package plan spends Shodan query credits on hunts' result pages. Counting
// a query is free, so c2sweep counts every chosen hunt first and then plans
// which pages to fetch within the credits left and the configured budget.
// The plan is a pure function: run, collect, serve and --dry-run share it.
package plan

import (
	"sort"
	"strings"
)

// PageSize is how many results a Shodan search page holds; one page costs
// one query credit (the first page of a query without filters is free).
const PageSize = 100

// Hunt is what the planner knows of a hunt after its count.
type Hunt struct {
	Name     string
	Total    int // what Shodan's count said
	Fidelity int // higher is more trusted (catalog.Fidelity.Rank)
	MaxPages int // the hunt's own page limit; 0: all
	// Unfiltered: the query uses no filter, so its first page costs no
	// credit (Shodan charges a search that uses a filter or asks for page
	// 2 or later).
	Unfiltered bool
}

// Pages is how many pages the hunt's results fill, within MaxPages.
func (h Hunt) Pages() int {
	n := (max(h.Total, 0) + PageSize - 1) / PageSize
	if h.MaxPages > 0 {
		n = min(n, h.MaxPages)
	}
	return n
}

// Planned is one hunt's part of the plan.
type Planned struct {
	Name    string `json:"name"`
	Total   int    `json:"total"`
	Pages   int    `json:"pages"`  // pages to fetch: 1..Pages
	Needed  int    `json:"needed"` // pages its results fill
	Credits int    `json:"credits"`
}

// Unplanned names pages left out and the credits they would have cost.
type Unplanned struct {
	Name    string `json:"name"`
	Pages   int    `json:"pages"` // pages Pages+1..Needed of the hunt
	Credits int    `json:"credits"`
}

// Plan is the outcome: every hunt in priority order, what is left out, and
// the credits spent out of the credits allowed.
type Plan struct {
	Hunts     []Planned   `json:"hunts"`
	Unplanned []Unplanned `json:"unplanned,omitempty"`
	Credits   int         `json:"credits"` // planned spend
	Allowed   int         `json:"allowed"` // min(available, budget)
}

// UnplannedCredits is what fetching everything left out would cost.
func (p Plan) UnplannedCredits() int {
	n := 0
	for _, u := range p.Unplanned {
		n += u.Credits
	}
	return n
}

// Make plans the pages of hunts with available credits and a budget
// (negative: no budget, only the available credits limit). Priority:
// higher fidelity first, then fewer results, then name. Every hunt with
// results gets its first page before any hunt gets a second, its second
// before any gets a third, and so on, in priority order, until the credits
// run out. Hunts without results get no page and cost nothing.
func Make(hunts []Hunt, available, budget int) Plan {
	allowed := max(available, 0)
	if budget >= 0 {
		allowed = min(allowed, budget)
	}
	order := make([]int, len(hunts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := hunts[order[a]], hunts[order[b]]
		if x.Fidelity != y.Fidelity {
			return x.Fidelity > y.Fidelity
		}
		if x.Total != y.Total {
			return x.Total < y.Total
		}
		return strings.ToLower(x.Name) < strings.ToLower(y.Name)
	})
	p := Plan{Hunts: make([]Planned, len(hunts)), Allowed: allowed}
	left := allowed
	// Round one: first pages, in priority order; a free first page is
	// always fetched.
	for i, hi := range order {
		h := hunts[hi]
		pl := Planned{Name: h.Name, Total: h.Total, Needed: h.Pages()}
		if pl.Needed > 0 {
			switch {
			case h.Unfiltered:
				pl.Pages = 1
			case left > 0:
				pl.Pages, pl.Credits = 1, 1
				left--
			}
		}
		p.Hunts[i] = pl
	}
	// Later rounds all cost a credit a page: find the deepest round L that
	// every hunt can complete, then give round L+1 to the first hunts in
	// priority order while credits last. This is the round-robin, without
	// walking it page by page.
	extra := func(pl Planned) int {
		if pl.Pages == 0 {
			return 0
		}
		return pl.Needed - 1
	}
	cost := func(level int) int {
		n := 0
		for _, pl := range p.Hunts {
			n += min(extra(pl), level)
			if n > left {
				break
			}
		}
		return n
	}
	maxExtra := 0
	for _, pl := range p.Hunts {
		maxExtra = max(maxExtra, extra(pl))
	}
	lo, hi := 0, maxExtra // cost(lo) <= left; find the largest such level
	for lo < hi {
		m := lo + (hi-lo+1)/2
		if cost(m) <= left {
			lo = m
		} else {
			hi = m - 1
		}
	}
	left -= cost(lo)
	for i := range p.Hunts {
		pl := &p.Hunts[i]
		e := extra(*pl)
		add := min(e, lo)
		if e > lo && left > 0 {
			add++
			left--
		}
		pl.Pages += add
		pl.Credits += add
	}
	for _, pl := range p.Hunts {
		p.Credits += pl.Credits
		if n := pl.Needed - pl.Pages; n > 0 {
			p.Unplanned = append(p.Unplanned, Unplanned{Name: pl.Name, Pages: n, Credits: n})
		}
	}
	return p
}
