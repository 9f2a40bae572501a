package cli

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"c2sweep/internal/indicator"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/textsafe"
)

// CollectCmd runs the sources only and prints the indicators.
type CollectCmd struct {
	Hunt   []string `help:"Collect only these hunts (repeatable)." placeholder:"NAME"`
	MaxAge string   `help:"Keep servers their source saw within this age (default 7d)." placeholder:"AGE"`
	Format string   `env:"-" help:"Output format: txt (one IP a line, a blocklist), csv, json or table (default: table on a terminal, else txt)." enum:",txt,csv,json,table" default:""`

	// httpClient carries the sources' requests (tests, the demo); nil: Go's default.
	httpClient *http.Client `kong:"-"`
}

func (c *CollectCmd) Help() string {
	return `Runs the enabled hunts' sources (Shodan, ThreatFox, Feodo Tracker, feeds,
Shodan banner files) and prints the fresh, valid, deduplicated indicators
with the hunts that named them and the sources' labels. Nothing else runs:
no sign-in, no hunting, nothing written to the state. Useful alone (a
firewall or proxy blocklist) and to time the sources.

The txt format is one IP a line; a summary of what each source read and
skipped goes to stderr.

Examples:
  c2sweep collect > blocklist.txt
  c2sweep collect --hunt Feodo --format csv
  c2sweep --config c2sweep.yaml collect --format json --max-age 3d

Exit codes: 0 collected, 2 some hunts failed, 3 no source could be read
(or a bad config), 130 interrupted.`
}

func (c *CollectCmd) Run(g *Globals) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	format := c.Format
	if format == "" {
		format = "txt"
		if isTerminal(g.stdout) {
			format = "table"
		}
	}
	hunts, err := (&SweepFlags{Hunt: c.Hunt, MaxAge: c.MaxAge}).apply(cfg)
	if err != nil {
		return err
	}
	srcs, err := g.newSources(g.ctx, cfg, hunts, c.httpClient)
	if err != nil {
		return err
	}
	p := &pipeline.Pipeline{Sources: srcs, Log: g.log}
	if !g.Quiet && isTerminal(g.stderr) {
		p.Progress = &termProgress{w: g.stderr}
	}
	excl, err := g.exclusions(cfg)
	if err != nil {
		return err
	}
	sum, inds, err := p.Collect(g.ctx, pipeline.Options{Hunts: hunts, CreditBudget: cfg.Shodan.CreditBudget, Exclude: excl})
	if err != nil {
		return err
	}
	if werr := writeIndicators(g, format, inds); werr != nil {
		return werr
	}
	writeCollectSummary(g, sum)
	if sum.Outcome == pipeline.OutcomeHits || sum.Outcome == pipeline.OutcomeNoHits {
		return nil
	}
	return outcomeError{sum.Outcome}
}

