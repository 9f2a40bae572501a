package pipeline

import (
	"context"
	"path/filepath"
	"time"

	"c2sweep/internal/hunting"
	"c2sweep/internal/indicator"
	"c2sweep/internal/output"
	"c2sweep/internal/report"
	"c2sweep/internal/store"
)

// outputs ties a run to its result directory.
type outputs struct {
	d   *output.RunDir
	dir string
	s   *Summary
	set *indicator.Set
}

func newOutputs(dir string, s *Summary, set *indicator.Set) (*outputs, error) {
	// A dry run writes summary.json (with every query) but no hunt files:
	// empty ones would read as "no hits" to whatever ingests them.
	var names []string
	for _, h := range s.Hunts {
		if !s.DryRun {
			names = append(names, h.Name)
		}
	}
	d, err := output.Create(dir, names)
	if err != nil {
		return nil, err
	}
	return &outputs{d: d, dir: dir, s: s, set: set}, nil
}

func (o *outputs) schema(key string, cols []hunting.Column) { o.d.Schema(key, cols) }

func (o *outputs) hits(hs []indicator.Hit) error {
	for _, h := range hs {
		in, _ := o.set.Get(h.IP)
		if err := o.d.Hit(h, in); err != nil {
			return err
		}
	}
	return nil
}

// finish writes summary.json; the caller has set everything but the end.
func (o *outputs) finish() error {
	err := o.d.Close(o.s)
	o.d = nil
	return err
}

// report writes hits.json (the run's new hits rolled up per device and C2
// server, with the servers' context) and report.html beside the hunt
// files, from the state once the run is recorded.
func (o *outputs) report(ctx context.Context, st *store.Store, run int64, now time.Time) error {
	if o.s.DryRun {
		return nil
	}
	in, err := report.Load(ctx, st, report.Scope{Run: run}, now)
	if err != nil {
		return err
	}
	m := report.Build(in)
	if err := output.WriteJSON(filepath.Join(o.dir, "hits.json"), report.Hits(m)); err != nil {
		return err
	}
	return report.WriteFile(filepath.Join(o.dir, "report.html"), m)
}
