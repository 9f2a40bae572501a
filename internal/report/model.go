package report

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/kql"
	"c2sweep/internal/store"
)

// Input is what a report is built from: read from the state by the caller
// (`c2sweep report`, or the run that writes report.html into its
// directory), so that building and rendering stay pure.
type Input struct {
	Title     string    // "" gives "c2sweep report"
	Scope     string    // what the hits are, e.g. "new hits of run 12"
	Generated time.Time // when the report was made
	Hits      []store.StoredHit
	Runs      []store.Run // the runs the report covers, any order
	// Indicators give the C2 servers' source details; only those of the
	// hits' IPs are used.
	Indicators   []store.IndicatorRecord
	Suppressions []store.Suppression // the suppressions in force
	Excluded     []Exclusion         // what a run left out before sweeping, when known
	// Family names the framework a hunt looks for ("Cobalt Strike"); nil
	// or "" leaves it to the servers' product banners.
	Family func(hunt string) string
}

// Exclusion is one kind of thing left out, and why.
type Exclusion struct {
	What  string `json:"what"` // "banners older than the hunt's max age"
	Count int    `json:"count"`
	Why   string `json:"why,omitempty"`
}

// Model is the neutral content of a report: everything the template shows,
// already decided; the template only lays it out.
type Model struct {
	Title        string
	Scope        string
	Generated    time.Time
	Verdict      Verdict
	Rows         []Row
	Timeline     Timeline
	Hunts        []HuntResult
	Excluded     []Exclusion
	Suppressed   []SuppressedGroup
	Suppressions []store.Suppression
	Failures     []Failure
	Runs         []store.Run
	// ShowTarget: a row's sweep target is shown, because some row is not
	// the default target's (a single-target report stays as it was).
	ShowTarget bool
}

// Verdict is the first thing a reader sees.
type Verdict struct {
	Pairs    int // live rolled-up hits (device x C2), suppressed ones left out
	Events   int // their events
	Devices  []string
	Servers  []string
	Families []string
	Next     []string // what to do next, most urgent first
	Complete bool     // no run in scope failed or was cut short
}

// Row is a rolled-up hit as the report shows it.
type Row struct {
	Rolled
	Families    []string
	Server      Server
	Commands    []Clipped // at most maxCommands, each clipped
	MoreCmds    int       // distinct command lines not shown
	Status      string    // the roll-up's triage status (Rolled.Status)
	ShodanURL   string    // https, built from a valid IP
	DefenderURL string    // https, only when the device id is a Defender id
	Anchor      string    // id of the row, for the timeline's links
	Pivot       kql.Pivot // the queries a hunter runs next
	ShowPivot   bool      // the page shows Pivot: the first maxPivots rows only, to stay small
}

// Server is what the sources said about a C2 server.
type Server struct {
	Org, ASN, Country, Product, JARM string
	Ports                            []int
	LastSeen                         time.Time
	Sources                          []string
}

// Clipped is a long text cut for the page; Cut says how many characters
// were left out (the whole text is in `hits --json`).
type Clipped struct {
	Text string
	Cut  int
}

// HuntResult is one hunt over the runs in scope.
type HuntResult struct {
	Name       string
	Family     string
	Indicators int
	Hits       int
	NewHits    int
	Credits    int
	Pairs      int // rolled-up rows of the report attributed to the hunt
	Errors     []string
}

// SuppressedGroup counts the events of the report kept but not alerted
// for one reason.
type SuppressedGroup struct {
	Reason string
	Events int
	Pairs  int
}

// Failure is something that went wrong in a run in scope.
type Failure struct {
	Run     int64
	Outcome string
	Message string
}

// Timeline counts contacts per day.
type Timeline struct {
	Days    []Day
	Max     int // the most events of one day
	Width   int // of the SVG, in user units
	Height  int
	Dropped int // days before the window shown
}

// Day is one bar of the timeline, laid out in the SVG's units.
type Day struct {
	Date            time.Time
	Events, Devices int
	X, Y, W, H      int
	Label           bool // the date is printed under the bar
}

const (
	maxCommands  = 2   // command lines shown per row
	maxPivots    = 100 // rows whose next queries the page shows; `hits --pivot` has them all
	maxCmdRunes  = 300 // characters per command line shown: 1,000 rows stay well under 2 MB
	maxDays      = 60  // timeline bars
	chartHeight  = 160
	barWidth     = 18
	barGap       = 6
	labelEvery   = 50 // user units between date labels at least
	chartPadding = 30
)

// defenderID is the form of a Microsoft Defender for Endpoint device id
// (DeviceId): a SHA-1 in hex. Only such ids go into a link.
var defenderID = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// ShodanHostURL is a server's Shodan host page; "" for an invalid IP.
func ShodanHostURL(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return "https://www.shodan.io/host/" + ip.Unmap().String()
}

// DefenderDeviceURL is a device's page in the Defender portal; "" unless
// id is a Defender device id.
func DefenderDeviceURL(id string) string {
	if !defenderID.MatchString(id) {
		return ""
	}
	return "https://security.microsoft.com/machines/" + strings.ToLower(id) + "/overview"
}

