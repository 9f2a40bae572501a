package pipeline

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"c2sweep/internal/indicator"
	"c2sweep/internal/output"
	"c2sweep/internal/report"
	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
)

// WriteText prints the summary a hunter reads at 3 a.m.: what ran, what
// was found, what went wrong and what to do about it. Every value that came
// from outside (device, account and process names from the telemetry, hunt
// names from the config, error text quoting a server) goes through
// textsafe.Terminal: the text goes to a terminal, where an escape sequence
// could rewrite the screen, and a tab or newline would break the table.
func (s *Summary) WriteText(w io.Writer, newOnly bool) {
	mode := ""
	if s.DryRun {
		mode = ", dry run"
	}
	api := s.API
	if s.manyTargets() {
		api = plural(len(s.Targets), "target", "targets")
	}
	fmt.Fprintf(w, "c2sweep run %s (%s%s, %.1fs)\n", s.Started.Format("2006-01-02 15:04 UTC"), api, mode, s.DurationSec)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "hunt\tsource\trequests\tread\tfresh\tstale\tskipped\tcost\thits\tnew\t")
	for _, h := range s.Hunts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", textsafe.Terminal(h.Name), textsafe.Terminal(h.Source), h.Requests, h.Read, h.Fresh,
			h.Stale, h.Skipped.Total(), h.Credits, h.Hits, h.NewHits, mark(h.Error != "", " !"))
	}
	tw.Flush()
	t := s.Totals
	verb := "swept"
	if s.DryRun {
		verb = "would be swept"
	}
	fmt.Fprintf(w, "\n%d distinct indicators %s in %s (%d failed); %d rows, %d hits, %d new",
		t.Indicators, verb, plural(t.Queries, "query", "queries"), t.QueriesFailed, t.Rows, t.Hits, t.NewHits)
	if t.Suppressed > 0 {
		fmt.Fprintf(w, ", %d suppressed%s", t.Suppressed, skipReasons(t.SuppressedBy))
	}
	left := "unknown"
	if t.CreditsKnown {
		left = fmt.Sprint(t.CreditsLeft)
	}
	fmt.Fprintln(w, ".")
	for _, kind := range slices.Sorted(maps.Keys(t.Sources)) {
		st := t.Sources[kind]
		fmt.Fprintf(w, "Source %s: %s (%d retried, %d throttled), %d read, %d skipped%s",
			kind, plural(st.Requests, "request", "requests"), st.Retries, st.Throttled, st.Read, st.Skipped.Total(), skipReasons(st.Skipped))
		if kind == "shodan" {
			fmt.Fprintf(w, ", %d query credits used, %s left", t.CreditsUsed, left)
		}
		fmt.Fprintln(w, ".")
	}
	s.writePlan(w)
	s.writeHealth(w)
	fmt.Fprintf(w, "Hunting API: %s (%d retried, %d throttled).\n",
		plural(t.HuntingCalls, "call", "calls"), max(0, t.HuntingCalls-t.Queries), t.Throttled)
	if s.manyTargets() {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TARGET\tBACKEND\tOUTCOME\tQUERIES\tFAILED\tCALLS\tHITS\tNEW")
		for _, ts := range s.Targets {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", textsafe.Terminal(ts.Name), ts.Backend, ts.Outcome,
				ts.Queries, ts.QueriesFailed, ts.Calls, ts.Hits, ts.NewHits)
		}
		tw.Flush()
	}
	for _, h := range s.Hunts {
		if h.Truncated && h.Pages > 0 {
			fmt.Fprintf(w, "%s: stopped after %d of %d pages (page or credit budget); servers on later pages were not swept\n",
				textsafe.Terminal(h.Name), h.Pages, (h.Total+99)/100)
		}
	}
	if t.Alerted > 0 {
		fmt.Fprintf(w, "Alerts: %s delivered", plural(t.Alerted, "hit", "hits"))
		if t.AlertedEarlier > 0 {
			fmt.Fprintf(w, ", %d of them stored by earlier runs that could not deliver them", t.AlertedEarlier)
		}
		fmt.Fprintln(w, ".")
	}
	if t.Carried > 0 {
		fmt.Fprintf(w, "%s carried over: named by earlier runs, absent from Shodan today, swept until they expire.\n",
			plural(t.Carried, "indicator", "indicators"))
	}
	if t.Expired > 0 {
		fmt.Fprintf(w, "%s expired: not named by any hunt within the indicator TTL (kept; see 'c2sweep indicators').\n",
			plural(t.Expired, "indicator", "indicators"))
	}
	if len(s.NewHits) > 0 {
		title := "NEW HITS"
		if !newOnly {
			title = "HITS"
		}
		listed := t.NewHits
		if !newOnly {
			listed = t.Hits
		}
		// One row per device and C2 server, as `hits` lists them: a beacon
		// is one row, not one per connection.
		stored := make([]store.StoredHit, len(s.NewHits))
		for i, h := range s.NewHits {
			stored[i].Hit = h
		}
		rows := report.Rollup(stored)
		fmt.Fprintf(w, "\n%s (%d) on %s\n", title, listed, plural(len(rows), "device x C2 server", "device x C2 servers"))
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		many := s.manyTargets()
		if many {
			fmt.Fprint(tw, "  TARGET\t")
		}
		fmt.Fprintln(tw, "  DEVICE\tUSERS\tPROCESS\tC2\tHUNTS\tFIRST (UTC)\tLAST (UTC)\tEVENTS")
		for _, r := range rows {
			if many {
				fmt.Fprintf(tw, "  %s\t", textsafe.Terminal(r.Target))
			}
			who := r.Device
			if who == "" {
				who = strings.Join(r.Users, ",")
			}
			dst := r.IP.String()
			if len(r.Ports) > 0 {
				dst = fmt.Sprintf("%s:%d", bracket(dst), r.Ports[0])
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", textsafe.Terminal(who), textsafe.Terminal(strings.Join(r.Users, ",")),
				textsafe.Terminal(strings.Join(r.Processes, ",")), dst, textsafe.Terminal(strings.Join(r.Hunts, ", ")),
				r.First.UTC().Format("2006-01-02 15:04"), r.Last.UTC().Format("2006-01-02 15:04"), r.Events)
		}
		tw.Flush()
		if len(s.NewHits) < listed {
			fmt.Fprintf(w, "  ... and %d more in the result files\n", listed-len(s.NewHits))
		}
	}
	for _, h := range s.Hunts {
		if n := h.Skipped.Total(); n > 0 {
			var parts []string
			for _, k := range output.SortedKeys(h.Skipped) {
				parts = append(parts, fmt.Sprintf("%d %s", h.Skipped[k], k))
			}
			fmt.Fprintf(w, "skipped from %s: %s (never put in a query)\n", textsafe.Terminal(h.Name), strings.Join(parts, ", "))
		}
	}
	for _, h := range s.Hunts {
		if x := h.Excluded; x.Total() > 0 {
			fmt.Fprintf(w, "excluded from %s: %s (never swept)\n", textsafe.Terminal(h.Name), x.describe())
		}
	}
	for _, m := range s.Warnings {
		fmt.Fprintf(w, "warning: %s\n", textsafe.Terminal(m))
	}
	if s.DryRun {
		for i, q := range s.Queries {
			col := q.Column
			if s.manyTargets() {
				col = q.Target + ": " + col
			}
			fmt.Fprintf(w, "\n// query %d/%d: %s, %d indicators, %d bytes\n%s\n", i+1, len(s.Queries), textsafe.Terminal(col), q.IPs, q.Bytes, q.Text)
		}
	}
	for _, e := range s.Errors {
		fmt.Fprintf(w, "error: %s\n", textsafe.Terminal(e))
	}
	if s.OutDir != "" {
		fmt.Fprintf(w, "results: %s\n", textsafe.Terminal(s.OutDir))
	}
}

// manyTargets is true when the run names its targets: several, or one
// the config named.
func (s *Summary) manyTargets() bool {
	return len(s.Targets) > 1 || len(s.Targets) == 1 && s.Targets[0].Name != indicator.DefaultTarget
}

func mark(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

func bracket(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// skipReasons lists skip counts by reason, most first: " (3 invalid ip, 1 bad time)".
func skipReasons(s map[string]int) string {
	if len(s) == 0 {
		return ""
	}
	reasons := slices.Sorted(maps.Keys(s))
	slices.SortStableFunc(reasons, func(a, b string) int { return s[b] - s[a] })
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%d %s", s[r], r)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
