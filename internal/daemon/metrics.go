package daemon

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Names of the metrics c2sweep exports.
const (
	MetricRuns          = "c2sweep_runs_total"
	MetricHits          = "c2sweep_hits_total"
	MetricNewHits       = "c2sweep_new_hits_total"
	MetricIndicators    = "c2sweep_indicators"
	MetricAPICalls      = "c2sweep_api_calls_total"
	MetricThrottled     = "c2sweep_throttled_total"
	MetricShodanCredits = "c2sweep_shodan_query_credits"
	MetricLastSuccess   = "c2sweep_last_success_timestamp_seconds"
	MetricSweepDuration = "c2sweep_sweep_duration_seconds"
	MetricSourceItems   = "c2sweep_source_items_total"
	MetricSourceSkipped = "c2sweep_source_skipped_total"
	MetricSourceCost    = "c2sweep_source_cost_total"
	MetricSourceFailed  = "c2sweep_source_hunts_failed_total"
	MetricExcluded      = "c2sweep_indicators_excluded_total"
	MetricHuntHealth    = "c2sweep_hunt_health_warnings_total"
)

// Outcomes of a scheduled sweep, the label of c2sweep_runs_total.
const (
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeSkipped   = "skipped"   // a tick came while a sweep was still running
	OutcomeCancelled = "cancelled" // stopped at shutdown after the grace period
)

// Metrics is a small Prometheus registry of counters and gauges, written
// in the text exposition format 0.0.4, with no dependency. It is safe for
// concurrent use. Declaring a metric twice, using an undeclared one, giving
// the wrong number of label values or decreasing a counter are programming
// errors and panic, as with the Prometheus client.
type Metrics struct {
	mu   sync.Mutex
	fams map[string]*family
}

type family struct {
	name, help, kind string
	labels           []string
	series           map[string]*series // by joined label values
}

