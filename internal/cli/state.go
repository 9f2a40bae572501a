package cli

import (
	"fmt"
	"maps"
	"net/netip"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/indicator"
	"c2sweep/internal/report"
	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
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
	Since  string   `env:"-" help:"Hits of every run whose events are at or after this age or date (e.g. 7d, 2026-11-01)." placeholder:"AGE|DATE"`
	All    bool     `env:"-" help:"Every hit remembered, of every run (the whole lookback)."`
	New    bool     `env:"-" help:"Only hits first reported by the latest run (the default without --since, --all or --run)."`
	RunID  int64    `env:"-" name:"run" help:"Only hits first reported by this run (see 'c2sweep runs'), e.g. one that was interrupted." placeholder:"ID"`
	Hunt   string   `env:"-" help:"Only hits attributed to this hunt." placeholder:"NAME"`
	Device string   `env:"-" help:"Only this device: its full or short name (ws01 for ws01.contoso.local)." placeholder:"NAME"`
	Target []string `env:"-" help:"Only hits of this sweep target (repeatable; the config's targets: names, 'default' without them)." placeholder:"NAME"`
	Limit  int      `env:"-" help:"At most this many events (0: all)." default:"0"`
	Events bool     `env:"-" help:"One row per connection event instead of one per device and C2 server."`
	Status string   `env:"-" help:"Only hits of this triage status: new, investigating, benign, malicious, closed or suppressed (see 'c2sweep triage')." placeholder:"STATUS"`
	Pivot  bool     `env:"-" help:"Print, for each device and C2 server, the KQL to run next: the device's events 1 h either side of the first contact, and every device that talked to the server."`

	OutputFlags `embed:""`
	ZoneFlag    `embed:""`
}

func (c *HitsCmd) Help() string {
	return `Without --since, --all or --run, hits lists the new hits of the latest run,
however old their events: right after 'c2sweep run', these are what it found.
A row is one device's contact with one C2 server in one sweep target (every
event of the pair rolled up); --events lists the events themselves. The
TARGET column shows once a hit is not the default target's. --json and CSV join the
server's context from the sources and the Shodan and Defender links.

Examples:
  c2sweep hits
  c2sweep hits --all --device ws01
  c2sweep hits --since 30d --hunt CobaltStrikeJARM
  c2sweep hits --new --format csv > new-hits.csv
  c2sweep hits --run 12 --json
  c2sweep hits --all --status investigating
  c2sweep hits --all --target contoso --target agency`
}