// Build decides what the report says.
func Build(in Input) Model {
	m := Model{Title: in.Title, Scope: in.Scope, Generated: in.Generated.UTC(), Excluded: in.Excluded, Suppressions: in.Suppressions}
	if m.Title == "" {
		m.Title = "c2sweep report"
	}
	family := func(h string) string {
		if in.Family == nil {
			return ""
		}
		return in.Family(h)
	}
	servers := map[netip.Addr]Server{}
	for _, rec := range in.Indicators {
		servers[rec.IP.Unmap()] = serverOf(rec)
	}

	suppressed := map[string]*SuppressedGroup{}
	huntPairs := map[string]int{}
	devices, ips, families := map[string]bool{}, map[netip.Addr]bool{}, map[string]bool{}
	for i, r := range Rollup(in.Hits) {
		row := Row{Rolled: r, Server: servers[r.IP], ShodanURL: ShodanHostURL(r.IP),
			DefenderURL: DefenderDeviceURL(r.DeviceID), Status: r.Status, Anchor: fmt.Sprintf("hit-%d", i+1),
			Pivot: kql.PivotFor(r.DeviceID, r.Device, r.IP, r.First), ShowPivot: i < maxPivots}
		for _, h := range r.Hunts {
			if f := family(h); f != "" {
				row.Families = append(row.Families, f)
			}
			huntPairs[h]++
		}
		if !strings.EqualFold(r.Target, indicator.DefaultTarget) {
			m.ShowTarget = true
		}
		if len(row.Families) == 0 && row.Server.Product != "" {
			row.Families = []string{row.Server.Product}
		}
		row.Families = sortedSet(row.Families)
		for j, c := range r.Commands {
			if j == maxCommands {
				row.MoreCmds = len(r.Commands) - maxCommands
				break
			}
			row.Commands = append(row.Commands, clip(c, maxCmdRunes))
		}
		if r.Suppressed != "" {
			g := suppressed[r.Suppressed]
			if g == nil {
				g = &SuppressedGroup{Reason: r.Suppressed}
				suppressed[r.Suppressed] = g
			}
			g.Events += r.Events
			g.Pairs++
		} else {
			m.Verdict.Pairs++
			m.Verdict.Events += r.Events
			devices[deviceLabel(r)] = true
			ips[r.IP] = true
			for _, f := range row.Families {
				families[f] = true
			}
		}
		m.Rows = append(m.Rows, row)
	}
	for _, g := range suppressed {
		m.Suppressed = append(m.Suppressed, *g)
	}
	slices.SortFunc(m.Suppressed, func(a, b SuppressedGroup) int { return strings.Compare(a.Reason, b.Reason) })
	for d := range devices {
		m.Verdict.Devices = append(m.Verdict.Devices, d)
	}
	slices.Sort(m.Verdict.Devices)
	for ip := range ips {
		m.Verdict.Servers = append(m.Verdict.Servers, ip.String())
	}
	slices.SortFunc(m.Verdict.Servers, func(a, b string) int {
		return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b))
	})
	for f := range families {
		m.Verdict.Families = append(m.Verdict.Families, f)
	}
	slices.Sort(m.Verdict.Families)

	m.Runs = slices.Clone(in.Runs)
	slices.SortFunc(m.Runs, func(a, b store.Run) int { return int(a.ID - b.ID) })
	m.Hunts = huntResults(m.Runs, huntPairs, family)
	m.Failures = failures(m.Runs)
	m.Verdict.Complete = len(m.Failures) == 0
	m.Timeline = timeline(in.Hits)
	m.Verdict.Next = next(m)
	return m
}

func deviceLabel(r Rolled) string {
	if r.Device != "" {
		return r.Device
	}
	if len(r.Users) > 0 {
		return r.Users[0]
	}
	return r.DeviceID
}

func serverOf(rec store.IndicatorRecord) Server {
	s := Server{Ports: rec.Ports, Sources: rec.Sources}
	// The newest sighting's details describe the server as it is now.
	var newest indicator.Sighting
	for _, sg := range rec.Sightings {
		if newest.LastSeen.IsZero() || sg.LastSeen.After(newest.LastSeen) {
			newest = sg
		}
		if s.JARM == "" {
			s.JARM = sg.JARM
		}
	}
	s.Org, s.ASN, s.Country, s.LastSeen = newest.Org, newest.ASN, newest.Country, rec.LastSeen
	s.Product = strings.TrimSpace(newest.Product + " " + newest.Version)
	if newest.JARM != "" {
		s.JARM = newest.JARM
	}
	return s
}

func clip(s string, n int) Clipped {
	r := []rune(s)
	if len(r) <= n {
		return Clipped{Text: s}
	}
	return Clipped{Text: string(r[:n]), Cut: len(r) - n}
}

// huntOutcome is the per-hunt record a run stores (store.Run.Hunts).
type huntOutcome struct {
	Name       string `json:"name"`
	Indicators int    `json:"indicators"`
	Hits       int    `json:"hits"`
	NewHits    int    `json:"new_hits"`
	Credits    int    `json:"credits"`
	Error      string `json:"error"`
}

