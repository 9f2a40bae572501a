package daemon

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMetricsExpositionGolden(t *testing.T) {
	m := NewMetrics()
	m.APICall("shodan")
	m.APICall("shodan")
	m.APICall("graph")
	m.Throttled("graph")
	m.Hits(7, 2)
	m.Hits(3, 0)
	m.Indicators(1234)
	m.ShodanCredits(99871)
	m.sweepFinished(OutcomeSuccess, 2500*time.Millisecond, time.Unix(1795766400, 0))
	m.sweepFinished(OutcomeSkipped, 0, time.Unix(1795766500, 0))
	m.sweepFinished(OutcomeFailure, 1250*time.Millisecond, time.Unix(1795766600, 0))
	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	const want = `# HELP c2sweep_api_calls_total HTTP calls made to each API (shodan, graph, mde), retries included.
# TYPE c2sweep_api_calls_total counter
c2sweep_api_calls_total{api="graph"} 1
c2sweep_api_calls_total{api="shodan"} 2
# HELP c2sweep_hits_total Hits found by sweeps, new or already reported.
# TYPE c2sweep_hits_total counter
c2sweep_hits_total 10
# HELP c2sweep_indicators Indicators (IP addresses) in the last sweep.
# TYPE c2sweep_indicators gauge
c2sweep_indicators 1234
# HELP c2sweep_indicators_excluded_total Indicators not swept, by reason (cdn: in a CDN range; config: in the config's exclude list).
# TYPE c2sweep_indicators_excluded_total counter
c2sweep_indicators_excluded_total{reason="cdn"} 0
c2sweep_indicators_excluded_total{reason="config"} 0
# HELP c2sweep_last_success_timestamp_seconds Unix time the last successful sweep ended.
# TYPE c2sweep_last_success_timestamp_seconds gauge
c2sweep_last_success_timestamp_seconds 1795766400
# HELP c2sweep_new_hits_total Hits never reported before.
# TYPE c2sweep_new_hits_total counter
c2sweep_new_hits_total 2
# HELP c2sweep_runs_total Scheduled sweeps by outcome (success, failure, skipped, cancelled).
# TYPE c2sweep_runs_total counter
c2sweep_runs_total{outcome="cancelled"} 0
c2sweep_runs_total{outcome="failure"} 1
c2sweep_runs_total{outcome="skipped"} 1
c2sweep_runs_total{outcome="success"} 1
# HELP c2sweep_shodan_query_credits Shodan query credits left, as /api-info last said.
# TYPE c2sweep_shodan_query_credits gauge
c2sweep_shodan_query_credits 99871
# HELP c2sweep_sweep_duration_seconds Duration of the last finished sweep, in seconds.
# TYPE c2sweep_sweep_duration_seconds gauge
c2sweep_sweep_duration_seconds 1.25
# HELP c2sweep_throttled_total Answers 429 (throttled) received from each API (shodan, graph, mde).
# TYPE c2sweep_throttled_total counter
c2sweep_throttled_total{api="graph"} 1
`
	if b.String() != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", b.String(), want)
	}
	if _, err := parseExposition(b.String()); err != nil {
		t.Error(err)
	}
}