func (c *HitsCmd) Run(g *Globals) error {
	switch {
	case c.Pivot && c.Events:
		return fmt.Errorf("--pivot works on the rolled-up hits: leave out --events")
	case c.New && c.RunID != 0:
		return fmt.Errorf("--new and --run: choose one")
	case c.All && (c.New || c.RunID != 0 || c.Since != ""):
		return fmt.Errorf("--all lists every hit: leave out --new, --run and --since")
	}
	if c.Status != "" && !slices.Contains(report.Statuses, c.Status) {
		return unknownName("--status", "status", c.Status, report.Statuses, "the statuses are "+strings.Join(report.Statuses, ", "))
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
	n := &names{st: st, g: g}
	f := store.HitFilter{Since: since, Device: c.Device, Targets: c.Target, Limit: c.Limit}
	if c.Hunt != "" {
		if f.Hunt, err = n.hunt("--hunt", c.Hunt); err != nil {
			return err
		}
	}
	if c.Device != "" {
		if err := n.device("--device", c.Device); err != nil {
			return err
		}
	}
	var note string
	latest := c.New || (c.RunID == 0 && c.Since == "" && !c.All)
	if latest {
		runs, err := st.Runs(g.ctx, 1)
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			// An empty list, not an error: a script reads [] as "none yet".
			fmt.Fprintln(g.stderr, "no run recorded yet")
			printHint(g.stderr, "c2sweep run")
			if !c.Events {
				return writeList(g, c.OutputFlags, c.ZoneFlag, list[report.Hit]{cols: rolledColumns})
			}
			return writeList(g, c.OutputFlags, c.ZoneFlag, list[store.StoredHit]{cols: hitColumns})
		}
		c.RunID = runs[0].ID
		note = fmt.Sprintf("new hits of run %d, the latest (started %s); --all for every hit, --since 7d for a week of events",
			c.RunID, runs[0].Started.In(c.location()).Format(toMinute+" MST"))
	} else if c.RunID != 0 {
		if err := n.run("--run", c.RunID); err != nil {
			return err
		}
	}
	f.NewInRun = c.RunID
	hits, err := st.Hits(g.ctx, f)
	if err != nil {
		return err
	}
	var what []string
	if f.Hunt != "" {
		what = append(what, "of hunt "+f.Hunt)
	}
	if c.Device != "" {
		what = append(what, "on device "+c.Device)
	}
	if len(c.Target) > 0 {
		// An unknown target is no error: a tenant may simply have no hits.
		what = append(what, "for "+targetWords(c.Target))
	}
	if c.Status != "" {
		what = append(what, "of status "+c.Status)
	}
	if !since.IsZero() {
		what = append(what, "with events since "+since.In(c.location()).Format(toMinute+" MST"))
	}
	empty := strings.Join(append([]string{"no hits"}, what...), " ")
	if c.RunID != 0 {
		empty = strings.Join(append([]string{"no new hits in run " + strconv.FormatInt(c.RunID, 10)}, what...), " ")
	}
	if !c.Events {
		inds, err := st.Indicators(g.ctx, store.IndicatorFilter{})
		if err != nil {
			return err
		}
		rows := report.Hits(report.Build(report.Input{Hits: hits, Indicators: inds, Family: report.Family}))
		if c.Status != "" {
			rows = slices.DeleteFunc(rows, func(h report.Hit) bool { return h.Status != c.Status })
		}
		if c.Pivot {
			return writePivots(g, rows, empty)
		}
		if err := writeList(g, c.OutputFlags, c.ZoneFlag, list[report.Hit]{cols: rolledColumns, items: rows, empty: textsafe.Terminal(empty), note: note}); err != nil {
			return err
		}
		writeSuppressedCount(g, hits)
		return nil
	}
	if c.Status != "" {
		hits = slices.DeleteFunc(hits, func(h store.StoredHit) bool { return eventStatus(h) != c.Status })
	}
	if err := writeList(g, c.OutputFlags, c.ZoneFlag, list[store.StoredHit]{cols: hitColumns, items: hits, empty: textsafe.Terminal(empty), note: note}); err != nil {
		return err
	}
	writeSuppressedCount(g, hits)
	return nil
}

// writeSuppressedCount says under the list how many of its hits a
// suppression matched, by kind: they are listed but never alerted, and a
// reader must not miss that.
func writeSuppressedCount(g *Globals, hits []store.StoredHit) {
	byKind := map[string]int{}
	n := 0
	for _, h := range hits {
		if h.Suppressed == "" {
			continue
		}
		kind, _, _ := strings.Cut(h.Suppressed, " ") // "kind value: reason"
		byKind[kind]++
		n++
	}
	if n == 0 {
		return
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		parts = append(parts, fmt.Sprintf("%d %s", byKind[k], k))
	}
	fmt.Fprintf(g.stderr, "%d of these %d hits suppressed (%s): stored, never alerted\n", n, len(hits), strings.Join(parts, ", "))
}

func eventStatus(h store.StoredHit) string { return report.Status(h.Triage, h.Suppressed) }

// targetWords names targets in a message: "target contoso", "targets a, b".
func targetWords(ts []string) string {
	if len(ts) == 1 {
		return "target " + ts[0]
	}
	return "targets " + strings.Join(ts, ", ")
}

// notDefault says whether any of targets is not the default target: a
// table then shows its TARGET column (a single-target state stays quiet).
func notDefault(targets ...string) bool {
	for _, t := range targets {
		if t != "" && !strings.EqualFold(t, indicator.DefaultTarget) {
			return true
		}
	}
	return false
}