func huntResults(runs []store.Run, pairs map[string]int, family func(string) string) []HuntResult {
	byName := map[string]*HuntResult{}
	get := func(name string) *HuntResult {
		h := byName[name]
		if h == nil {
			h = &HuntResult{Name: name, Family: family(name)}
			byName[name] = h
		}
		return h
	}
	for _, r := range runs {
		var hs []huntOutcome
		if len(r.Hunts) == 0 || json.Unmarshal(r.Hunts, &hs) != nil {
			continue // an older or unfinished run: no per-hunt record
		}
		for _, o := range hs {
			h := get(o.Name)
			h.Indicators += o.Indicators
			h.Hits += o.Hits
			h.NewHits += o.NewHits
			h.Credits += o.Credits
			if o.Error != "" {
				h.Errors = append(h.Errors, fmt.Sprintf("run %d: %s", r.ID, o.Error))
			}
		}
	}
	for name, n := range pairs {
		get(name).Pairs = n
	}
	var out []HuntResult
	for _, h := range byName {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b HuntResult) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func failures(runs []store.Run) []Failure {
	var out []Failure
	for _, r := range runs {
		switch r.Outcome {
		case store.OutcomeOK:
		case store.OutcomeRunning:
			out = append(out, Failure{Run: r.ID, Outcome: r.Outcome, Message: "still running, or stopped without recording its end: its results may be incomplete"})
		default:
			msg := r.Error
			if msg == "" {
				msg = "the run ended " + r.Outcome
			}
			out = append(out, Failure{Run: r.ID, Outcome: r.Outcome, Message: msg})
		}
		for _, e := range r.Errors {
			if e != r.Error {
				out = append(out, Failure{Run: r.ID, Outcome: r.Outcome, Message: e})
			}
		}
		for _, t := range r.Targets {
			if t.Outcome != store.OutcomePartial && t.Outcome != store.OutcomeFailed {
				continue
			}
			msg := fmt.Sprintf("target %s %s: %d of %d queries failed", t.Name, t.Outcome, t.QueriesFailed, t.Queries)
			if t.Error != "" {
				msg += ": " + t.Error
			}
			out = append(out, Failure{Run: r.ID, Outcome: r.Outcome, Message: msg})
		}
	}
	return out
}

func timeline(hits []store.StoredHit) Timeline {
	t := Timeline{Height: chartHeight + chartPadding}
	if len(hits) == 0 {
		return t
	}
	type bucket struct {
		events  int
		devices map[string]bool
	}
	days := map[time.Time]*bucket{}
	var first, last time.Time
	for i := range hits {
		h := &hits[i]
		d := h.Timestamp.UTC().Truncate(24 * time.Hour)
		if first.IsZero() || d.Before(first) {
			first = d
		}
		if d.After(last) {
			last = d
		}
		b := days[d]
		if b == nil {
			b = &bucket{devices: map[string]bool{}}
			days[d] = b
		}
		b.events++
		b.devices[keyOf(h).device] = true
	}
	n := int(last.Sub(first)/(24*time.Hour)) + 1
	if n > maxDays {
		t.Dropped = n - maxDays
		first = last.Add(-time.Duration(maxDays-1) * 24 * time.Hour)
		n = maxDays
	}
	for i := range n {
		d := first.Add(time.Duration(i) * 24 * time.Hour)
		day := Day{Date: d}
		if b := days[d]; b != nil {
			day.Events, day.Devices = b.events, len(b.devices)
		}
		t.Max = max(t.Max, day.Events)
		t.Days = append(t.Days, day)
	}
	every := (labelEvery + barWidth + barGap - 1) / (barWidth + barGap)
	for i := range t.Days {
		d := &t.Days[i]
		d.X = chartPadding + i*(barWidth+barGap)
		d.W = barWidth
		if t.Max > 0 {
			d.H = d.Events * chartHeight / t.Max
			if d.Events > 0 && d.H == 0 {
				d.H = 1
			}
		}
		d.Y = chartHeight - d.H
		d.Label = i%every == 0
	}
	t.Width = 2*chartPadding + n*(barWidth+barGap)
	return t
}

func next(m Model) []string {
	var out []string
	if m.Verdict.Pairs > 0 {
		out = append(out,
			fmt.Sprintf("Investigate %s: confirm the process and command line on each (Defender device page), and isolate the device if it is not explained.",
				plural(len(m.Verdict.Devices), "device", "devices")),
			fmt.Sprintf("Block %s at the egress and check every other device that talked to it.",
				plural(len(m.Verdict.Servers), "C2 server", "C2 servers")),
			"Mark what is explained as benign with 'c2sweep suppress', so the next run does not report it again.")
	} else {
		out = append(out, "No live device-to-C2 contact in this report: nothing to investigate.")
	}
	if len(m.Failures) > 0 {
		out = append(out, "Some of the sweep failed (see What failed): the results are incomplete; fix the cause and run again.")
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
