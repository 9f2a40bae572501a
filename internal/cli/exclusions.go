package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/exclude"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/retry"
	"c2sweep/internal/textsafe"
)

// ExclusionsCmd groups the commands about the CDN ranges c2sweep does not
// sweep.
type ExclusionsCmd struct {
	Check  ExclusionsCheckCmd  `cmd:"" help:"Say which excluded range (CDN, front end) contains each IP."`
	Update ExclusionsUpdateCmd `cmd:"" help:"Refresh the CDN ranges from the operators' published lists."`
}

func (c *ExclusionsCmd) Help() string {
	return `Indicators inside the published ranges of CDNs and shared front ends
(Cloudflare, Fastly, Amazon CloudFront, Akamai, Azure Front Door, Google)
are not swept: such an address is the CDN's, shared by all its customers.
c2sweep ships a dated snapshot of the ranges; update refreshes it.

Examples:
  c2sweep exclusions check 104.16.1.1 2001:db8::1
  c2sweep exclusions update`
}

// RangesFlag is the directory an update writes and the commands read.
type RangesFlag struct {
	Dir string `help:"Directory of refreshed CDN ranges (default: ranges/ beside the state database, e.g. $XDG_STATE_HOME/c2sweep/ranges)." type:"path" env:"C2SWEEP_RANGES_DIR" placeholder:"DIR"`
}

// rangesDir is where `exclusions update` writes the refreshed lists and
// where they are read from: dir (--dir), else ranges/ beside the state
// database (--state, else cfg's state.path, else the default). cfg may be
// nil. `run` and `serve` must read the same: exclude.Current(rangesDir("", cfg)).
func (g *Globals) rangesDir(dir string, cfg *config.Config) (string, error) {
	if dir != "" {
		return dir, nil
	}
	p, err := g.statePath(cfg)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), "ranges"), nil
}

// exclusionsDir is rangesDir for the exclusions commands, which read a
// config only when one is named (for its state.path).
func (g *Globals) exclusionsDir(f RangesFlag) (string, error) {
	var cfg *config.Config
	if f.Dir == "" && g.State == "" && g.Config != "" {
		var err error
		if cfg, err = g.loadConfig(); err != nil {
			return "", err
		}
	}
	return g.rangesDir(f.Dir, cfg)
}

// ExclusionsCheckCmd answers which range holds each IP.
type ExclusionsCheckCmd struct {
	IPs         []string `arg:"" name:"IP" help:"IPv4 or IPv6 addresses (IPv4-mapped IPv6 is looked up as IPv4)."`
	RangesFlag  `embed:""`
	OutputFlags `embed:""`
}

func (c *ExclusionsCheckCmd) Help() string {
	return `Reads the ranges 'c2sweep exclusions update' wrote (--dir), else the
snapshot built into c2sweep, and warns when they are more than 90 days old.

Exit codes: 0 every IP answered, 2 some arguments are not IPs (the others
are answered), 3 none is.

Examples:
  c2sweep exclusions check 104.16.1.1 2606:4700::1 203.0.113.9
  c2sweep exclusions check --json 151.101.1.1
  c2sweep exclusions check --dir ./ranges ::ffff:13.32.0.1`
}

// checked is the answer for one IP.
type checked struct {
	IP       string    `json:"ip"`
	Excluded bool      `json:"excluded"`
	Prefix   string    `json:"prefix,omitempty"`
	Operator string    `json:"operator,omitempty"`
	List     string    `json:"list,omitempty"`
	Source   string    `json:"source,omitempty"`
	Date     time.Time `json:"date,omitzero"`
}