// hitColumns are the columns of a hit in tables and CSV; JSON has all its
// fields. A table keeps to what fits a terminal.
// The target is a table's first column, when shown, and CSV's last, so
// that scripts reading CSV by position keep working.
var hitColumns = []column[store.StoredHit]{
	{head: "TARGET", only: "table", cell: func(h store.StoredHit) any { return h.Target }, when: func(hs []store.StoredHit) bool {
		return slices.ContainsFunc(hs, func(h store.StoredHit) bool { return notDefault(h.Target) })
	}},
	{head: "TIME", csv: "timestamp", layout: toSecond, cell: func(h store.StoredHit) any { return h.Timestamp }},
	{head: "DEVICE", only: "table", cell: func(h store.StoredHit) any {
		if h.Device == "" {
			return h.Account // a sign-in without a device name
		}
		return h.Device
	}},
	{csv: "device", only: "csv", cell: func(h store.StoredHit) any { return h.Device }},
	{csv: "account", only: "csv", cell: func(h store.StoredHit) any { return h.Account }},
	{head: "IP", csv: "ip", cell: func(h store.StoredHit) any { return h.IP }},
	{head: "PORT", csv: "port", cell: func(h store.StoredHit) any { return h.Port }},
	{csv: "table", only: "csv", cell: func(h store.StoredHit) any { return h.Table }},
	{csv: "action", only: "csv", cell: func(h store.StoredHit) any { return h.Action }},
	{head: "PROCESS", csv: "process", cell: func(h store.StoredHit) any { return h.Process }},
	{csv: "command_line", only: "csv", cell: func(h store.StoredHit) any { return h.Command }},
	{head: "HUNTS", csv: "hunts", cell: func(h store.StoredHit) any { return nameList(h.Hunts) }},
	{csv: "report_id", only: "csv", cell: func(h store.StoredHit) any { return h.ReportID }},
	{head: "RUN", csv: "run", cell: func(h store.StoredHit) any { return h.RunID }},
	{csv: "first_reported", only: "csv", cell: func(h store.StoredHit) any { return h.FirstReported }},
	{head: "STATUS", csv: "status", cell: func(h store.StoredHit) any { return eventStatus(h) }},
	{head: "NOTE", only: "table", cell: func(h store.StoredHit) any {
		if h.Suppressed == "" {
			return ""
		}
		return "suppressed: " + h.Suppressed
	}},
	{csv: "suppressed", only: "csv", cell: func(h store.StoredHit) any { return h.Suppressed }},
	{csv: "target", only: "csv", cell: func(h store.StoredHit) any { return h.Target }},
}

// rolledColumns are the columns of a rolled-up hit. A table shortens the
// process and command line to fit a terminal; CSV has them whole, and
// the server's context.
var rolledColumns = []column[report.Hit]{
	{head: "TARGET", only: "table", cell: func(h report.Hit) any { return h.Target }, when: func(hs []report.Hit) bool {
		return slices.ContainsFunc(hs, func(h report.Hit) bool { return notDefault(h.Target) })
	}},
	{head: "DEVICE", csv: "device", cell: func(h report.Hit) any { return h.Device }},
	{csv: "device_id", only: "csv", cell: func(h report.Hit) any { return h.DeviceID }},
	{head: "USERS", csv: "users", cell: func(h report.Hit) any { return strings.Join(h.Users, ";") }},
	{head: "PROCESS", only: "table", cell: func(h report.Hit) any { return shorten(strings.Join(h.Processes, ","), 24) }},
	{head: "COMMAND LINE", only: "table", cell: func(h report.Hit) any { return firstCommand(h.Commands, 40) }},
	{csv: "processes", only: "csv", cell: func(h report.Hit) any { return strings.Join(h.Processes, ";") }},
	{csv: "command_lines", only: "csv", cell: func(h report.Hit) any { return strings.Join(h.Commands, "\n") }},
	{head: "C2", only: "table", cell: func(h report.Hit) any { return c2Cell(h) }},
	{csv: "ip", only: "csv", cell: func(h report.Hit) any { return h.IP }},
	{csv: "ports", only: "csv", cell: func(h report.Hit) any { return joinInts(h.Ports, ";") }},
	{head: "FAMILY", csv: "families", cell: func(h report.Hit) any { return strings.Join(h.Families, ";") }},
	{head: "HUNTS", csv: "hunts", cell: func(h report.Hit) any { return nameList(h.Hunts) }},
	{head: "FIRST", csv: "first_contact", layout: toMinute, cell: func(h report.Hit) any { return h.First }},
	{head: "LAST", csv: "last_contact", layout: toMinute, cell: func(h report.Hit) any { return h.Last }},
	{head: "EVENTS", csv: "events", cell: func(h report.Hit) any { return h.Events }},
	{head: "STATUS", csv: "status", cell: func(h report.Hit) any { return h.Status }},
	{csv: "suppressed", only: "csv", cell: func(h report.Hit) any { return h.Suppressed }},
	{csv: "hit_ids", only: "csv", cell: func(h report.Hit) any {
		s := make([]string, len(h.HitIDs))
		for i, id := range h.HitIDs {
			s[i] = strconv.FormatInt(id, 10)
		}
		return strings.Join(s, ";")
	}},
	{csv: "org", only: "csv", cell: func(h report.Hit) any { return h.Server.Org }},
	{csv: "asn", only: "csv", cell: func(h report.Hit) any { return h.Server.ASN }},
	{csv: "country", only: "csv", cell: func(h report.Hit) any { return h.Server.Country }},
	{csv: "product", only: "csv", cell: func(h report.Hit) any { return h.Server.Product }},
	{csv: "jarm", only: "csv", cell: func(h report.Hit) any { return h.Server.JARM }},
	{csv: "server_last_seen", only: "csv", cell: func(h report.Hit) any { return h.Server.LastSeen }},
	{csv: "sources", only: "csv", cell: func(h report.Hit) any { return strings.Join(h.Server.Sources, ";") }},
	{csv: "shodan_url", only: "csv", cell: func(h report.Hit) any { return h.Links.Shodan }},
	{csv: "defender_url", only: "csv", cell: func(h report.Hit) any { return h.Links.Defender }},
	{csv: "target", only: "csv", cell: func(h report.Hit) any { return h.Target }},
}

