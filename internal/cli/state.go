package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/store"
)

// openState opens the state database for a command other than a sweep.
// Read-only commands want it to exist already; a mistyped --state should
// not create an empty one.
func (g *Globals) openState(mustExist bool) (*store.Store, error) {
	var cfg *config.Config
	if g.Config != "" {
		var err error
		if cfg, err = g.loadConfig(); err != nil {
			return nil, err
		}
	}
	path, err := g.statePath(cfg)
	if err != nil {
		return nil, err
	}
	return store.Open(g.ctx, path, store.Options{MustExist: mustExist})
}

// whenFlag reads a date, or a duration counted from now: back for --since
// (dir -1), ahead for --until (dir +1). "" is the zero time.
func whenFlag(s string, dir time.Duration) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := config.ParseDuration(s); err == nil {
		return time.Now().Add(dir * d.Std()).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (7d, 36h) nor a date (2026-11-01)", s)
}

// HitsCmd lists remembered hits.
type HitsCmd struct {
	Since  string `env:"-" help:"Only events within this age or since this date (default 7d; none with --new or --run)." placeholder:"AGE|DATE"`
	Hunt   string `env:"-" help:"Only hits attributed to this hunt." placeholder:"NAME"`
	Device string `env:"-" help:"Only this device." placeholder:"NAME"`
	New    bool   `env:"-" help:"Only hits first reported by the latest run."`
	RunID  int64  `env:"-" name:"run" help:"Only hits first reported by this run (see 'c2sweep runs'), e.g. one that was interrupted." placeholder:"ID"`
	Format string `env:"-" help:"table, json or csv." default:"table" enum:"table,json,csv"`
	Limit  int    `env:"-" help:"At most this many (0: all)." default:"0"`
}

func (c *HitsCmd) Help() string {
	return `Examples:
  c2sweep hits
  c2sweep hits --since 30d --hunt CobaltStrikeJARM
  c2sweep hits --new --format csv > new-hits.csv
  c2sweep hits --run 12`
}

func (c *HitsCmd) Run(g *Globals) error {
	if c.New && c.RunID != 0 {
		return fmt.Errorf("--new and --run: choose one")
	}
	if c.Since == "" && !c.New && c.RunID == 0 {
		c.Since = "7d"
	}
	since, err := whenFlag(c.Since, -1)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	st, err := g.openState(true)
	if err != nil {
		return err
	}
	defer st.Close()
	f := store.HitFilter{Since: since, Hunt: c.Hunt, Device: c.Device, Limit: c.Limit}
	if c.New {
		runs, err := st.Runs(g.ctx, 1)
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return withHint(fmt.Errorf("no run recorded yet"), "c2sweep run")
		}
		c.RunID = runs[0].ID
	}
	f.NewInRun = c.RunID
	hits, err := st.Hits(g.ctx, f)
	if err != nil {
		return err
	}
	switch c.Format {
	case "json":
		return writeJSON(g.stdout, hits)
	case "csv":
		w := csv.NewWriter(g.stdout)
		w.Write([]string{"timestamp", "device", "account", "ip", "port", "table", "action", "process", "command_line", "hunts", "report_id", "run", "first_reported", "suppressed"})
		for _, h := range hits {
			w.Write([]string{h.Timestamp.Format(time.RFC3339Nano), h.Device, h.Account, h.IP.String(), strconv.Itoa(h.Port),
				h.Table, h.Action, h.Process, h.Command, strings.Join(h.Hunts, ";"), h.ReportID, strconv.FormatInt(h.RunID, 10),
				h.FirstReported.Format(time.RFC3339), h.Suppressed})
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tDEVICE\tIP\tPORT\tPROCESS\tHUNTS\tRUN\tNOTE")
	for _, h := range hits {
		who := h.Device
		if who == "" {
			who = h.Account
		}
		note := ""
		if h.Suppressed != "" {
			note = "suppressed: " + h.Suppressed
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", h.Timestamp.Format("2006-01-02 15:04:05"), who, h.IP, h.Port,
			h.Process, strings.Join(h.Hunts, ","), h.RunID, note)
	}
	tw.Flush()
	switch {
	case len(hits) > 0:
	case c.RunID != 0:
		fmt.Fprintf(g.stderr, "no new hits in run %d\n", c.RunID)
	default:
		fmt.Fprintf(g.stderr, "no hits since %s\n", since.Format("2006-01-02 15:04"))
	}
	return nil
}

// RunsCmd lists recent runs.
type RunsCmd struct {
	Limit int  `help:"How many." default:"20"`
	JSON  bool `help:"Print as JSON."`
}

func (c *RunsCmd) Help() string {
	return `Examples:
  c2sweep runs
  c2sweep runs --limit 5 --json`
}

func (c *RunsCmd) Run(g *Globals) error {
	st, err := g.openState(true)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(g.ctx, c.Limit)
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(g.stdout, runs)
	}
	tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tTOOK\tCOMMAND\tOUTCOME\tINDICATORS\tHITS\tNEW\tCREDITS\tCALLS\tERRORS\tERROR")
	for _, r := range runs {
		took := "-"
		if !r.Finished.IsZero() {
			took = r.Finished.Sub(r.Started).Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Started.Local().Format("2006-01-02 15:04"), took,
			r.Command, r.Outcome, r.Indicators, r.Hits, r.NewHits, r.CreditsUsed, r.Calls, len(r.Errors), runError(r.Error))
	}
	return tw.Flush()
}