type series struct {
	values []string
	v      float64
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// NewRegistry returns an empty registry.
func NewRegistry() *Metrics { return &Metrics{fams: map[string]*family{}} }

// NewMetrics returns a registry with c2sweep's metrics declared. Counters
// start at 0 so that rates work from the first scrape; gauges appear once
// set (a credit balance of 0 would be a lie before the first sweep).
func NewMetrics() *Metrics {
	m := NewRegistry()
	m.Counter(MetricRuns, "Scheduled sweeps by outcome (success, failure, skipped, cancelled).", "outcome")
	m.Counter(MetricHits, "Hits found by sweeps, new or already reported.")
	m.Counter(MetricNewHits, "Hits never reported before.")
	m.Gauge(MetricIndicators, "Indicators (IP addresses) in the last sweep.")
	m.Counter(MetricAPICalls, "HTTP calls made to each API (shodan, graph, mde), retries included.", "api")
	m.Counter(MetricThrottled, "Answers 429 (throttled) received from each API (shodan, graph, mde).", "api")
	m.Gauge(MetricShodanCredits, "Shodan query credits left, as /api-info last said.")
	m.Gauge(MetricLastSuccess, "Unix time the last successful sweep ended.")
	m.Gauge(MetricSweepDuration, "Duration of the last finished sweep, in seconds.")
	m.Counter(MetricSourceItems, "Items read from each source kind, by result (kept: valid and fresh; stale: valid, older than max_age; skipped).", "source", "result")
	m.Counter(MetricSourceSkipped, "Items each source kind skipped, by reason.", "source", "reason")
	m.Counter(MetricSourceCost, "What each source kind's hunts cost (Shodan query credits).", "source")
	m.Counter(MetricSourceFailed, "Hunts of each source kind that failed.", "source")
	m.Counter(MetricExcluded, "Indicators not swept, by reason (cdn: in a CDN range; config: in the config's exclude list).", "reason")
	m.Counter(MetricHuntHealth, "Hunts whose verdict became silent or spiking (once per change of state).", "hunt", "verdict")
	for _, o := range []string{OutcomeSuccess, OutcomeFailure, OutcomeSkipped, OutcomeCancelled} {
		m.Add(MetricRuns, 0, o)
	}
	m.Add(MetricHits, 0)
	m.Add(MetricNewHits, 0)
	for _, r := range []string{"cdn", "config"} {
		m.Add(MetricExcluded, 0, r)
	}
	return m
}

// Counter declares a counter with the given label names.
func (m *Metrics) Counter(name, help string, labels ...string) {
	m.declare(name, help, "counter", labels)
}

// Gauge declares a gauge with the given label names.
func (m *Metrics) Gauge(name, help string, labels ...string) { m.declare(name, help, "gauge", labels) }

func (m *Metrics) declare(name, help, kind string, labels []string) {
	if !metricName.MatchString(name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for _, l := range labels {
		if !labelName.MatchString(l) || strings.HasPrefix(l, "__") {
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", name, l))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.fams[name]; dup {
		panic(fmt.Sprintf("metrics: %s declared twice", name))
	}
	m.fams[name] = &family{name: name, help: help, kind: kind, labels: slices.Clone(labels), series: map[string]*series{}}
}

// Add adds v to a counter or gauge; labelValues follow the declared label
// names in order.
func (m *Metrics) Add(name string, v float64, labelValues ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.family(name, labelValues)
	if f.kind == "counter" && (v < 0 || math.IsNaN(v)) {
		panic(fmt.Sprintf("metrics: counter %s cannot decrease (%v)", name, v))
	}
	f.get(labelValues).v += v
}

// Inc adds 1.
func (m *Metrics) Inc(name string, labelValues ...string) { m.Add(name, 1, labelValues...) }

// Set sets a gauge.
func (m *Metrics) Set(name string, v float64, labelValues ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.family(name, labelValues)
	if f.kind != "gauge" {
		panic(fmt.Sprintf("metrics: Set on %s %s", f.kind, name))
	}
	f.get(labelValues).v = v
}

// Value returns the current value of a series (0 if never touched).
func (m *Metrics) Value(name string, labelValues ...string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.family(name, labelValues)
	if s, ok := f.series[seriesKey(labelValues)]; ok {
		return s.v
	}
	return 0
}

func (m *Metrics) family(name string, labelValues []string) *family {
	f, ok := m.fams[name]
	if !ok {
		panic(fmt.Sprintf("metrics: %s is not declared", name))
	}
	if len(labelValues) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values (%v), got %d", name, len(f.labels), f.labels, len(labelValues)))
	}
	return f
}

// seriesKey joins label values unambiguously (NUL cannot be confused with
// a value's content after escaping in output, and keys are internal).
func seriesKey(values []string) string { return strings.Join(values, "\x00") }

func (f *family) get(values []string) *series {
	k := seriesKey(values)
	s, ok := f.series[k]
	if !ok {
		s = &series{values: slices.Clone(values)}
		f.series[k] = s
	}
	return s
}

// Helpers the sweep calls; they name the domain, so callers need not know
// metric names.

// APICall counts one HTTP call to api (shodan, entra, graph, mde, webhook).
func (m *Metrics) APICall(api string) { m.Inc(MetricAPICalls, api) }

// Throttled counts one 429 from api.
func (m *Metrics) Throttled(api string) { m.Inc(MetricThrottled, api) }

// Hits counts the hits of a sweep, and how many of them were new.
func (m *Metrics) Hits(total, fresh int) {
	m.Add(MetricHits, float64(total))
	m.Add(MetricNewHits, float64(fresh))
}

// Indicators sets the number of indicators the last sweep looked for.
func (m *Metrics) Indicators(n int) { m.Set(MetricIndicators, float64(n)) }

// SourceHunts counts what the hunts of one source kind did in a sweep:
// requests (as API calls under the kind's name), throttled answers, items
// by result, skips by reason, cost, and failed hunts.
func (m *Metrics) SourceHunts(kind string, requests, throttled, kept, stale, cost, failed int, skipped map[string]int) {
	m.Add(MetricAPICalls, float64(requests), kind)
	m.Add(MetricThrottled, float64(throttled), kind)
	m.Add(MetricSourceItems, float64(kept), kind, "kept")
	m.Add(MetricSourceItems, float64(stale), kind, "stale")
	total := 0
	for reason, n := range skipped {
		m.Add(MetricSourceSkipped, float64(n), kind, reason)
		total += n
	}
	m.Add(MetricSourceItems, float64(total), kind, "skipped")
	m.Add(MetricSourceCost, float64(cost), kind)
	m.Add(MetricSourceFailed, float64(failed), kind)
}

// ShodanCredits sets the query credits Shodan says are left.
func (m *Metrics) ShodanCredits(n int) { m.Set(MetricShodanCredits, float64(n)) }

// sweepFinished records a scheduled sweep's outcome.
func (m *Metrics) sweepFinished(outcome string, d time.Duration, end time.Time) {
	m.Inc(MetricRuns, outcome)
	if outcome == OutcomeSkipped {
		return
	}
	m.Set(MetricSweepDuration, d.Seconds())
	if outcome == OutcomeSuccess {
		m.Set(MetricLastSuccess, float64(end.UnixNano())/1e9)
	}
}

// ContentType is the media type of the exposition format written.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteTo writes every metric with at least one series: families sorted by
// name, each with HELP and TYPE, series sorted by label values.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	m.mu.Lock()
	names := make([]string, 0, len(m.fams))
	for n, f := range m.fams {
		if len(f.series) > 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		f := m.fams[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
		ss := make([]*series, 0, len(f.series))
		for _, s := range f.series {
			ss = append(ss, s)
		}
		slices.SortFunc(ss, func(a, b *series) int { return slices.Compare(a.values, b.values) })
		for _, s := range ss {
			b.WriteString(f.name)
			if len(f.labels) > 0 {
				b.WriteByte('{')
				for i, l := range f.labels {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `%s="%s"`, l, escapeLabel(s.values[i]))
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatValue(s.v))
			b.WriteByte('\n')
		}
	}
	m.mu.Unlock()
	bw := bufio.NewWriter(w)
	n, err := bw.WriteString(b.String())
	if err == nil {
		err = bw.Flush()
	}
	return int64(n), err
}

// ServeHTTP serves the metrics for a Prometheus scrape.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	if r.Method == http.MethodHead {
		return
	}
	m.WriteTo(w)
}

// escapeHelp escapes HELP text: backslash and newline.
func escapeHelp(s string) string { return helpEscaper.Replace(s) }

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
)

// escapeLabel escapes a label value: backslash, double quote and newline.
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// formatValue writes numbers below 1e15 without an exponent (counts and
// Unix seconds, fractional or not, stay readable) and the rest as Go's
// shortest float; Prometheus reads both.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.Abs(v) < 1e15 && (v == math.Trunc(v) || math.Abs(v) >= 1e-4):
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
