package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"

	"c2sweep/internal/health"
	"c2sweep/internal/notify"
	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
)

// HealthChange is a hunt whose verdict changed to one that warns (silent,
// spiking): said once per change, not every run.
type HealthChange struct {
	Hunt    string `json:"hunt"`
	Verdict string `json:"verdict"`
	Detail  string `json:"detail,omitempty"`
	Before  string `json:"before,omitempty"`
}

// recordHealth keeps each hunt's part of the run in the state, judges the
// hunt on its last runs and stores its verdict; a change to a warning
// state goes in the summary.
func (r *run) recordHealth(ctx context.Context) error {
	st := r.p.Store
	var rs []store.HuntRun
	for _, h := range r.s.Hunts {
		var why map[string]int // the exclusions feed the "noisy" verdict
		if h.Excluded.CDN > 0 || h.Excluded.Config > 0 {
			why = map[string]int{ExcludedCDN: h.Excluded.CDN, ExcludedConfig: h.Excluded.Config}
		}
		// Fresh counts what was fresh before the exclusions took their share.
		excluded := h.Excluded.CDN + h.Excluded.Config
		rs = append(rs, store.HuntRun{RunID: r.s.RunID, Hunt: h.Name, At: r.now, Returned: h.Read, Fresh: h.Fresh + excluded,
			Kept: h.Kept, Excluded: excluded, ExcludedWhy: why, Hits: h.Hits, Failed: h.Error != ""})
	}
	if err := st.RecordHuntRuns(ctx, rs); err != nil {
		return err
	}
	o := health.Options{SilentRuns: r.o.SilentRuns}
	hist, err := st.HuntRuns(ctx, max(o.SilentRuns, 7)+30)
	if err != nil {
		return err
	}
	for _, h := range r.s.Hunts {
		v := health.Judge(HealthRuns(hist[h.Name]), o)
		prev, err := st.SwapVerdict(ctx, h.Name, v.State, r.now)
		if err != nil {
			return err
		}
		if prev != v.State && v.Warns() {
			r.s.Health = append(r.s.Health, HealthChange{Hunt: h.Name, Verdict: v.State, Detail: v.Detail, Before: prev})
		}
	}
	return nil
}

// HealthRuns turns the state's runs of a hunt into what health judges.
func HealthRuns(rs []store.HuntRun) []health.Run {
	out := make([]health.Run, len(rs))
	for i, r := range rs {
		out[i] = health.Run{Returned: r.Returned, Fresh: r.Fresh, Excluded: r.Excluded, Hits: r.Hits, Failed: r.Failed}
	}
	return out
}

// alertHealth sends the run's health warnings to every alert target, once:
// the verdict is already stored, so the next run does not send it again.
func (r *run) alertHealth(ctx context.Context) {
	if len(r.s.Health) == 0 {
		return
	}
	var lines []string
	for _, c := range r.s.Health {
		lines = append(lines, fmt.Sprintf("hunt %s is %s: %s", c.Hunt, c.Verdict, c.Detail))
	}
	a := notify.Alert{RunID: r.s.RunID, Time: r.now, Title: "c2sweep: hunt health", Summary: strings.Join(lines, "; ")}
	for _, t := range r.p.Notify {
		if err := t.Send(ctx, a); err != nil {
			r.fail("alerts: hunt health to %s: %v", t.Name(), err)
		}
	}
}

func (s *Summary) writeHealth(w io.Writer) {
	for _, c := range s.Health {
		fmt.Fprintf(w, "warning: hunt %s is %s: %s (see 'c2sweep hunts --health')\n", textsafe.Terminal(c.Hunt), c.Verdict, textsafe.Terminal(c.Detail))
	}
}