// writePivots prints the pivot queries of each rolled-up hit under a
// comment line naming it; the queries quote every value themselves.
func writePivots(g *Globals, rows []report.Hit, empty string) error {
	if len(rows) == 0 {
		fmt.Fprintln(g.stderr, textsafe.Terminal(empty))
		return nil
	}
	for i, h := range rows {
		if i > 0 {
			fmt.Fprintln(g.stdout)
		}
		head := fmt.Sprintf("// %s -> %s, first contact %s, %d events", h.Device, c2Cell(h), h.First.UTC().Format(time.RFC3339), h.Events)
		if notDefault(h.Target) {
			head += ", target " + h.Target // the tenant or workspace to run them in
		}
		fmt.Fprintf(g.stdout, "%s\n// the device 1 h either side of the first contact\n%s\n\n// every device that talked to %s\n%s\n",
			textsafe.Terminal(head), h.Pivot.Timeline, h.IP, h.Pivot.Devices)
	}
	return nil
}

// c2Cell is a server and its ports as a table shows them: 198.51.100.7:443.
func c2Cell(h report.Hit) string {
	if len(h.Ports) == 0 {
		return h.IP.String()
	}
	c := netip.AddrPortFrom(h.IP, uint16(h.Ports[0])).String()
	if len(h.Ports) > 1 {
		c += " (+" + strconv.Itoa(len(h.Ports)-1) + " ports)"
	}
	return c
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}

// firstCommand is the first command line, shortened, and how many more
// there are: the table's hint that --json has them all.
func firstCommand(s []string, n int) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return shorten(s[0], n)
	}
	return shorten(s[0], n) + " (+" + strconv.Itoa(len(s)-1) + ")"
}

// shorten cuts s to n characters for a terminal, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// RunsCmd lists recent runs.
type RunsCmd struct {
	Limit  int      `env:"-" help:"How many (0: all)." default:"20"`
	Target []string `env:"-" help:"Only runs that swept this sweep target (repeatable; runs from before targets swept 'default')." placeholder:"NAME"`

	OutputFlags `embed:""`
	ZoneFlag    `embed:""`
}

func (c *RunsCmd) Help() string {
	return `Examples:
  c2sweep runs
  c2sweep runs --limit 5 --json
  c2sweep runs --target contoso
  c2sweep runs --local

The TARGETS column names the sweep targets of each run, with the outcome of
each that did not end ok ("contoso, agency (failed)"); it shows once a run
swept a target other than the default one.`
}

func (c *RunsCmd) Run(g *Globals) error {
	st, err := g.openState(true)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.ListRuns(g.ctx, store.RunFilter{Targets: c.Target, Limit: c.Limit})
	if err != nil {
		return err
	}
	empty := "no runs yet\nhint: c2sweep run"
	if len(c.Target) > 0 {
		empty = "no runs of " + textsafe.Terminal(targetWords(c.Target))
	}
	return writeList(g, c.OutputFlags, c.ZoneFlag, list[store.Run]{cols: runColumns, items: runs, empty: empty})
}

