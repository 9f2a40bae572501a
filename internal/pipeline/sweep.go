package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
	"c2sweep/internal/store"
)

// Target is one place a run sweeps: a tenant's Defender XDR advanced
// hunting or one Sentinel workspace, with its own hunter (credentials,
// token cache, rate limiter). Every target is swept with the same
// indicators; each keeps its own windows, hits and failures.
type Target struct {
	Name    string // "" is indicator.DefaultTarget
	Backend string // graph, mde or sentinel, for the summary
	// Catalog names the tables its queries are written against:
	// "defender" ("") or "sentinel".
	Catalog string
	// MaxRows is the backend's row cap: an answer that long may be cut
	// (0: hunting.MaxRows).
	MaxRows int
	Hunter  hunting.Hunter // nil in a dry run
	// Sweep are the Table.Columns swept for every hunt; nil: each hunt's
	// own sweep list.
	Sweep []kql.Target
}

// targetRun is one target's part of a sweep.
type targetRun struct {
	Target
	ts *TargetSummary
	// overQuota is the tenant's CPU-quota refusal: once it is seen, no
	// further query goes to this target this run (each would be refused
	// the same way and spend more of the quota's cycle); their windows
	// stay for the next run.
	overQuota error
	failed    error // sign-in or permission: nothing more is sent
}

// sweepTargets are the run's targets: Pipeline.Targets, or one made of
// Pipeline.Hunter.
func (p *Pipeline) sweepTargets(api string) []Target {
	if len(p.Targets) > 0 {
		return p.Targets
	}
	return []Target{{Name: indicator.DefaultTarget, Backend: api, Hunter: p.Hunter}}
}