// writeIndicators prints the collected indicators: txt is the blocklist,
// the others go through the listing writer.
func writeIndicators(g *Globals, format string, inds []*indicator.Indicator) error {
	if format == "txt" {
		var b strings.Builder
		for _, in := range inds {
			b.WriteString(in.IP.String())
			b.WriteByte('\n')
		}
		_, err := fmt.Fprint(g.stdout, b.String())
		return err
	}
	l := list[*indicator.Indicator]{
		items: inds,
		empty: "no fresh indicators",
		cols: []column[*indicator.Indicator]{
			{head: "IP", csv: "ip", cell: func(in *indicator.Indicator) any { return in.IP }},
			{head: "HUNTS", csv: "hunts", cell: func(in *indicator.Indicator) any { return nameList(in.Hunts()) }},
			{head: "SOURCES", csv: "sources", cell: func(in *indicator.Indicator) any {
				return strings.Join(distinct(in, func(s indicator.Sighting) string { return s.Source }), " ")
			}},
			{head: "PORTS", csv: "ports", cell: func(in *indicator.Indicator) any { return strings.Join(ports(in), " ") }},
			{head: "MALWARE", csv: "malware", cell: func(in *indicator.Indicator) any {
				return strings.Join(distinct(in, func(s indicator.Sighting) string { return s.Labels.Malware }), "; ")
			}},
			{head: "CONF", csv: "confidence", cell: func(in *indicator.Indicator) any { return maxConfidence(in) }},
			{head: "LAST SEEN", csv: "last_seen", layout: toMinute, cell: func(in *indicator.Indicator) any { return in.LastSeen() }},
			{head: "ORG", csv: "org", cell: func(in *indicator.Indicator) any {
				return strings.Join(distinct(in, func(s indicator.Sighting) string { return s.Org }), "; ")
			}},
			{csv: "asn", only: "csv", cell: func(in *indicator.Indicator) any {
				return strings.Join(distinct(in, func(s indicator.Sighting) string { return s.ASN }), " ")
			}},
			{csv: "country", only: "csv", cell: func(in *indicator.Indicator) any {
				return strings.Join(distinct(in, func(s indicator.Sighting) string { return s.Country }), " ")
			}},
			{csv: "tags", only: "csv", cell: func(in *indicator.Indicator) any {
				var tags []string
				for _, s := range in.Sightings {
					tags = append(tags, s.Labels.Tags...)
				}
				slices.Sort(tags)
				return strings.Join(slices.Compact(tags), " ")
			}},
			{csv: "references", only: "csv", cell: func(in *indicator.Indicator) any {
				return strings.Join(distinct(in, func(s indicator.Sighting) string { return s.Labels.Reference }), " ")
			}},
		},
	}
	return writeList(g, OutputFlags{Format: format}, ZoneFlag{}, l)
}

// distinct is the sorted, distinct, non-empty values of f over in's sightings.
func distinct(in *indicator.Indicator, f func(indicator.Sighting) string) []string {
	var out []string
	for _, s := range in.Sightings {
		if v := f(s); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func ports(in *indicator.Indicator) []string {
	var ps []int
	for _, s := range in.Sightings {
		if s.Port > 0 {
			ps = append(ps, s.Port)
		}
	}
	slices.Sort(ps)
	out := []string{}
	for _, p := range slices.Compact(ps) {
		out = append(out, fmt.Sprint(p))
	}
	return out
}

func maxConfidence(in *indicator.Indicator) int {
	c := 0
	for _, s := range in.Sightings {
		c = max(c, s.Labels.Confidence)
	}
	return c
}

// writeCollectSummary says on stderr what each hunt read, kept and
// skipped, and why a hunt failed, so stdout stays a clean list.
func writeCollectSummary(g *Globals, s *pipeline.Summary) {
	for _, h := range s.Hunts {
		line := fmt.Sprintf("%s (%s): %d read, %d fresh, %d stale, %d skipped%s", h.Name, h.Source, h.Read, h.Fresh, h.Stale,
			h.Skipped.Total(), skipList(h.Skipped))
		if h.Credits > 0 {
			line += fmt.Sprintf(", %d credits", h.Credits)
		}
		if h.Excluded.Total() > 0 {
			line += fmt.Sprintf(", %d excluded (%d cdn, %d config)", h.Excluded.Total(), h.Excluded.CDN, h.Excluded.Config)
		}
		if h.Error != "" {
			line += "; failed: " + h.Error
		}
		fmt.Fprintln(g.stderr, "collect: "+textsafe.Terminal(line))
	}
	fmt.Fprintf(g.stderr, "collect: %d distinct indicators from %d hunts\n", s.Totals.Indicators, len(s.Hunts))
	if x := s.Totals.Excluded; x.Total() > 0 {
		fmt.Fprintf(g.stderr, "collect: %d excluded, not listed: %d in CDN ranges, %d in the config's exclude list\n", x.Total(), x.CDN, x.Config)
	}
	for _, w := range s.Warnings {
		fmt.Fprintln(g.stderr, "warning: "+textsafe.Terminal(w))
	}
}

func skipList(s indicator.Skips) string {
	if len(s) == 0 {
		return ""
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(s)) {
		parts = append(parts, fmt.Sprintf("%d %s", s[r], r))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