var runColumns = []column[store.Run]{
	{head: "RUN", csv: "id", cell: func(r store.Run) any { return r.ID }},
	{head: "STARTED", csv: "started", layout: toMinute, cell: func(r store.Run) any { return r.Started }},
	{head: "TOOK", csv: "took", cell: func(r store.Run) any {
		if r.Finished.IsZero() {
			return "-"
		}
		return r.Finished.Sub(r.Started).Round(100 * time.Millisecond).String()
	}},
	{head: "COMMAND", csv: "command", cell: func(r store.Run) any { return r.Command }},
	{head: "OUTCOME", csv: "outcome", cell: func(r store.Run) any { return r.Outcome }},
	{head: "TARGETS", only: "table", cell: func(r store.Run) any { return runTargets(r, ", ") }, when: func(rs []store.Run) bool {
		return slices.ContainsFunc(rs, func(r store.Run) bool { return notDefault(r.TargetNames()...) })
	}},
	{head: "INDICATORS", csv: "indicators", cell: func(r store.Run) any { return r.Indicators }},
	{head: "HITS", csv: "hits", cell: func(r store.Run) any { return r.Hits }},
	{head: "NEW", csv: "new_hits", cell: func(r store.Run) any { return r.NewHits }},
	{head: "CREDITS", csv: "credits_used", cell: func(r store.Run) any { return r.CreditsUsed }},
	{head: "CALLS", csv: "calls", cell: func(r store.Run) any { return r.Calls }},
	{head: "ERRORS", csv: "errors", cell: func(r store.Run) any { return len(r.Errors) }},
	{head: "ERROR", only: "table", cell: func(r store.Run) any { return runError(r.Error) }},
	{csv: "error", only: "csv", cell: func(r store.Run) any { return r.Error }},
	{csv: "targets", only: "csv", cell: func(r store.Run) any { return runTargets(r, ";") }},
}

