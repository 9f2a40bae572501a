package report

import (
	"context"
	"fmt"
	"strings"
	"time"

	"c2sweep/internal/catalog"
	"c2sweep/internal/store"
)

// Scope says what a report covers: the new hits of one run, or every hit
// with an event since a time (and the runs started since).
type Scope struct {
	Run   int64
	Since time.Time
	// Targets limits the report to the hits of these sweep targets, and
	// with Since to the runs that swept one of them; empty: every target.
	Targets []string
}

// Load reads what the report of scope needs from the state. A run writing
// its own report.html calls Load with Scope{Run: id} after FinishRun, adds
// what it left out before sweeping (Input.Excluded, from its summary), and
// writes report.WriteFile(filepath.Join(runDir, "report.html"), Build(in)).
func Load(ctx context.Context, st *store.Store, sc Scope, now time.Time) (Input, error) {
	in := Input{Generated: now.UTC(), Family: Family}
	f := store.HitFilter{Targets: sc.Targets}
	if sc.Run != 0 {
		r, err := st.Run(ctx, sc.Run)
		if err != nil {
			return in, err
		}
		in.Runs = []store.Run{r}
		f.NewInRun = sc.Run
		in.Scope = fmt.Sprintf("new hits of run %d, started %s", r.ID, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	} else {
		f.Since = sc.Since
		in.Scope = "hits with events since " + sc.Since.UTC().Format("2006-01-02 15:04 MST")
		runs, err := st.ListRuns(ctx, store.RunFilter{Targets: sc.Targets})
		if err != nil {
			return in, err
		}
		for _, r := range runs {
			if !r.Started.Before(sc.Since) {
				in.Runs = append(in.Runs, r)
			}
		}
	}
	if len(sc.Targets) > 0 {
		in.Scope += ", " + plural(len(sc.Targets), "target", "targets") + " " + strings.Join(sc.Targets, ", ")
	}
	var err error
	if in.Hits, err = st.Hits(ctx, f); err != nil {
		return in, err
	}
	if in.Indicators, err = st.Indicators(ctx, store.IndicatorFilter{}); err != nil {
		return in, err
	}
	sups, err := st.Suppressions(ctx)
	if err != nil {
		return in, err
	}
	for _, sp := range sups {
		if sp.Active(now) {
			in.Suppressions = append(in.Suppressions, sp)
		}
	}
	return in, nil
}

// Family is the framework a hunt of the built-in catalog looks for; "" for
// a hunt the catalog does not know (one of the config's own).
func Family(hunt string) string {
	if h, ok := catalog.Builtin().Lookup(hunt); ok {
		return h.Family
	}
	return ""
}