func TestMetricsFreshRegistryShowsCountersOnly(t *testing.T) {
	var b strings.Builder
	NewMetrics().WriteTo(&b)
	fams, err := parseExposition(b.String())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range fams {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{MetricHits, MetricExcluded, MetricNewHits, MetricRuns}; !slices.Equal(names, want) {
		t.Errorf("families before any sweep: %v, want %v", names, want)
	}
}

func TestMetricsEscaping(t *testing.T) {
	m := NewRegistry()
	m.Gauge("x_info", "Back\\slash and\nnewline in help.", "path", "quote")
	m.Set("x_info", 1, `C:\Temp`, `say "hi"`+"\nbye")
	m.Set("x_info", math.Inf(1), "b", "")
	m.Set("x_info", math.NaN(), "a", "")
	m.Set("x_info", 1e21, "c", "")
	m.Set("x_info", -0.000125, "d", "")
	m.Set("x_info", 1795767988.021983, "e", "") // a last-success time
	var b strings.Builder
	m.WriteTo(&b)
	const want = `# HELP x_info Back\\slash and\nnewline in help.
# TYPE x_info gauge
x_info{path="C:\\Temp",quote="say \"hi\"\nbye"} 1
x_info{path="a",quote=""} NaN
x_info{path="b",quote=""} +Inf
x_info{path="c",quote=""} 1e+21
x_info{path="d",quote=""} -0.000125
x_info{path="e",quote=""} 1795767988.021983
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	fams, err := parseExposition(b.String())
	if err != nil {
		t.Fatal(err)
	}
	s := fams["x_info"].samples
	if s[0].labels["path"] != `C:\Temp` || s[0].labels["quote"] != "say \"hi\"\nbye" {
		t.Errorf("labels did not round-trip: %q", s[0].labels)
	}
	if fams["x_info"].help != "Back\\slash and\nnewline in help." {
		t.Errorf("help did not round-trip: %q", fams["x_info"].help)
	}
}

func TestMetricsConcurrent(t *testing.T) {
	m := NewMetrics()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				m.APICall([]string{"shodan", "graph"}[i%2])
				m.Hits(1, g%2)
				if i%100 == 0 {
					var b strings.Builder
					m.WriteTo(&b)
				}
			}
		})
	}
	wg.Wait()
	if m.Value(MetricAPICalls, "shodan") != 4000 || m.Value(MetricHits) != 8000 || m.Value(MetricNewHits) != 4000 {
		t.Errorf("lost updates: %v %v %v", m.Value(MetricAPICalls, "shodan"), m.Value(MetricHits), m.Value(MetricNewHits))
	}
}

func TestMetricsMisusePanics(t *testing.T) {
	for name, f := range map[string]func(m *Metrics){
		"undeclared":       func(m *Metrics) { m.Inc("nope_total") },
		"too few labels":   func(m *Metrics) { m.Inc(MetricAPICalls) },
		"too many labels":  func(m *Metrics) { m.Inc(MetricHits, "x") },
		"counter decrease": func(m *Metrics) { m.Add(MetricHits, -1) },
		"set a counter":    func(m *Metrics) { m.Set(MetricHits, 3) },
		"declared twice":   func(m *Metrics) { m.Counter(MetricHits, "again") },
		"bad metric name":  func(m *Metrics) { m.Gauge("2fast", "x") },
		"bad label name":   func(m *Metrics) { m.Gauge("ok", "x", "bad-label") },
		"reserved label":   func(m *Metrics) { m.Gauge("ok", "x", "__name") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(NewMetrics())
		}()
	}
}

// A small parser of the text format 0.0.4, to check the output is what a
// scraper reads: HELP and TYPE before samples, valid names, escaped label
// values, parseable values, no duplicate series, families grouped.

type parsedSample struct {
	name   string
	labels map[string]string
	value  float64
}

type parsedFamily struct {
	help, kind string
	samples    []parsedSample
}

func parseExposition(text string) (map[string]*parsedFamily, error) {
	fams := map[string]*parsedFamily{}
	seen := map[string]bool{}
	var cur string
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fail := func(format string, a ...any) error {
			return fmt.Errorf("line %d %q: %s", n, line, fmt.Sprintf(format, a...))
		}
		switch {
		case line == "":
			return nil, fail("empty line")
		case strings.HasPrefix(line, "# HELP "), strings.HasPrefix(line, "# TYPE "):
			rest := line[len("# HELP "):]
			name, arg, ok := strings.Cut(rest, " ")
			if !ok || !metricName.MatchString(name) {
				return nil, fail("bad metric name")
			}
			f := fams[name]
			if f == nil {
				if cur != "" && name < cur {
					return nil, fail("families not sorted")
				}
				f = &parsedFamily{}
				fams[name] = f
				cur = name
			} else if name != cur || len(f.samples) > 0 {
				return nil, fail("metadata after samples or out of its group")
			}
			if strings.HasPrefix(line, "# HELP ") {
				h, err := unescape(arg, false)
				if err != nil {
					return nil, fail("%v", err)
				}
				f.help = h
			} else {
				if arg != "counter" && arg != "gauge" {
					return nil, fail("unknown type")
				}
				f.kind = arg
			}
		case strings.HasPrefix(line, "#"):
			return nil, fail("unexpected comment")
		default:
			s, err := parseSample(line)
			if err != nil {
				return nil, fail("%v", err)
			}
			f := fams[s.name]
			if f == nil || s.name != cur || f.kind == "" || f.help == "" {
				return nil, fail("sample without HELP and TYPE before it")
			}
			key := s.name + fmt.Sprint(s.labels)
			if seen[key] {
				return nil, fail("duplicate series")
			}
			seen[key] = true
			if f.kind == "counter" && (s.value < 0 || math.IsNaN(s.value)) {
				return nil, fail("negative counter")
			}
			f.samples = append(f.samples, s)
		}
	}
	if !strings.HasSuffix(text, "\n") && text != "" {
		return nil, fmt.Errorf("no final newline")
	}
	return fams, sc.Err()
}

func parseSample(line string) (parsedSample, error) {
	s := parsedSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name = line[:i]
	if !metricName.MatchString(s.name) {
		return s, fmt.Errorf("bad name")
	}
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, fmt.Errorf("bad label")
			}
			ln := rest[:eq]
			if !labelName.MatchString(ln) {
				return s, fmt.Errorf("bad label name %q", ln)
			}
			rest = rest[eq+2:]
			// find the closing quote, skipping escapes
			j := 0
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' {
					j++
				}
			}
			if j >= len(rest) {
				return s, fmt.Errorf("unterminated label value")
			}
			v, err := unescape(rest[:j], true)
			if err != nil {
				return s, err
			}
			if _, dup := s.labels[ln]; dup {
				return s, fmt.Errorf("label %s twice", ln)
			}
			s.labels[ln] = v
			rest = rest[j+1:]
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
				continue
			}
			if !strings.HasPrefix(rest, "}") {
				return s, fmt.Errorf("want , or }")
			}
			rest = rest[1:]
			break
		}
	}
	if !strings.HasPrefix(rest, " ") || strings.Count(rest, " ") != 1 {
		return s, fmt.Errorf("want one space then the value")
	}
	v, err := strconv.ParseFloat(rest[1:], 64)
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

func unescape(s string, quotes bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' {
			return "", fmt.Errorf("raw newline")
		}
		if c == '"' && quotes {
			return "", fmt.Errorf("raw quote")
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", fmt.Errorf("dangling backslash")
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case '"':
			if !quotes {
				return "", fmt.Errorf(`\" in HELP`)
			}
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

func TestExpositionParserRejects(t *testing.T) {
	for _, bad := range []string{
		"x 1\n", // no HELP/TYPE
		"# HELP x h\n# TYPE x counter\nx -1\n",
		"# HELP x h\n# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",
		"# HELP x h\n# TYPE x gauge\nx{a=\"un\"escaped\"} 1\n",
		"# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n",
		"# HELP y h\n# TYPE y gauge\ny 1\n# HELP x h\n# TYPE x gauge\nx 1\n", // unsorted
		"# HELP x h\n# TYPE x gauge\nx  1\n",
		"# HELP x h\n# TYPE x summary\nx 1\n",
		"# HELP x h\n# TYPE x gauge\nx 1",
	} {
		if _, err := parseExposition(bad); err == nil {
			t.Errorf("parser accepted %q", bad)
		}
	}
}

func BenchmarkMetricsInc(b *testing.B) {
	m := NewMetrics()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.APICall("graph")
		}
	})
}

