package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/defender"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
)

// IndicatorsCmd lists the indicators (the default) or pushes them to
// Defender for Endpoint.
type IndicatorsCmd struct {
	List IndicatorsListCmd `cmd:"" default:"withargs" help:"Show what is being swept and why (the default)."`
	Push IndicatorsPushCmd `cmd:"" help:"Push the active C2 IPs to Defender for Endpoint as indicators that expire."`
}

func (c *IndicatorsCmd) Help() string {
	return `Without a command, or with list's flags, it lists (see 'c2sweep indicators list --help').

Examples:
  c2sweep indicators --active
  c2sweep indicators --hunt CobaltStrikeJARM --json
  c2sweep indicators push --dry-run`
}

// IndicatorsPushCmd makes Defender hold c2sweep's C2 IPs as indicators.
type IndicatorsPushCmd struct {
	DryRun    bool     `env:"-" help:"Print what would be created, updated and deleted; change nothing."`
	Action    string   `env:"-" help:"Audit (default, with an alert), Alert, Warn, Block or AlertAndBlock." placeholder:"ACTION" default:"Audit"`
	Severity  string   `env:"-" help:"Informational, Low, Medium (default) or High." placeholder:"SEVERITY" default:"Medium"`
	OnlyHits  bool     `env:"-" help:"Only the IPs that devices contacted (stored hits, not suppressed)."`
	Hunt      []string `env:"-" help:"Only IPs these hunts named (repeatable); indicators of other hunts that c2sweep pushed before are deleted." placeholder:"NAME"`
	TTL       string   `env:"-" name:"ttl" help:"Expiry after the IP was last seen (default: state.indicator_ttl of the config, else 30d)." placeholder:"AGE"`
	RBACGroup []string `env:"-" name:"rbac-group" help:"Apply to these device groups only (repeatable; default: all devices)." placeholder:"NAME"`
	APIURL    string   `name:"api-url" env:"C2SWEEP_DEFENDER_API_URL" help:"Replace the Defender API root (sovereign clouds, the lab)." placeholder:"URL"`
}

func (c *IndicatorsPushCmd) Help() string {
	return `Each active C2 IP becomes an IpAddress indicator owned by c2sweep
(application "c2sweep"), titled with its family and hunt, its evidence in
the description, expiring at last seen + the TTL. Run it after every sweep:
it reads back what c2sweep owns, sends only what is new or whose expiry
moved, and deletes what c2sweep pushed that is no longer wanted.
Indicators made by people are never touched. At most 500 a call and 30
calls a minute; past the tenant's 15,000 indicators, IPs with hits (then
the most confident) go first and the rest are reported as left out.
A failed IP is reported and sent again by the next push.

The app needs the application permission Ti.ReadWrite.All
(WindowsDefenderATP), with admin consent. It signs in as run does.

Examples:
  c2sweep indicators push --dry-run
  c2sweep indicators push --only-hits --action Block --severity High
  c2sweep indicators push --hunt CobaltStrikeJARM --ttl 14d

Exit codes: 0 done, 2 some IPs failed or were left out, 3 could not push.`
}

func (c *IndicatorsPushCmd) Run(g *Globals) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	ttl := cfg.State.IndicatorTTL.Std()
	if ttl <= 0 {
		ttl = config.DefaultIndicatorTTL.Std()
	}
	if c.TTL != "" {
		d, err := config.ParseDuration(c.TTL)
		if err != nil {
			return fmt.Errorf("--ttl: %w", err)
		}
		ttl = d.Std()
	}
	if c.APIURL != "" {
		if err := config.CheckURL(c.APIURL); err != nil {
			return fmt.Errorf("--api-url (or C2SWEEP_DEFENDER_API_URL): %w", err)
		}
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
	n := &names{st: st, g: g}
	hunts := map[string]bool{}
	for _, h := range c.Hunt {
		name, err := n.hunt("--hunt", h)
		if err != nil {
			return err
		}
		hunts[name] = true
	}
	r, wanted, err := g.pushState(g.ctx, cfg, st, nil, pushRequest{
		hunts: hunts, onlyHits: c.OnlyHits, apiURL: cmp.Or(c.APIURL, cfg.Push.APIURL),
		settings: defender.Settings{Action: c.Action, Severity: c.Severity, TTL: ttl, RBACGroups: c.RBACGroup, DryRun: c.DryRun},
	})
	if errors.Is(err, errPushSetup) {
		return errors.Unwrap(err)
	}
	printPush(g.stdout, r, wanted)
	if err != nil {
		if r.Created+r.Updated+r.Deleted > 0 {
			// Some of it is done: what is not is sent by the next push.
			printError(g.stderr, err)
			return outcomeError{pipeline.OutcomePartial}
		}
		return err
	}
	if len(r.Failed) > 0 || len(r.LeftOut) > 0 {
		return outcomeError{pipeline.OutcomePartial}
	}
	return nil
}

// pushRequest is what to push: which IPs, and how indicators are made.
type pushRequest struct {
	hunts    map[string]bool // "" = every hunt
	onlyHits bool
	apiURL   string // "" = the public Defender API
	settings defender.Settings
}

