package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/defender"
	"c2sweep/internal/output"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/store"
)

// handOff is what a sweep hands on once its results are stored: the
// Defender push of the config's push: section, and a STIX bundle.
type handOff struct {
	stixFile string // "" = no bundle
	org      string // the identity of the bundle's sightings
}

// afterSweep pushes to Defender (push.enabled) and writes the STIX bundle
// of the state, through the same functions as 'indicators push' and
// 'export stix'. It never undoes the sweep: a failure is added to the
// summary's errors and makes the outcome partial (exit 2). What was done
// is written to w.
func (g *Globals) afterSweep(ctx context.Context, cfg *config.Config, st *store.Store, httpClient *http.Client, sum *pipeline.Summary, h handOff, w io.Writer) {
	if sum.Outcome == pipeline.OutcomeAborted || ctx.Err() != nil {
		return // interrupted: the next sweep hands on
	}
	fail := func(what string, err error) {
		sum.Errors = append(sum.Errors, fmt.Sprintf("%s: %v", what, err))
		if sum.Outcome == pipeline.OutcomeNoHits || sum.Outcome == pipeline.OutcomeHits {
			sum.Outcome = pipeline.OutcomePartial
		}
		if _, hint := explain(err); hint != "" {
			printHint(g.stderr, hint)
		}
	}
	ttl := cfg.State.IndicatorTTL.Std()
	if ttl <= 0 {
		ttl = config.DefaultIndicatorTTL.Std()
	}
	if p := cfg.Push; p.Enabled {
		hunts := map[string]bool{}
		for _, name := range p.Hunts {
			hunts[name] = true
		}
		r, wanted, err := g.pushState(ctx, cfg, st, httpClient, pushRequest{
			hunts: hunts, onlyHits: p.OnlyHits, apiURL: p.APIURL,
			settings: defender.Settings{Action: p.Action, Severity: p.Severity, TTL: ttl, RBACGroups: p.RBACGroupNames},
		})
		if err == nil || r.Created+r.Updated+r.Deleted > 0 {
			printPush(w, r, wanted)
		}
		switch {
		case err != nil:
			fail("push to defender", err)
		case len(r.Failed) > 0:
			fail("push to defender", fmt.Errorf("%d IPs failed (sent again by the next push)", len(r.Failed)))
		case len(r.LeftOut) > 0:
			fail("push to defender", fmt.Errorf("%d IPs left out: the tenant's indicator cap is reached", len(r.LeftOut)))
		}
	}
	if h.stixFile != "" {
		in, b, err := stixBundle(ctx, st, h.org, ttl, time.Time{})
		if err == nil {
			err = output.WriteJSON(h.stixFile, b)
		}
		if err != nil {
			fail("stix bundle", err)
			return
		}
		fmt.Fprintf(w, "wrote %s: %d C2 servers (STIX 2.1)\n", h.stixFile, len(in.Servers))
	}
}
