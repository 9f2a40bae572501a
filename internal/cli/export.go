package cli

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/output"
	"c2sweep/internal/stix"
	"c2sweep/internal/store"
)

// ExportCmd hands what c2sweep found to other tools.
type ExportCmd struct {
	Stix ExportStixCmd `cmd:"" name:"stix" help:"Write the C2 servers and what devices contacted as a STIX 2.1 bundle."`
}

// ExportStixCmd writes the state as a STIX 2.1 bundle.
type ExportStixCmd struct {
	Output string `short:"o" env:"-" help:"Write the bundle to FILE (atomically, mode 0640) instead of stdout." placeholder:"FILE" type:"path"`
	Since  string `env:"-" help:"Only C2 servers a run named at or after this age or date (e.g. 7d, 2026-11-01), expired ones included; default: the servers still active." placeholder:"AGE|DATE"`
	Org    string `env:"C2SWEEP_ORG" help:"Name of the organisation whose devices made the sightings (its STIX identity)." placeholder:"NAME"`
	TTL    string `env:"-" name:"ttl" help:"How long an indicator stays valid after its server was last seen (default: state.indicator_ttl of the config, else 30d)." placeholder:"AGE"`
}

func (c *ExportStixCmd) Help() string {
	return `The bundle has, for each C2 server, an indicator ([ipv4-addr:value = '...'],
valid until last seen + the TTL), the server as infrastructure
(command-and-control) and its address, its family as malware, their
relationships, and a sighting by the organisation for each server its
devices contacted (every stored hit that is not suppressed counts). Ids are derived from the content: importing the bundle
again updates the objects a platform holds instead of duplicating them.

Examples:
  c2sweep export stix --org "Contoso" -o c2sweep.stix.json
  c2sweep export stix --org "Contoso" --since 7d > week.json
  C2SWEEP_ORG="Contoso" c2sweep export stix --ttl 14d -o c2sweep.stix.json`
}

func (c *ExportStixCmd) Run(g *Globals) error {
	if strings.TrimSpace(c.Org) == "" {
		return withHint(fmt.Errorf("export stix: the organisation has no name"),
			`name it: --org "Contoso" (or C2SWEEP_ORG); sightings are recorded as seen by it`)
	}
	since, err := whenFlag(c.Since, -1)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	var cfg *config.Config
	if g.Config != "" {
		if cfg, err = g.loadConfig(); err != nil {
			return err
		}
	}
	ttl := config.DefaultIndicatorTTL.Std()
	if cfg != nil {
		ttl = cfg.State.IndicatorTTL.Std()
	}
	if c.TTL != "" {
		d, err := config.ParseDuration(c.TTL)
		if err != nil {
			return fmt.Errorf("--ttl: %w", err)
		}
		if d.Std() < time.Second {
			return fmt.Errorf("--ttl %s: an indicator must stay valid at least a second", c.TTL)
		}
		ttl = d.Std()
	}
	path, err := g.statePath(cfg)
	if err != nil {
		return err
	}
	st, err := store.Open(g.ctx, path, store.Options{MustExist: true})
	if err != nil {
		return err
	}
	defer st.Close()

	in, b, err := stixBundle(g.ctx, st, c.Org, ttl, since)
	if err != nil {
		return err
	}
	sighted := 0
	for _, s := range in.Servers {
		if s.Contacts.Count > 0 {
			sighted++
		}
	}
	if c.Output == "" || c.Output == "-" {
		if err := writeJSON(g.stdout, b); err != nil {
			return err
		}
	} else {
		if err := output.WriteJSON(c.Output, b); err != nil {
			return withHint(fmt.Errorf("export stix: %w", err), "-o names a file in a directory that exists and that you can write")
		}
		fmt.Fprintf(g.stderr, "wrote %s: %d C2 servers, %d contacted by devices\n", c.Output, len(in.Servers), sighted)
	}
	if len(in.Servers) == 0 {
		fmt.Fprintln(g.stderr, "no C2 servers in the state for this window\nhint: c2sweep indicators shows what the state holds; --since widens the window")
	}
	return nil
}

// stixBundle builds the bundle of the state: the one way 'export stix'
// and 'run --stix' write one. since zero: the servers still active.
func stixBundle(ctx context.Context, st *store.Store, org string, ttl time.Duration, since time.Time) (stix.Input, *stix.Bundle, error) {
	recs, err := st.Indicators(ctx, store.IndicatorFilter{Active: since.IsZero()})
	if err != nil {
		return stix.Input{}, nil, err
	}
	// Every contact of an exported server, whatever --since: a sighting's
	// id does not depend on the window, so neither may its content.
	hits, err := st.Hits(ctx, store.HitFilter{HideSuppressed: true})
	if err != nil {
		return stix.Input{}, nil, err
	}
	in := stixInput(org, ttl, since, recs, hits)
	b, err := stix.Build(in)
	return in, b, err
}

// stixInput maps the state to the bundle's input: the one place that says
// which stored fact becomes which STIX property. Servers a run named
// before since are left out; each hit (not suppressed) of an exported
// server counts as one contact. A server's families and confidence come
// from its sightings' labels or their catalog hunts (familyOf,
// confidenceOf); its labels are the sources' tags.
func stixInput(org string, ttl time.Duration, since time.Time, recs []store.IndicatorRecord, hits []store.StoredHit) stix.Input {
	in := stix.Input{Organisation: org, TTL: ttl}
	at := map[netip.Addr]int{}
	for _, r := range recs {
		if !since.IsZero() && r.LastNamed.Before(since) {
			continue
		}
		s := stix.Server{
			IP:        r.IP,
			Hunts:     r.Hunts,
			Sources:   r.Sources,
			Ports:     r.Ports,
			FirstSeen: r.FirstSeen,
			LastSeen:  r.LastSeen,
		}
		for _, sg := range r.Sightings {
			if f := familyOf(sg); f != "" {
				s.Families = append(s.Families, f)
			}
			s.Confidence = max(s.Confidence, confidenceOf(sg))
			s.Labels = append(s.Labels, sg.Labels.Tags...)
		}
		at[r.IP.Unmap()] = len(in.Servers)
		in.Servers = append(in.Servers, s)
	}
	for _, h := range hits {
		i, ok := at[h.IP.Unmap()]
		if !ok || h.Timestamp.IsZero() {
			continue
		}
		c := &in.Servers[i].Contacts
		if c.Count == 0 || h.Timestamp.Before(c.First) {
			c.First = h.Timestamp
		}
		if h.Timestamp.After(c.Last) {
			c.Last = h.Timestamp
		}
		if h.FirstReported.After(c.Recorded) {
			c.Recorded = h.FirstReported
		}
		c.Count++
	}
	return in
}
