package cli

import (
	"fmt"
	"net/netip"
	"os/user"
	"strconv"
	"strings"

	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
)

// TriageCmd gives recorded hits a status, and keeps every change.
type TriageCmd struct {
	Target  string `env:"-" arg:"" help:"A C2 IP (all its hits), a device (full or short name: all its hits) or a hit id." placeholder:"IP|DEVICE|HIT-ID"`
	Status  string `env:"-" help:"investigating, benign (also suppresses the device's future hits of that C2), malicious or closed." placeholder:"STATUS"`
	Note    string `env:"-" help:"What you found: kept with the change."`
	History bool   `env:"-" help:"List the target's triage changes, oldest first (with --format, --json, --local), instead of changing anything."`

	OutputFlags `embed:""`
	ZoneFlag    `embed:""`
}

func (c *TriageCmd) Help() string {
	return `The status shows in the STATUS column of 'c2sweep hits', in hits.json and
the report; 'c2sweep hits --status S' lists the hits of one status. A
benign verdict also suppresses each (device, C2) pair it marks, as
'c2sweep suppress' does: the pair's next hits are stored, marked, and not
alerted ('c2sweep unsuppress --list' shows them).

Examples:
  c2sweep triage 203.0.113.7 --status investigating --note "beacon every 60 s, asked the desk"
  c2sweep triage ws01 --status malicious --note "encoded powershell, isolated"
  c2sweep triage 42 --status benign --note "our red team's listener"
  c2sweep triage 203.0.113.7 --history`
}

// triageTarget tells what a target names: an IP, a hit id (digits) or
// else a device.
func triageTarget(t string) (string, string) {
	t = strings.TrimSpace(t)
	if ip, err := netip.ParseAddr(t); err == nil {
		return store.TriageIP, ip.Unmap().String()
	}
	if _, err := strconv.ParseInt(t, 10, 64); err == nil {
		return store.TriageHit, t
	}
	return store.TriageDevice, t
}

func (c *TriageCmd) Run(g *Globals) error {
	switch {
	case c.History && (c.Status != "" || c.Note != ""):
		return fmt.Errorf("--history lists the changes: leave out --status and --note")
	case !c.History && c.Status == "":
		return withHint(fmt.Errorf("triage %s: --status is missing", textsafe.Terminal(c.Target)),
			"--status "+strings.Join(store.TriageStatuses, "|")+", or --history to see the changes")
	case !c.History:
		if err := c.checkStatus(); err != nil {
			return err
		}
	}
	kind, value := triageTarget(c.Target)
	st, err := g.openState(true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkTriageTarget(g, st, kind, value); err != nil {
		return err
	}
	if c.History {
		h, err := st.TriageHistory(g.ctx, kind, value)
		if err != nil {
			return err
		}
		return writeList(g, c.OutputFlags, c.ZoneFlag, list[store.TriageChange]{cols: triageColumns, items: h,
			empty: "no triage of " + kind + " " + textsafe.Terminal(value) + " yet"})
	}
	by := ""
	if u, err := user.Current(); err == nil {
		by = u.Username
	}
	res, err := st.Triage(g.ctx, kind, value, c.Status, c.Note, by)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "triaged %s %s as %s: %d hits marked\n", kind, textsafe.Terminal(value), c.Status, res.Marked)
	if len(res.Pairs) > 0 {
		fmt.Fprintf(g.stdout, "suppressed %d device and C2 pairs: their future hits are stored, not alerted (recorded hits newly marked: %d)\n",
			len(res.Pairs), res.SuppressedHits)
		for _, p := range res.Pairs {
			fmt.Fprintf(g.stdout, "  pair %s\n", textsafe.Terminal(p))
		}
	}
	return nil
}

func (c *TriageCmd) checkStatus() error {
	for _, s := range store.TriageStatuses {
		if s == c.Status {
			return nil
		}
	}
	return unknownName("--status", "status", c.Status, store.TriageStatuses, "the statuses are "+strings.Join(store.TriageStatuses, ", "))
}

// checkTriageTarget refuses a target no recorded hit has, with the nearest
// name the state knows.
func checkTriageTarget(g *Globals, st *store.Store, kind, value string) error {
	switch kind {
	case store.TriageDevice:
		return (&names{st: st, g: g}).device("triage", value)
	case store.TriageIP:
		ips, err := st.HitIPs(g.ctx)
		if err != nil {
			return err
		}
		for _, ip := range ips {
			if ip == value {
				return nil
			}
		}
		return unknownName("triage", "hit with C2 IP", value, ips, "'c2sweep hits --all' lists the recorded hits")
	}
	return nil // a hit id: the store says when there is none
}

var triageColumns = []column[store.TriageChange]{
	{head: "TIME", csv: "at", layout: toSecond, cell: func(c store.TriageChange) any { return c.At }},
	{head: "STATUS", csv: "status", cell: func(c store.TriageChange) any { return c.Status }},
	{head: "HITS", csv: "hits", cell: func(c store.TriageChange) any { return c.Hits }},
	{head: "TARGET", csv: "target", cell: func(c store.TriageChange) any { return c.Target }},
	{head: "NOTE", csv: "note", cell: func(c store.TriageChange) any { return c.Note }},
}