// sweep queries every target, concurrently, for the indicators of the
// hunts that sweep it. Indicators of all hunts share queries; hits are
// attributed back to hunts locally from the indicator set. One target's
// failure never stops the others; only when every target failed to sign
// in does the run fail.
func (r *run) sweep(ctx context.Context) error {
	if r.p.Store != nil {
		r.commits = newCommitter(r.p.Store, r.s.RunID)
	}
	var wg sync.WaitGroup
	for _, tr := range r.targets {
		if tr.failed != nil {
			continue // failed its pre-flight
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.sweepTarget(ctx, tr)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var first error
	for _, tr := range r.targets {
		if tr.failed == nil {
			return nil
		}
		if first == nil {
			first = tr.failed
		}
	}
	if first != nil {
		return cannotRun(first)
	}
	return nil
}

// columns lists the Table.Columns swept in tr, in hunt order.
func (r *run) columns(tr *targetRun) []kql.Target {
	if tr.Sweep != nil {
		return tr.Sweep
	}
	var ts []kql.Target
	for _, h := range r.o.Hunts {
		for _, t := range h.Sweep {
			if !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// huntsFor names the hunts whose indicators are swept in column t of tr.
func (r *run) huntsFor(tr *targetRun, t kql.Target) []string {
	var hs []string
	for _, h := range r.o.Hunts {
		if tr.Sweep != nil || slices.Contains(h.Sweep, t) {
			hs = append(hs, h.Name)
		}
	}
	return hs
}

// plan groups t's indicators by the window each still needs: the full
// lookback for a new indicator, since its last successful sweep (with a
// small overlap for late-arriving telemetry) for a known one.
func (r *run) plan(ctx context.Context, key string, ips []netip.Addr) ([]kql.Group, error) {
	full := r.now.Add(-r.o.Lookback)
	starts := map[time.Time][]netip.Addr{}
	var last map[netip.Addr]time.Time
	if r.p.Store != nil {
		var err error
		if last, err = r.p.Store.LastSwept(ctx, key, ips); err != nil {
			return nil, fmt.Errorf("state: last sweeps of %s: %w", key, err)
		}
	}
	for _, ip := range ips {
		start := full
		if l, ok := last[ip]; ok && l.Add(-r.o.Overlap).After(full) {
			start = l.Add(-r.o.Overlap)
		}
		starts[start] = append(starts[start], ip)
	}
	var groups []kql.Group
	for start, g := range starts {
		groups = append(groups, kql.Group{IPs: g, Start: start, End: r.now})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Start.Before(groups[j].Start) })
	return groups, nil
}

// sweepTarget sweeps every column of one target, recording its failures
// in the summary.
func (r *run) sweepTarget(ctx context.Context, tr *targetRun) {
	for _, col := range r.columns(tr) {
		if err := r.sweepColumn(ctx, tr, col); err != nil {
			if ctx.Err() == nil {
				r.mu.Lock()
				tr.ts.firstError(err)
				r.mu.Unlock()
				r.fail("%s: %v", r.where(tr, col), err)
			}
			break
		}
		if tr.failed != nil {
			break
		}
	}
	if n := tr.ts.OverQuota - 1; tr.overQuota != nil && n > 0 {
		r.fail("%s: %s more not sent: the hunting API refused one for the tenant's CPU quota", r.where(tr, kql.Target{}), plural(n, "query", "queries"))
	}
	r.mu.Lock()
	tr.ts.settle()
	r.mu.Unlock()
}

// where names a target (and column) in messages: the column alone when
// the run has one target, as before targets existed.
func (r *run) where(tr *targetRun, col kql.Target) string {
	var parts []string
	if len(r.targets) > 1 || tr.Name != indicator.DefaultTarget {
		parts = append(parts, "target "+tr.Name)
	}
	if col.Table != "" {
		parts = append(parts, "sweep "+col.String())
	}
	return strings.Join(parts, ": ")
}

func (r *run) sweepColumn(ctx context.Context, tr *targetRun, t kql.Target) error {
	hunts := r.huntsFor(tr, t)
	var ips []netip.Addr
	for _, in := range r.set.All() {
		for _, h := range in.Hunts() {
			if slices.Contains(hunts, h) {
				ips = append(ips, in.IP)
				break
			}
		}
	}
	if len(ips) == 0 {
		return nil // a hunt with no fresh indicators sends nothing
	}
	key := indicator.WindowKey(tr.Name, t.String())
	groups, err := r.plan(ctx, key, ips)
	if err != nil {
		return err
	}
	planned, err := kql.BuildIn(tr.Catalog, t, groups, r.o.Limits)
	if err != nil {
		return err
	}
	// A query refused as too large is replaced in the queue by its halves.
	type item struct {
		q     kql.Query
		split bool // a half of a refused query
	}
	var queue []item
	for _, q := range planned {
		queue = append(queue, item{q: q})
	}
	where := r.where(tr, t)
	done := 0
	for len(queue) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		q := queue[0].q
		qs := &QuerySummary{Target: tr.Name, Column: t.String(), IPs: len(q.IPs), Bytes: len(q.Text), Start: q.Start, End: q.End, Split: queue[0].split}
		queue = queue[1:]
		done++
		r.mu.Lock()
		r.p.Progress.Update(fmt.Sprintf("hunting %s: query %d/%d (%d indicators), %d hits", strings.TrimPrefix(where, "sweep "), done, done+len(queue), len(q.IPs), r.s.Totals.Hits))
		r.s.Queries = append(r.s.Queries, qs)
		r.s.Totals.Queries++
		tr.ts.Queries++
		r.mu.Unlock()
		if r.o.DryRun {
			qs.Text = q.Text
			continue
		}
		if tr.overQuota != nil {
			// Backed off: the window stays, so the next run covers it.
			qs.Skipped = true
			qs.Error = "not sent: " + tr.overQuota.Error()
			r.mu.Lock()
			r.s.Totals.QueriesFailed++
			r.s.Totals.OverQuota++
			tr.ts.QueriesFailed++
			tr.ts.OverQuota++
			r.markIncomplete(hunts, tr.overQuota)
			r.mu.Unlock()
			continue
		}
		err := r.query(ctx, tr, q, hunts, qs)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case (errors.Is(err, hunting.ErrTooLarge) || errors.Is(err, errRowCap)) && len(q.IPs) > 1:
			a, b, serr := kql.Split(q, r.o.Limits)
			if serr != nil {
				return serr
			}
			r.mu.Lock()
			r.s.Totals.Queries--
			tr.ts.Queries--
			r.s.Queries = slices.DeleteFunc(r.s.Queries, func(x *QuerySummary) bool { return x == qs })
			r.mu.Unlock()
			done--
			queue = append([]item{{a, true}, {b, true}}, queue...)
			r.p.Log.Info("query too large, split", "target", tr.Name, "sweep", t, "indicators", len(q.IPs))
		case errors.Is(err, hunting.ErrOverQuota):
			// Halves, and every other query, would be refused the same way.
			qs.Error = err.Error()
			tr.overQuota = err
			r.mu.Lock()
			r.s.Totals.QueriesFailed++
			r.s.Totals.OverQuota++
			tr.ts.QueriesFailed++
			tr.ts.OverQuota++
			r.s.QueryErrors = append(r.s.QueryErrors, err)
			r.markIncomplete(hunts, err)
			tr.ts.firstError(err)
			r.mu.Unlock()
			r.fail("%s (%d indicators): %v", where, len(q.IPs), err)
			r.p.Log.Warn("hunting API over its CPU quota: no more queries to this target this run", "target", tr.Name)
		case errors.Is(err, hunting.ErrAuth):
			// Sign-in or permission failure: every other query fails the same way.
			qs.Error = err.Error()
			r.mu.Lock()
			r.s.Totals.QueriesFailed++
			tr.ts.QueriesFailed++
			r.s.QueryErrors = append(r.s.QueryErrors, err)
			r.markIncomplete(hunts, err)
			tr.ts.firstError(err)
			r.mu.Unlock()
			tr.failed = err
			r.fail("%s: %v", where, err)
			return nil
		default:
			qs.Error = err.Error()
			r.mu.Lock()
			r.s.Totals.QueriesFailed++
			tr.ts.QueriesFailed++
			if errors.Is(err, errRowCap) {
				r.s.Totals.QueriesAtRowCap++
			}
			r.s.QueryErrors = append(r.s.QueryErrors, err)
			r.markIncomplete(hunts, err)
			tr.ts.firstError(err)
			r.mu.Unlock()
			r.fail("%s (%d indicators): %v", where, len(q.IPs), err)
		}
	}
	return nil
}

// markIncomplete gives hunts that swept a failed query their first error.
// The caller holds r.mu.
func (r *run) markIncomplete(hunts []string, err error) {
	for _, h := range hunts {
		if hs := r.hunts[h]; hs.Error == "" {
			hs.Error = "sweep incomplete: " + err.Error()
		}
	}
}

// query runs one query, spooling rows to disk as they stream in, then
// commits its hits and window in one step.
func (r *run) query(ctx context.Context, tr *targetRun, q kql.Query, hunts []string, qs *QuerySummary) error {
	sp, err := newSpool()
	if err != nil {
		return err
	}
	defer sp.close()
	fields := kql.FieldsIn(q.Catalog, q.Target)
	var schema []hunting.Column
	st, err := tr.Hunter.Hunt(ctx, hunting.Request{Query: q.Text, Start: q.Start, End: q.End},
		func(cols []hunting.Column) error { schema = cols; return nil },
		func(row hunting.Row) error { return sp.add(row) })
	qs.Attempts = st.Attempts
	qs.Rows = st.Rows
	r.mu.Lock()
	r.s.Totals.HuntingCalls += st.Attempts
	r.s.Totals.Throttled += st.Throttled
	r.s.Totals.Rows += st.Rows
	tr.ts.Calls += st.Attempts
	tr.ts.Throttled += st.Throttled
	tr.ts.Rows += st.Rows
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if limit := cmp.Or(tr.MaxRows, hunting.MaxRows); st.Rows >= limit {
		// The service stops at its row cap without an error: the answer
		// may be cut, so nothing of it is committed and the window stays.
		return rowCapError(limit)
	}
	if r.out != nil {
		r.mu.Lock()
		r.out.schema(schemaKey(tr.Name, q.Target), schema)
		r.mu.Unlock()
	}
	var hits []indicator.Hit
	flush := func(last bool) error {
		var ips []netip.Addr
		if last {
			ips = q.IPs // the window moves only once every hit is safe
		}
		return r.commit(ctx, tr, q, ips, hits)
	}
	err = sp.each(func(row hunting.Row) error {
		h, ok := r.toHit(tr.Name, q.Target, fields, row, hunts)
		if !ok {
			return nil
		}
		hits = append(hits, h)
		if len(hits) == commitBatch {
			if err := flush(false); err != nil {
				return err
			}
			hits = hits[:0]
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush(true)
}

// errRowCap is matched by an answer that reached its service's row cap.
var errRowCap error = rowCapError(hunting.MaxRows)

// rowCapError is an answer that reached the row cap of its service.
type rowCapError int

func (e rowCapError) Error() string {
	return fmt.Sprintf("the answer reached the %d-row cap and may be cut; nothing of it was kept", int(e))
}
func (rowCapError) Is(target error) bool { return target == errRowCap }

// schemaKey names a column's schema in summary.json: Table.Column, under
// the target's name when there are several targets.
func schemaKey(target string, t kql.Target) string {
	if target == indicator.DefaultTarget {
		return t.String()
	}
	return indicator.WindowKey(target, t.String())
}

const (
	commitBatch    = 5000
	maxSummaryHits = 1000
)

// toHit turns a row into a hit attributed to the hunts that named its IP.
func (r *run) toHit(target string, t kql.Target, f kql.Fields, row hunting.Row, sweeping []string) (indicator.Hit, bool) {
	ip, err := indicator.ParseIP(str(row[t.Column]))
	if err != nil {
		r.p.Log.Warn("row without a usable IP", "target", target, "sweep", t, "value", str(row[t.Column]))
		return indicator.Hit{}, false
	}
	in, ok := r.set.Get(ip)
	if !ok {
		r.p.Log.Warn("row for an IP that is not an indicator", "target", target, "sweep", t, "ip", ip)
		return indicator.Hit{}, false
	}
	var hunts []string
	for _, h := range in.Hunts() {
		if slices.Contains(sweeping, h) {
			hunts = append(hunts, h)
		}
	}
	ts, _ := time.Parse(time.RFC3339Nano, str(row[f.Time]))
	return indicator.Hit{
		Target:    target,
		Table:     t.Table,
		Column:    t.Column,
		IP:        ip,
		Timestamp: ts.UTC(),
		DeviceID:  str(row[f.DeviceID]),
		Device:    str(row[f.Device]),
		Account:   str(row[f.Account]),
		Port:      num(row[f.Port]),
		Action:    str(row[f.Action]),
		Process:   str(row[f.Process]),
		Command:   str(row[f.Command]),
		ReportID:  str(row[f.ReportID]),
		Hunts:     hunts,
		Row:       row,
	}, true
}

// commit stores a batch of hits (and, on the last batch, the window), then
// reports them.
func (r *run) commit(ctx context.Context, tr *targetRun, q kql.Query, ips []netip.Addr, hits []indicator.Hit) error {
	// Targets committing at the same time share a transaction
	// (committer); the counters and result files are then updated one
	// commit at a time.
	fresh := hits
	if r.p.Store != nil {
		stored, err := r.commits.commit(ctx, store.Sweep{Target: indicator.WindowKey(tr.Name, q.Target.String()), IPs: ips, End: q.End, Hits: hits})
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		fresh = fresh[:0:0]
		for _, sh := range stored {
			if sh.Suppressed != "" {
				r.s.Totals.Suppressed++
				// The store names the match "kind value: reason".
				kind, _, _ := strings.Cut(sh.Suppressed, " ")
				if r.s.Totals.SuppressedBy == nil {
					r.s.Totals.SuppressedBy = map[string]int{}
				}
				r.s.Totals.SuppressedBy[kind]++
				for _, h := range sh.Hit.Hunts {
					r.hunts[h].Suppressed++
				}
				continue
			}
			fresh = append(fresh, sh.Hit)
		}
	} else {
		r.mu.Lock()
		defer r.mu.Unlock()
	}
	for _, h := range hits {
		r.s.Totals.Hits++
		tr.ts.Hits++
		for _, name := range h.Hunts {
			r.hunts[name].Hits++
		}
	}
	for _, h := range fresh {
		r.s.Totals.NewHits++
		tr.ts.NewHits++
		for _, name := range h.Hunts {
			r.hunts[name].NewHits++
		}
	}
	report := fresh
	if r.o.All {
		report = hits
	}
	// The summary keeps the first hits for the screen; files get them all.
	if room := maxSummaryHits - len(r.s.NewHits); room > 0 {
		r.s.NewHits = append(r.s.NewHits, report[:min(room, len(report))]...)
	}
	if r.out != nil {
		// The hits are safe in the state; a file error must not fail the query.
		if err := r.out.hits(report); err != nil && !r.outFailed {
			r.outFailed = true
			r.failLocked("writing result files: %v (the hits are in the state: c2sweep hits --run %d)", err, r.s.RunID)
		}
	}
	return nil
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func num(v any) int {
	var n int
	fmt.Sscan(str(v), &n)
	return n
}
