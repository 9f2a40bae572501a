package kql

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/schema"
)

// The parser check runs Microsoft's KQL language service (tools/kqlcheck,
// Node.js) over every query shape Build can emit. CI must run it: with
// CI=true a missing node or package fails the test instead of skipping it.

type checkQuery struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

type checkRequest struct {
	Queries  []checkQuery `json:"queries,omitempty"`
	Literals []string     `json:"literals,omitempty"`
	Keywords bool         `json:"keywords,omitempty"`
}

type checkDiagnostic struct {
	Severity, Code, Message string
	Start, Length           int
	Line, Column            int
}

type checkResponse struct {
	Tables  int `json:"tables"`
	Queries []struct {
		ID          string            `json:"id"`
		Errors      int               `json:"errors"`
		Diagnostics []checkDiagnostic `json:"diagnostics"`
	} `json:"queries"`
	Literals []struct {
		Text  string  `json:"text"`
		Whole bool    `json:"whole"`
		Value *string `json:"value"`
	} `json:"literals"`
	Keywords []struct {
		Text  string `json:"text"`
		Ident string `json:"ident"`
	} `json:"keywords"`
}

const installHint = "npm ci --prefix tools/kqlcheck"

// runKQLCheck sends one batch to one Node process, against the Defender
// tables.
func runKQLCheck(t *testing.T, req checkRequest) checkResponse {
	t.Helper()
	return runKQLCheckIn(t, schema.Defender(), req)
}

// runKQLCheckIn checks a batch against cat's tables.
func runKQLCheckIn(t *testing.T, cat *schema.Catalog, req checkRequest) checkResponse {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("KQL parser check cannot run in CI: %s (install: %s)", msg, installHint)
		}
		t.Skipf("KQL parser check skipped: %s; install it from the repository root with: %s", msg, installHint)
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "tools", "kqlcheck"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "check.js")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("the checker script is missing: %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node (Node.js 18 or later) is not on PATH")
	}
	pkg := filepath.Join(dir, "node_modules", "@kusto", "language-service-next", "Kusto.Language.Bridge.min.js")
	if _, err := os.Stat(pkg); err != nil {
		unavailable("@kusto/language-service-next is not installed in %s", dir)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	// A guard against a hung process, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, "--schema", filepath.Join("..", "schema", cat.File))
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var res checkResponse
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("reading the checker's answer: %v", err)
	}
	if res.Tables != len(cat.Names()) || len(res.Queries) != len(req.Queries) || len(res.Literals) != len(req.Literals) {
		t.Fatalf("checker answered for %d tables, %d queries, %d literals; sent %d, %d, %d",
			res.Tables, len(res.Queries), len(res.Literals), len(cat.Names()), len(req.Queries), len(req.Literals))
	}
	return res
}

