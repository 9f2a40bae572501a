package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
)

// sweep queries every target for the indicators of the hunts that sweep it.
// Indicators of all hunts share queries; hits are attributed back to hunts
// locally from the indicator set.
func (r *run) sweep(ctx context.Context) error {
	for _, t := range r.targets() {
		if err := r.sweepTarget(ctx, t); err != nil {
			return err
		}
	}
	if n := r.s.Totals.OverQuota - 1; r.overQuota != nil && n > 0 {
		r.fail("%s more not sent: the hunting API refused one for the tenant's CPU quota", plural(n, "query", "queries"))
	}
	r.p.Progress.Done()
	return nil
}

// targets lists the distinct sweep targets in hunt order.
func (r *run) targets() []kql.Target {
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

// huntsFor names the hunts that sweep t.
func (r *run) huntsFor(t kql.Target) []string {
	var hs []string
	for _, h := range r.o.Hunts {
		if slices.Contains(h.Sweep, t) {
			hs = append(hs, h.Name)
		}
	}
	return hs
}

// plan groups t's indicators by the window each still needs: the full
// lookback for a new indicator, since its last successful sweep (with a
// small overlap for late-arriving telemetry) for a known one.
func (r *run) plan(ctx context.Context, t kql.Target, ips []netip.Addr) ([]kql.Group, error) {
	full := r.now.Add(-r.o.Lookback)
	starts := map[time.Time][]netip.Addr{}
	var last map[netip.Addr]time.Time
	if r.p.Store != nil {
		var err error
		if last, err = r.p.Store.LastSwept(ctx, t.String(), ips); err != nil {
			return nil, fmt.Errorf("state: last sweeps of %s: %w", t, err)
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

func (r *run) sweepTarget(ctx context.Context, t kql.Target) error {
	hunts := r.huntsFor(t)
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
	groups, err := r.plan(ctx, t, ips)
	if err != nil {
		return err
	}
	planned, err := kql.Build(t, groups, r.o.Limits)
	if err != nil {
		r.fail("sweep %s: %v", t, err)
		return nil
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
	done := 0
	for len(queue) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		q := queue[0].q
		qs := &QuerySummary{Target: t.String(), IPs: len(q.IPs), Bytes: len(q.Text), Start: q.Start, End: q.End, Split: queue[0].split}
		queue = queue[1:]
		r.p.Progress.Update(fmt.Sprintf("hunting %s: query %d/%d (%d indicators), %d hits", t, done+1, done+1+len(queue), len(q.IPs), r.s.Totals.Hits))
		r.s.Queries = append(r.s.Queries, qs)
		r.s.Totals.Queries++
		done++
		if r.o.DryRun {
			qs.Text = q.Text
			continue
		}
		if r.overQuota != nil {
			// Backed off: the window stays, so the next run covers it.
			qs.Skipped = true
			qs.Error = "not sent: " + r.overQuota.Error()
			r.s.Totals.QueriesFailed++
			r.s.Totals.OverQuota++
			r.markIncomplete(hunts, r.overQuota)
			continue
		}
		err := r.query(ctx, q, hunts, qs)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case (errors.Is(err, hunting.ErrTooLarge) || errors.Is(err, errRowCap)) && len(q.IPs) > 1:
			a, b, serr := kql.Split(q, r.o.Limits)
			if serr != nil {
				return serr
			}
			r.s.Totals.Queries--
			r.s.Queries = r.s.Queries[:len(r.s.Queries)-1]
			done--
			queue = append([]item{{a, true}, {b, true}}, queue...)
			r.p.Log.Info("query too large, split", "target", t, "indicators", len(q.IPs))
		case errors.Is(err, hunting.ErrOverQuota):
			// Halves, and every other query, would be refused the same way.
			qs.Error = err.Error()
			r.s.Totals.QueriesFailed++
			r.s.Totals.OverQuota++
			r.overQuota = err
			r.s.QueryErrors = append(r.s.QueryErrors, err)
			r.fail("sweep %s (%d indicators): %v", t, len(q.IPs), err)
			r.p.Log.Warn("hunting API over its CPU quota: no more queries this run", "target", t)
			r.markIncomplete(hunts, err)
		case errors.Is(err, hunting.ErrAuth):
			qs.Error = err.Error()
			r.s.Totals.QueriesFailed++
			r.fail("sweep %s: %v", t, err)
			// Sign-in or permission failure: every other query fails the same way.
			return cannotRun(err)
		default:
			qs.Error = err.Error()
			r.s.Totals.QueriesFailed++
			if errors.Is(err, errRowCap) {
				r.s.Totals.QueriesAtRowCap++
			}
			r.s.QueryErrors = append(r.s.QueryErrors, err)
			r.fail("sweep %s (%d indicators): %v", t, len(q.IPs), err)
			r.markIncomplete(hunts, err)
		}
	}
	return nil
}

// markIncomplete gives hunts that swept a failed query their first error.
func (r *run) markIncomplete(hunts []string, err error) {
	for _, h := range hunts {
		if hs := r.hunts[h]; hs.Error == "" {
			hs.Error = "sweep incomplete: " + err.Error()
		}
	}
}

// query runs one query, spooling rows to disk as they stream in, then
// commits its hits and window in one step.
func (r *run) query(ctx context.Context, q kql.Query, hunts []string, qs *QuerySummary) error {
	sp, err := newSpool()
	if err != nil {
		return err
	}
	defer sp.close()
	fields := kql.FieldsForTarget(q.Target)
	var schema []hunting.Column
	st, err := r.p.Hunter.Hunt(ctx, hunting.Request{Query: q.Text, Start: q.Start, End: q.End},
		func(cols []hunting.Column) error { schema = cols; return nil },
		func(row hunting.Row) error { return sp.add(row) })
	qs.Attempts = st.Attempts
	qs.Rows = st.Rows
	r.s.Totals.HuntingCalls += st.Attempts
	r.s.Totals.Throttled += st.Throttled
	r.s.Totals.Rows += st.Rows
	if err != nil {
		return err
	}
	if st.Rows >= hunting.MaxRows {
		// The service stops at its row cap without an error: the answer
		// may be cut, so nothing of it is committed and the window stays.
		return errRowCap
	}
	if r.out != nil {
		r.out.schema(q.Target, schema)
	}
	var hits []indicator.Hit
	flush := func(last bool) error {
		var ips []netip.Addr
		if last {
			ips = q.IPs // the window moves only once every hit is safe
		}
		return r.commit(ctx, q, ips, hits)
	}
	err = sp.each(func(row hunting.Row) error {
		h, ok := r.toHit(q.Target, fields, row, hunts)
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

// errRowCap marks an answer that reached the service's row cap.
var errRowCap = fmt.Errorf("the answer reached the %d-row cap and may be cut; nothing of it was kept", hunting.MaxRows)

const (
	commitBatch    = 5000
	maxSummaryHits = 1000
)

// toHit turns a row into a hit attributed to the hunts that named its IP.
func (r *run) toHit(t kql.Target, f kql.Fields, row hunting.Row, sweeping []string) (indicator.Hit, bool) {
	ip, err := indicator.ParseIP(str(row[t.Column]))
	if err != nil {
		r.p.Log.Warn("row without a usable IP", "target", t, "value", str(row[t.Column]))
		return indicator.Hit{}, false
	}
	in, ok := r.set.Get(ip)
	if !ok {
		r.p.Log.Warn("row for an IP that is not an indicator", "target", t, "ip", ip)
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
func (r *run) commit(ctx context.Context, q kql.Query, ips []netip.Addr, hits []indicator.Hit) error {
	fresh := hits
	if r.p.Store != nil {
		stored, err := r.p.Store.CommitSweep(ctx, r.s.RunID, q.Target.String(), ips, q.End, hits)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
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
	}
	for _, h := range hits {
		r.s.Totals.Hits++
		for _, name := range h.Hunts {
			r.hunts[name].Hits++
		}
	}
	for _, h := range fresh {
		r.s.Totals.NewHits++
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
			r.fail("writing result files: %v (the hits are in the state: c2sweep hits --run %d)", err, r.s.RunID)
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