// runError is a run's failure reason in one table cell: its first line,
// cut at 100 characters.
func runError(e string) string {
	e, _, _ = strings.Cut(e, "\n")
	if r := []rune(e); len(r) > 100 {
		e = string(r[:99]) + "…"
	}
	if e == "" {
		return "-"
	}
	return e
}

// IndicatorsCmd lists what is being swept and why.
type IndicatorsCmd struct {
	Hunt   string `env:"-" help:"Only indicators named by this hunt." placeholder:"NAME"`
	Active bool   `env:"-" help:"Only indicators not expired."`
	JSON   bool   `env:"-" help:"Print as JSON (with the Shodan context)."`
}

func (c *IndicatorsCmd) Help() string {
	return `Examples:
  c2sweep indicators --active
  c2sweep indicators --hunt CobaltStrikeJARM --json`
}

func (c *IndicatorsCmd) Run(g *Globals) error {
	st, err := g.openState(true)
	if err != nil {
		return err
	}
	defer st.Close()
	inds, err := st.Indicators(g.ctx, store.IndicatorFilter{Hunt: c.Hunt, Active: c.Active})
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(g.stdout, inds)
	}
	tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\tPORTS\tHUNTS\tLAST SEEN (SHODAN)\tLAST SWEPT\tSTATUS")
	for _, in := range inds {
		status := "active"
		if !in.Active() {
			status = "expired " + in.Expired.Format("2006-01-02")
		}
		swept := "never"
		if !in.LastSwept.IsZero() {
			swept = in.LastSwept.Format("2006-01-02 15:04")
		}
		var ports []string
		for _, p := range in.Ports {
			ports = append(ports, strconv.Itoa(p))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.IP, strings.Join(ports, ","), strings.Join(in.Hunts, ","),
			in.LastSeen.Format("2006-01-02 15:04"), swept, status)
	}
	return tw.Flush()
}

// SuppressCmd marks something benign.
type SuppressCmd struct {
	Target string `env:"-" arg:"" optional:"" help:"IP address or CIDR." placeholder:"IP|CIDR"`
	Device string `env:"-" help:"Suppress a device by name." placeholder:"NAME"`
	Hunt   string `env:"-" help:"Suppress a whole hunt." placeholder:"NAME"`
	Reason string `env:"-" help:"Why it is benign (required)." required:""`
	Until  string `env:"-" help:"Expire the suppression at this date or after this long (e.g. 2026-12-31, 30d)." placeholder:"DATE|AGE"`
	By     string `env:"-" help:"Who decided (default: the current user)."`
}

func (c *SuppressCmd) Help() string {
	return `Suppressed hits are still stored and listed (marked), but not alerted.

Examples:
  c2sweep suppress 203.0.113.7 --reason "our red team" --until 2026-12-31
  c2sweep suppress 198.51.100.0/24 --reason "sinkhole"
  c2sweep suppress --device LAB-SANDBOX-01 --reason "detonation box"`
}

func kindValue(target, device, hunt string) (string, string, error) {
	n := 0
	kind, value := "", ""
	if target != "" {
		n++
		kind, value = "ip", target
		if strings.Contains(target, "/") {
			kind = "cidr"
		}
	}
	if device != "" {
		n++
		kind, value = "device", device
	}
	if hunt != "" {
		n++
		kind, value = "hunt", hunt
	}
	if n != 1 {
		return "", "", fmt.Errorf("name exactly one of IP|CIDR, --device or --hunt")
	}
	return kind, value, nil
}

func (c *SuppressCmd) Run(g *Globals) error {
	kind, value, err := kindValue(c.Target, c.Device, c.Hunt)
	if err != nil {
		return err
	}
	sp := store.Suppression{Kind: kind, Value: value, Reason: c.Reason, By: c.By, Created: time.Now().UTC()}
	if sp.By == "" {
		if u, err := user.Current(); err == nil {
			sp.By = u.Username
		}
	}
	if c.Until != "" {
		t, err := whenFlag(c.Until, +1)
		if err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		sp.Until = &t
	}
	st, err := g.openState(false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Suppress(g.ctx, sp); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "suppressed %s %s: %s\n", kind, value, c.Reason)
	return nil
}

// UnsuppressCmd removes a suppression.
type UnsuppressCmd struct {
	Target string `env:"-" arg:"" optional:"" help:"IP address or CIDR." placeholder:"IP|CIDR"`
	Device string `env:"-" help:"A suppressed device." placeholder:"NAME"`
	Hunt   string `env:"-" help:"A suppressed hunt." placeholder:"NAME"`
	List   bool   `env:"-" help:"List the suppressions instead."`
}

func (c *UnsuppressCmd) Help() string {
	return `Examples:
  c2sweep unsuppress --list
  c2sweep unsuppress 203.0.113.7
  c2sweep unsuppress --device LAB-SANDBOX-01`
}

func (c *UnsuppressCmd) Run(g *Globals) error {
	st, err := g.openState(false)
	if err != nil {
		return err
	}
	defer st.Close()
	if c.List {
		sps, err := st.Suppressions(g.ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tVALUE\tREASON\tBY\tUNTIL")
		for _, sp := range sps {
			until := "-"
			if sp.Until != nil {
				until = sp.Until.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sp.Kind, sp.Value, sp.Reason, sp.By, until)
		}
		return tw.Flush()
	}
	kind, value, err := kindValue(c.Target, c.Device, c.Hunt)
	if err != nil {
		return err
	}
	if err := st.Unsuppress(g.ctx, kind, value); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "unsuppressed %s %s\n", kind, value)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