// runTargets names a run's sweep targets, each with its outcome unless
// it was ok: "contoso, agency (failed)"; "default" for a run recorded
// before targets.
func runTargets(r store.Run, sep string) string {
	if len(r.Targets) == 0 {
		return strings.Join(r.TargetNames(), sep)
	}
	parts := make([]string, len(r.Targets))
	for i, t := range r.Targets {
		parts[i] = t.Name
		if t.Outcome != store.OutcomeOK {
			parts[i] += " (" + t.Outcome + ")"
		}
	}
	return strings.Join(parts, sep)
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

// IndicatorsListCmd lists what is being swept and why: `c2sweep
// indicators` with or without its flags.
type IndicatorsListCmd struct {
	Hunt   string `env:"-" help:"Only indicators named by this hunt." placeholder:"NAME"`
	Active bool   `env:"-" help:"Only indicators not expired."`

	OutputFlags `embed:""`
	ZoneFlag    `embed:""`
}

func (c *IndicatorsListCmd) Help() string {
	return `JSON carries the Shodan context of each indicator.

Examples:
  c2sweep indicators --active
  c2sweep indicators --hunt CobaltStrikeJARM --json`
}

func (c *IndicatorsListCmd) Run(g *Globals) error {
	st, err := g.openState(true)
	if err != nil {
		return err
	}
	defer st.Close()
	hunt := c.Hunt
	if hunt != "" {
		if hunt, err = (&names{st: st, g: g}).hunt("--hunt", hunt); err != nil {
			return err
		}
	}
	inds, err := st.Indicators(g.ctx, store.IndicatorFilter{Hunt: hunt, Active: c.Active})
	if err != nil {
		return err
	}
	return writeList(g, c.OutputFlags, c.ZoneFlag, list[store.IndicatorRecord]{cols: indicatorColumns, items: inds, empty: "no indicators"})
}

var indicatorColumns = []column[store.IndicatorRecord]{
	{head: "IP", csv: "ip", cell: func(in store.IndicatorRecord) any { return in.IP }},
	{head: "PORTS", csv: "ports", cell: func(in store.IndicatorRecord) any {
		ports := make([]string, len(in.Ports))
		for i, p := range in.Ports {
			ports[i] = strconv.Itoa(p)
		}
		return strings.Join(ports, ",")
	}},
	{head: "HUNTS", csv: "hunts", cell: func(in store.IndicatorRecord) any { return nameList(in.Hunts) }},
	{head: "LAST SEEN BY SHODAN", csv: "last_seen", layout: toMinute, cell: func(in store.IndicatorRecord) any { return in.LastSeen }},
	{head: "LAST SWEPT", csv: "last_swept", layout: toMinute, cell: func(in store.IndicatorRecord) any { return in.LastSwept }},
	{head: "STATUS", csv: "status", cell: func(in store.IndicatorRecord) any {
		if in.Active() {
			return "active"
		}
		return "expired"
	}},
	{head: "EXPIRED", csv: "expired", layout: toMinute, cell: func(in store.IndicatorRecord) any { return in.Expired }},
}

// SuppressCmd marks something benign.
type SuppressCmd struct {
	Target string `env:"-" arg:"" optional:"" help:"IP address or CIDR." placeholder:"IP|CIDR"`
	Device string `env:"-" help:"Suppress a device by its full or short name (ws01 matches ws01.contoso.local)." placeholder:"NAME"`
	Hunt   string `env:"-" help:"Suppress a whole hunt." placeholder:"NAME"`
	Reason string `env:"-" help:"Why it is benign (required)." required:""`
	Until  string `env:"-" help:"Expire the suppression at this date or after this long (e.g. 2026-12-31, 30d)." placeholder:"DATE|AGE"`
	By     string `env:"-" help:"Who decided (default: the current user)."`
	Unseen bool   `env:"-" help:"Accept a device or hunt name the state has not seen yet (no typo check)."`
}

func (c *SuppressCmd) Help() string {
	return `Suppressed hits are still stored and listed (marked), but not alerted.
The hits already recorded that it matches are marked too.

Examples:
  c2sweep suppress 203.0.113.7 --reason "our red team" --until 2026-12-31
  c2sweep suppress 198.51.100.0/24 --reason "sinkhole"
  c2sweep suppress --device LAB-SANDBOX-01 --reason "detonation box" --unseen`
}

func kindValue(target, device, hunt string) (string, string, error) {
	n := 0
	kind, value := "", ""
	if target != "" {
		n++
		kind, value = "ip", target
		switch {
		case strings.Contains(target, "/"):
			kind = "cidr"
		case strings.Contains(strings.TrimSpace(target), " "):
			kind = store.SuppressPair // "DEVICE IP", as a benign triage suppresses
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
	if !c.Unseen {
		n := &names{st: st, g: g, more: "; --unseen suppresses a name not seen yet"}
		switch kind {
		case store.SuppressDevice:
			err = n.device("--device", value)
		case store.SuppressHunt:
			sp.Value, err = n.hunt("--hunt", value)
		}
		if err != nil {
			return err
		}
	}
	marked, err := st.Suppress(g.ctx, sp)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "suppressed %s %s: %s\n", kind, textsafe.Terminal(sp.Value), textsafe.Terminal(c.Reason))
	fmt.Fprintf(g.stdout, "hits already recorded, now marked: %d\n", marked)
	return nil
}

// UnsuppressCmd removes a suppression.
type UnsuppressCmd struct {
	Target string `env:"-" arg:"" optional:"" help:"IP address or CIDR." placeholder:"IP|CIDR"`
	Device string `env:"-" help:"A suppressed device." placeholder:"NAME"`
	Hunt   string `env:"-" help:"A suppressed hunt." placeholder:"NAME"`
	List   bool   `env:"-" help:"List the suppressions instead (with --format, --json, --local)."`

	OutputFlags `embed:""`
	ZoneFlag    `embed:""`
}

func (c *UnsuppressCmd) Help() string {
	return `The hits it marked that no other suppression matches are unmarked;
they are not alerted again (they are not new).

Examples:
  c2sweep unsuppress --list
  c2sweep unsuppress 203.0.113.7
  c2sweep unsuppress --device LAB-SANDBOX-01
  c2sweep unsuppress "ws01.contoso.local 203.0.113.7"   # a pair triage benign suppressed`
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
		return writeList(g, c.OutputFlags, c.ZoneFlag, list[store.Suppression]{cols: suppressionColumns, items: sps, empty: "no suppressions"})
	}
	kind, value, err := kindValue(c.Target, c.Device, c.Hunt)
	if err != nil {
		return err
	}
	unmarked, err := st.Unsuppress(g.ctx, kind, value)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "unsuppressed %s %s\n", kind, textsafe.Terminal(value))
	fmt.Fprintf(g.stdout, "hits unmarked (not alerted again: they are not new): %d\n", unmarked)
	return nil
}

var suppressionColumns = []column[store.Suppression]{
	{head: "KIND", csv: "kind", cell: func(sp store.Suppression) any { return sp.Kind }},
	{head: "VALUE", csv: "value", cell: func(sp store.Suppression) any { return sp.Value }},
	{head: "REASON", csv: "reason", cell: func(sp store.Suppression) any { return sp.Reason }},
	{head: "BY", csv: "by", cell: func(sp store.Suppression) any { return sp.By }},
	{head: "CREATED", csv: "created", layout: toMinute, cell: func(sp store.Suppression) any { return sp.Created }},
	{head: "UNTIL", csv: "until", layout: toMinute, cell: func(sp store.Suppression) any {
		if sp.Until == nil {
			return time.Time{}
		}
		return *sp.Until
	}},
}