// errPushSetup wraps what failed before the push began (the state, the
// sign-in setup): nothing was planned, so there is nothing to print.
var errPushSetup = errors.New("push setup")

type pushSetupError struct{ err error }

func (e pushSetupError) Error() string        { return e.err.Error() }
func (e pushSetupError) Unwrap() error        { return e.err }
func (e pushSetupError) Is(target error) bool { return target == errPushSetup }

// pushState makes Defender hold the state's active C2 IPs: the one way
// both 'indicators push' and the push: of run and serve push. httpClient
// nil: Go's default transport. It returns what was done and how many IPs
// were wanted.
func (g *Globals) pushState(ctx context.Context, cfg *config.Config, st *store.Store, httpClient *http.Client, p pushRequest) (defender.Result, int, error) {
	recs, err := st.Indicators(ctx, store.IndicatorFilter{Active: true})
	if err != nil {
		return defender.Result{}, 0, pushSetupError{err}
	}
	hits, err := st.Hits(ctx, store.HitFilter{HideSuppressed: true})
	if err != nil {
		return defender.Result{}, 0, pushSetupError{err}
	}
	want := pushCandidates(recs, hits, p.hunts, p.onlyHits)
	if httpClient == nil {
		httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	cred, err := credential(ctx, cfg.Azure, httpClient)
	if err != nil {
		return defender.Result{}, len(want), pushSetupError{err}
	}
	client, err := defender.New(defender.Options{BaseURL: p.apiURL, Credential: cred, HTTPClient: httpClient, Logger: g.log})
	if err != nil {
		return defender.Result{}, len(want), pushSetupError{err}
	}
	r, err := client.Push(ctx, want, p.settings)
	return r, len(want), err
}

// pushCandidates maps the state to what Defender should hold: the active
// indicators (of the chosen hunts), with their hits counted.
func pushCandidates(recs []store.IndicatorRecord, hits []store.StoredHit, hunts map[string]bool, onlyHits bool) []defender.Candidate {
	count := map[netip.Addr]int{}
	for _, h := range hits {
		count[h.IP.Unmap()]++
	}
	var out []defender.Candidate
	for _, r := range recs {
		cd := defender.Candidate{IP: r.IP, Sources: r.Sources, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Hits: count[r.IP.Unmap()]}
		for _, h := range r.Hunts {
			if len(hunts) == 0 || hunts[h] {
				cd.Hunts = append(cd.Hunts, h)
			}
		}
		if len(cd.Hunts) == 0 || (onlyHits && cd.Hits == 0) {
			continue
		}
		for _, sg := range r.Sightings {
			if len(hunts) == 0 || hunts[sg.Hunt] {
				cd.Families = append(cd.Families, familyOf(sg))
				cd.Confidence = max(cd.Confidence, confidenceOf(sg))
			}
		}
		out = append(out, cd)
	}
	return out
}

func printPush(w io.Writer, r defender.Result, wanted int) {
	if r.DryRun {
		for _, in := range r.Create {
			fmt.Fprintf(w, "would create  %s  expires %s  %s\n", in.IndicatorValue, in.ExpirationTime.Format(time.RFC3339), textsafe.Terminal(in.Title))
		}
		for _, in := range r.Update {
			fmt.Fprintf(w, "would update  %s  expires %s\n", in.IndicatorValue, in.ExpirationTime.Format(time.RFC3339))
		}
		for _, in := range r.Delete {
			fmt.Fprintf(w, "would delete  %s  (id %s)\n", textsafe.Terminal(in.IndicatorValue), textsafe.Terminal(in.ID))
		}
		fmt.Fprintf(w, "dry run: %d to create, %d to update, %d to delete, %d left out (tenant cap), %d held by indicators not c2sweep's; nothing sent\n",
			len(r.Create), len(r.Update), len(r.Delete), len(r.LeftOut), len(r.HeldByOthers))
	} else {
		fmt.Fprintf(w, "pushed %d C2 IPs: %d created, %d updated, %d deleted, %d failed, %d left out (tenant cap), %d held by indicators not c2sweep's\n",
			wanted, r.Created, r.Updated, r.Deleted, len(r.Failed), len(r.LeftOut), len(r.HeldByOthers))
	}
	for _, f := range r.Failed {
		fmt.Fprintf(w, "failed  %s: %s (sent again by the next push)\n", textsafe.Terminal(f.IP), textsafe.Terminal(f.Reason))
	}
	if len(r.LeftOut) > 0 {
		ips := make([]string, len(r.LeftOut))
		for i, ip := range r.LeftOut {
			ips[i] = ip.String()
		}
		fmt.Fprintf(w, "left out (the tenant holds %d of its indicators' cap): %s\n", r.Existing, strings.Join(ips, ", "))
	}
	if r.Expired > 0 {
		fmt.Fprintf(w, "%d IPs not pushed: last seen + the TTL is already past\n", r.Expired)
	}
}