// emittedShapes builds every query shape Build can emit: every table and IP
// column the schema allows, with IPv4, IPv6 and mixed indicators, chunked,
// over several windows, and split.
func emittedShapes(t *testing.T) []checkQuery {
	t.Helper()
	var out []checkQuery
	add := func(name string, qs []Query, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(qs) == 0 {
			t.Fatalf("%s: no query", name)
		}
		for i, q := range qs {
			out = append(out, checkQuery{ID: fmt.Sprintf("%s#%d", name, i+1), Text: q.Text})
		}
	}
	v4 := addrs("203.0.113.7", "198.51.100.23", "45.9.148.3")
	v6 := addrs("2001:db8::1", "2a01:4f8:c17:1a2b::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
	heavy := []Target{DefaultTarget} // one target per table for the shapes below
	for _, table := range schema.Names() {
		tb, _ := schema.Lookup(table)
		for _, col := range tb.IPColumns {
			tg := Target{Table: table, Column: col}
			for name, ips := range map[string][]netip.Addr{"v4": v4, "v6": v6, "mixed": slices.Concat(v4, v6)} {
				qs, err := Build(tg, []Group{{IPs: ips, Start: t0, End: t1}}, Limits{})
				add(tg.String()+"/"+name, qs, err)
			}
		}
		if col := DefaultColumn(table); col != "" && table != DefaultTarget.Table {
			heavy = append(heavy, Target{Table: table, Column: col})
		}
	}
	for _, tg := range heavy {
		ips := randomIPs(3, 40)
		qs, err := Build(tg, []Group{{IPs: ips, Start: t0, End: t1}}, Limits{MaxIPs: 7})
		add(tg.String()+"/chunked-ips", qs, err)
		qs, err = Build(tg, []Group{{IPs: ips, Start: t0, End: t1}}, Limits{MaxBytes: 1200})
		add(tg.String()+"/chunked-bytes", qs, err)
		qs, err = Build(tg, []Group{
			{IPs: ips[:10], Start: t0, End: t1},
			{IPs: ips[5:20], Start: t1.Add(-24 * time.Hour), End: t1},
			{IPs: ips[20:], Start: time.Date(2026, 11, 20, 12, 30, 0, 123456700, time.UTC), End: t1.Add(time.Hour)},
		}, Limits{MaxIPs: 8})
		add(tg.String()+"/windows", qs, err)
		a, b, err := Split(qs[0], Limits{})
		add(tg.String()+"/split", []Query{a, b}, err)
	}
	return out
}

func TestKQLCheck(t *testing.T) {
	shapes := emittedShapes(t)
	req := checkRequest{Queries: shapes, Keywords: true}

	// Quoted values inside a real query: every ugly case, and random text.
	r := rand.New(rand.NewPCG(42, 42))
	values := []string{}
	for _, tc := range quoteCases {
		values = append(values, tc.in)
	}
	alphabet := []rune("aZ09 \"'\\\n\r\t\x00\x1b\x7f|/()[]@h`é中😀\u2028\u202e\ufeff\U000E0041\U0010FFFD")
	for range 200 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		if r.IntN(4) == 0 {
			b.WriteString("\xff") // invalid UTF-8
		}
		values = append(values, b.String())
	}
	for i, v := range values {
		req.Literals = append(req.Literals, Quote(v))
		req.Queries = append(req.Queries, checkQuery{ID: fmt.Sprintf("literal#%d", i),
			Text: "DeviceNetworkEvents\n| where DeviceName == " + Quote(v) + "\n| project Timestamp, DeviceName"})
	}
	// Bracketed identifiers that a keyword or an odd name forces.
	odd := []string{"where", "in", "project", "__crossCluster", "3Dchart", "has space", "it's", "x']|take 1//", "new\nline", "Ünïcode"}
	for i, name := range odd {
		id, _ := Ident(name)
		req.Queries = append(req.Queries, checkQuery{ID: fmt.Sprintf("ident#%d", i),
			Text: fmt.Sprintf("datatable(%s:string)[\"x\"]\n| project %s", id, id)})
	}
	// Negative controls: the checker must be able to fail.
	base := shapes[0].Text
	controls := map[string]string{
		"control/unknown-column": strings.Replace(base, " in (", "x in (", 1),
		"control/unknown-table":  "DeviceNetworkEvent" + strings.TrimPrefix(base, strings.SplitN(base, "\n", 2)[0]),
		"control/unclosed-quote": "DeviceNetworkEvents\n| where RemoteIP == \"1.2.3.4\n| project Timestamp",
	}
	for id, text := range controls {
		req.Queries = append(req.Queries, checkQuery{ID: id, Text: text})
	}
	req.Literals = append(req.Literals, "\"a\nb\"", `"a"b"`)

	res := runKQLCheck(t, req)

	for _, q := range res.Queries {
		if _, isControl := controls[q.ID]; isControl {
			if q.Errors == 0 {
				t.Errorf("%s: the parser found no error; the check cannot fail", q.ID)
			}
			continue
		}
		if q.Errors > 0 {
			var text string
			for _, s := range req.Queries {
				if s.ID == q.ID {
					text = s.Text
				}
			}
			t.Errorf("%s: %d errors: %+v\n%s", q.ID, q.Errors, q.Diagnostics, text)
		} else if len(q.Diagnostics) > 0 && !strings.HasPrefix(q.ID, "ident#") {
			t.Logf("%s: %+v", q.ID, q.Diagnostics)
		}
	}
	for _, q := range res.Queries {
		// Rejected for the right reason: the name resolves to nothing.
		if q.ID == "control/unknown-column" && (len(q.Diagnostics) == 0 || q.Diagnostics[0].Code != "KS142") {
			t.Errorf("unknown column: diagnostics %+v, want KS142", q.Diagnostics)
		}
	}

	for i, v := range values {
		l := res.Literals[i]
		if !l.Whole || l.Value == nil || *l.Value != string([]rune(v)) {
			t.Errorf("Microsoft's lexer reads Quote(%q) = %s as whole=%v value=%v", v, l.Text, l.Whole, deref(l.Value))
		}
	}
	for _, l := range res.Literals[len(values):] {
		if l.Whole {
			t.Errorf("negative control literal %q read as one literal", l.Text)
		}
	}

	if len(res.Keywords) < 100 {
		t.Fatalf("only %d keywords from the language service", len(res.Keywords))
	}
	for _, kw := range res.Keywords {
		id, err := Ident(kw.Text)
		if err != nil {
			t.Errorf("Ident(%q): %v", kw.Text, err)
			continue
		}
		if kw.Ident != kw.Text && id == kw.Text {
			t.Errorf("keyword %q needs brackets (%s) but Ident leaves it bare", kw.Text, kw.Ident)
		}
	}
	t.Logf("checked %d queries (%d emitted shapes), %d literals, %d keywords", len(res.Queries), len(shapes), len(res.Literals), len(res.Keywords))
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// TestKQLCheckSentinel parses every Sentinel query shape (every table and
// IP column, IPv4/IPv6/mixed, chunked, split) with Microsoft's parser
// against the Sentinel tables, with controls that must fail: a Defender
// column and a Defender-only table.
func TestKQLCheckSentinel(t *testing.T) {
	cat := schema.Sentinel()
	var req checkRequest
	v4 := addrs("203.0.113.7", "198.51.100.23")
	v6 := addrs("2001:db8::1", "2a01:4f8:c17:1a2b::1")
	for _, table := range cat.Names() {
		tb, _ := cat.Lookup(table)
		for _, col := range tb.IPColumns {
			tg := Target{Table: table, Column: col}
			qs, err := BuildIn("sentinel", tg, []Group{{IPs: slices.Concat(v4, v6), Start: t0, End: t1}}, Limits{MaxIPs: 3})
			if err != nil || len(qs) != 2 {
				t.Fatalf("%s: %d queries, %v", tg, len(qs), err)
			}
			a, b, err := Split(qs[0], Limits{})
			if err != nil {
				t.Fatalf("%s: split: %v", tg, err)
			}
			for i, q := range []Query{qs[0], qs[1], a, b} {
				if q.Catalog != "sentinel" || !strings.Contains(q.Text, "TimeGenerated between") {
					t.Fatalf("%s: query %d not in the Sentinel shape:\n%s", tg, i, q.Text)
				}
				req.Queries = append(req.Queries, checkQuery{ID: fmt.Sprintf("%s#%d", tg, i), Text: q.Text})
			}
		}
	}
	controls := map[string]string{
		"control/defender-time-column": "CommonSecurityLog\n| where Timestamp > ago(1d)",
		"control/defender-only-table":  "DeviceLogonEvents\n| where TimeGenerated > ago(1d)",
	}
	for id, text := range controls {
		req.Queries = append(req.Queries, checkQuery{ID: id, Text: text})
	}
	res := runKQLCheckIn(t, cat, req)
	for i, q := range res.Queries {
		_, isControl := controls[q.ID]
		switch {
		case isControl && q.Errors == 0:
			t.Errorf("%s: the parser found no error; the check cannot fail", q.ID)
		case !isControl && q.Errors > 0:
			t.Errorf("%s: %d errors: %+v\n%s", q.ID, q.Errors, q.Diagnostics, req.Queries[i].Text)
		}
	}
	t.Logf("checked %d Sentinel queries", len(res.Queries))
}