func BenchmarkMetricsScrape(b *testing.B) {
	m := NewMetrics()
	for _, api := range []string{"shodan", "entra", "graph", "mde", "webhook"} {
		m.APICall(api)
		m.Throttled(api)
	}
	m.Indicators(20000)
	m.ShodanCredits(1000)
	b.ReportAllocs()
	for b.Loop() {
		m.WriteTo(io.Discard)
	}
}

// A sweep's source counters land under the kind's name, skips by reason.
func TestMetricsSourceHunts(t *testing.T) {
	m := NewMetrics()
	m.SourceHunts("threatfox", 2, 1, 5, 3, 0, 1, map[string]int{"invalid ip": 2, "below min_confidence": 4})
	m.SourceHunts("threatfox", 1, 0, 1, 0, 0, 0, map[string]int{"invalid ip": 1})
	m.SourceHunts("shodan", 4, 0, 9, 1, 3, 0, nil)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{MetricAPICalls, []string{"threatfox"}, 3},
		{MetricThrottled, []string{"threatfox"}, 1},
		{MetricSourceItems, []string{"threatfox", "kept"}, 6},
		{MetricSourceItems, []string{"threatfox", "stale"}, 3},
		{MetricSourceItems, []string{"threatfox", "skipped"}, 7},
		{MetricSourceSkipped, []string{"threatfox", "invalid ip"}, 3},
		{MetricSourceSkipped, []string{"threatfox", "below min_confidence"}, 4},
		{MetricSourceFailed, []string{"threatfox"}, 1},
		{MetricSourceCost, []string{"shodan"}, 3},
		{MetricAPICalls, []string{"shodan"}, 4},
	} {
		if got := m.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