var checkColumns = []column[checked]{
	{head: "IP", csv: "ip", cell: func(c checked) any { return c.IP }},
	// A table says "not excluded" and "-"; CSV has a yes/no column and
	// empty cells.
	{head: "RANGE", cell: func(c checked) any {
		if !c.Excluded {
			return "not excluded"
		}
		return c.Prefix
	}, only: "table"},
	{csv: "excluded", cell: func(c checked) any { return c.Excluded }, only: "csv"},
	{csv: "prefix", cell: func(c checked) any { return c.Prefix }, only: "csv"},
	{head: "OPERATOR", cell: func(c checked) any { return dash(c.Operator) }, only: "table"},
	{csv: "operator", cell: func(c checked) any { return c.Operator }, only: "csv"},
	{head: "LIST", cell: func(c checked) any { return dash(c.List) }, only: "table"},
	{csv: "list", cell: func(c checked) any { return c.List }, only: "csv"},
	{head: "DATE", csv: "date", layout: time.DateOnly, cell: func(c checked) any { return c.Date }},
	{head: "SOURCE", cell: func(c checked) any { return dash(c.Source) }, only: "table"},
	{csv: "source", cell: func(c checked) any { return c.Source }, only: "csv"},
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// badIPError is an argument of exclusions check that is not an address.
type badIPError struct{ arg string }

func (e *badIPError) Error() string {
	return fmt.Sprintf("%q is not an IP address", e.arg)
}

func (c *ExclusionsCheckCmd) Run(g *Globals) error {
	if _, err := c.OutputFlags.format(); err != nil {
		return err
	}
	dir, err := g.exclusionsDir(c.RangesFlag)
	if err != nil {
		return err
	}
	snap, err := exclude.Current(dir)
	if err != nil {
		return withHint(err, "run c2sweep exclusions update again, or remove "+dir+" to use the built-in ranges")
	}
	if w := snap.Stale(time.Now()); w != nil {
		fmt.Fprintf(g.stderr, "warning: %s\n", textsafe.Terminal(w.Error()))
	}
	set := exclude.NewSet(snap.Lists, nil)
	var rows []checked
	var bad []error
	for _, a := range c.IPs {
		ip, err := netip.ParseAddr(strings.TrimSpace(a))
		if err != nil || ip.Zone() != "" {
			bad = append(bad, &badIPError{a})
			continue
		}
		row := checked{IP: ip.String()}
		if r := set.Lookup(ip); r != nil {
			row = checked{IP: row.IP, Excluded: true, Prefix: r.Prefix.String(), Operator: r.Operator, List: r.Name, Source: r.Source, Date: r.Date}
		}
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		if err := writeList(g, c.OutputFlags, ZoneFlag{}, list[checked]{cols: checkColumns, items: rows}); err != nil {
			return err
		}
	}
	if len(bad) == 0 {
		return nil
	}
	// One line per bad argument, one hint under them.
	for _, e := range bad {
		printError(g.stderr, e)
	}
	printHint(g.stderr, "give IPv4 (203.0.113.9) or IPv6 (2001:db8::9) addresses, without a prefix length or port")
	if len(rows) == 0 {
		return outcomeError{pipeline.OutcomeFailed} // exit 3, already said
	}
	return outcomeError{pipeline.OutcomePartial}
}

// ExclusionsUpdateCmd refreshes the ranges.
type ExclusionsUpdateCmd struct {
	RangesFlag `embed:""`
	Base       string `help:"Fetch every list from this https root instead of the operators' hosts: the lab (/HOST/PATH under it)." env:"C2SWEEP_RANGES_BASE" placeholder:"URL"`
}

func (c *ExclusionsUpdateCmd) Help() string {
	return `Fetches each operator's published list (Cloudflare, Fastly, Amazon
CloudFront, Akamai, Azure Front Door, Google) over https and writes them to
--dir, each file replaced whole, with the date of the update. A list that
cannot be fetched or parsed, or comes back empty or less than half its
current size, is not replaced: the current one is kept and named.

Exit codes: 0 every list refreshed, 2 some kept, 3 none refreshed.

Examples:
  c2sweep exclusions update
  c2sweep exclusions update --dir /var/lib/c2sweep/ranges
  c2sweep exclusions update --base https://127.0.0.1:8443   # the lab`
}

// rangesBodyLimit caps one operator's file: Azure's service tags, the
// largest, are a few MB.
const rangesBodyLimit = 64 << 20

func (c *ExclusionsUpdateCmd) Run(g *Globals) error {
	if c.Base != "" {
		if u, err := url.Parse(c.Base); err != nil || u.Scheme != "https" || u.Host == "" {
			return withHint(fmt.Errorf("--base (or C2SWEEP_RANGES_BASE) %q is not an https URL", c.Base),
				"give the lab's address, e.g. https://127.0.0.1:8443, or leave it unset for the operators' own hosts")
		}
	}
	dir, err := g.exclusionsDir(c.RangesFlag)
	if err != nil {
		return err
	}
	cur, err := exclude.Current(dir)
	if err != nil {
		return withHint(err, "remove "+dir+" to start again from the built-in ranges")
	}
	next, outs := exclude.Update(g.ctx, cur, exclude.Upstreams, c.Base, rangesFetch(newRangesClient()), time.Now())
	refreshed := 0
	for _, o := range outs {
		if o.Err == nil {
			refreshed++
			fmt.Fprintf(g.stdout, "%-18s %5d prefixes (was %d)\n", o.Name, len(o.List.Prefixes), o.Old)
		} else {
			// The reason may quote an operator's answer.
			fmt.Fprintf(g.stdout, "%-18s kept the current list (%d prefixes): %s\n", o.Name, o.Old, textsafe.Terminal(o.Err.Error()))
		}
	}
	if g.ctx.Err() != nil {
		return g.ctx.Err()
	}
	if refreshed == 0 {
		return withHint(fmt.Errorf("no list could be refreshed; %s is unchanged", dir),
			"check the network (and --base, C2SWEEP_RANGES_BASE), then run it again")
	}
	if err := next.WriteDir(dir); err != nil {
		return withHint(fmt.Errorf("writing the ranges: %w", err), "give --dir a directory this user can write")
	}
	fmt.Fprintf(g.stdout, "ranges: %s (built %s)\n", dir, next.Built.Format(time.DateOnly))
	if refreshed < len(outs) {
		printError(g.stderr, withHint(fmt.Errorf("%d of %d lists kept their current version", len(outs)-refreshed, len(outs)),
			"the others were refreshed; run it again later for the rest"))
		return outcomeError{pipeline.OutcomePartial}
	}
	return nil
}

// newRangesClient is the client of an update: https only, redirects too,
// trusting the system's CAs (SSL_CERT_FILE for the lab or a proxy).
func newRangesClient() *http.Client {
	return &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s refused: https only", req.URL.Redacted())
			}
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

// rangesFetch gets one file through the retry helper: a few attempts,
// each bounded in time, the body capped.
func rangesFetch(hc *http.Client) exclude.Fetch {
	p := retry.Policy{Attempts: 3, Base: 500 * time.Millisecond, Max: 5 * time.Second, PerAttempt: 60 * time.Second}
	return func(ctx context.Context, url string) ([]byte, error) {
		if !strings.HasPrefix(url, "https://") {
			return nil, fmt.Errorf("%s: https only", url)
		}
		var body []byte
		err := retry.Do(ctx, p, func(ctx context.Context, _ int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return retry.Permanent(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
				err := fmt.Errorf("%s: %s", url, resp.Status)
				if w := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); w > 0 {
					return retry.After(w, err)
				}
				return err
			default:
				return retry.Permanent(fmt.Errorf("%s: %s", url, resp.Status))
			}
			body, err = retry.ReadAll(resp.Body, rangesBodyLimit)
			if errors.Is(err, retry.ErrBodyTooLarge) {
				return retry.Permanent(fmt.Errorf("%s: %w", url, err))
			}
			if err != nil {
				return fmt.Errorf("%s: %w", url, err) // cut off: try again
			}
			return nil
		})
		return body, err
	}
}
