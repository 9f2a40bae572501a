package hunting_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/hunting"
	"c2sweep/internal/kql"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/loganalyticslab"
	"c2sweep/internal/retry"
)

func (f *fixture) logAnalytics(t *testing.T) *loganalyticslab.Service {
	t.Helper()
	la := loganalyticslab.Of(f.lab)
	if la == nil {
		t.Fatal("the lab has no Log Analytics service")
	}
	return la
}

func (f *fixture) sentinel(t *testing.T, workspace string, edit func(*hunting.Options)) hunting.Hunter {
	t.Helper()
	o := f.options(t)
	o.Workspace = workspace
	if edit != nil {
		edit(&o)
	}
	b, err := hunting.LookupBackend("sentinel")
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// sentinelRequest asks table's column for every planted server, over the
// last 30 days.
func (f *fixture) sentinelRequest(la *loganalyticslab.Service, table, column string) hunting.Request {
	var lits []string
	seen := map[netip.Addr]bool{}
	for _, c := range la.Contacts {
		if !seen[c.ServerIP] {
			seen[c.ServerIP] = true
			lits = append(lits, fmt.Sprintf("%q", c.ServerIP))
		}
	}
	end := f.clock.Now()
	return hunting.Request{
		Query: fmt.Sprintf("%s\n| where %s in (%s)", table, column, strings.Join(lits, ", ")),
		Start: end.Add(-30 * 24 * time.Hour), End: end,
	}
}

// A query c2sweep builds for each Sentinel table (kql.BuildIn, the
// Sentinel catalogue) finds the rows planted for the world's C2 servers,
// whatever form the column logs them in.
func TestSentinelFindsThePlantedContactsOfEveryTable(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	h := f.sentinel(t, loganalyticslab.Workspace, nil)
	var ips []netip.Addr
	for _, c := range la.Contacts {
		ips = append(ips, c.ServerIP)
	}
	end := f.clock.Now()
	for _, table := range lab.SentinelTables {
		var want []lab.SentinelContact
		for _, c := range la.Contacts {
			if c.Table == table {
				want = append(want, c)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: nothing planted; the test proves nothing", table)
		}
		qs, err := kql.BuildIn("sentinel", kql.Target{Table: table, Column: want[0].Column},
			[]kql.Group{{IPs: ips, Start: end.Add(-30 * 24 * time.Hour), End: end}}, kql.Limits{})
		if err != nil || len(qs) != 1 {
			t.Fatalf("%s: %d queries, %v", table, len(qs), err)
		}
		cols, rows, st, err := collect(t, h, hunting.Request{Query: qs[0].Text, Start: qs[0].Start, End: qs[0].End})
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if st.Rows != len(rows) || len(rows) != len(want) {
			t.Fatalf("%s: %d rows (stats %d), want %d", table, len(rows), st.Rows, len(want))
		}
		if cols[0].Name != "TimeGenerated" || cols[0].Type != "datetime" {
			t.Errorf("%s: first column %+v", table, cols[0])
		}
		// The IP column comes back as the query's normalise made it: the
		// bare address (OfficeActivity logs ports and brackets).
		for _, c := range want {
			if !slices.ContainsFunc(rows, func(r hunting.Row) bool {
				v, _ := r[c.Column].(string)
				a, err := netip.ParseAddr(v)
				return err == nil && a.Unmap() == c.ServerIP
			}) {
				t.Errorf("%s: planted %s=%s not found", table, c.Column, c.Logged)
			}
		}
		// The evidence columns the catalogue names are in every row.
		fields := kql.FieldsIn("sentinel", qs[0].Target)
		for _, col := range []string{fields.Time, fields.Device, fields.Account, fields.Process, fields.Action, fields.ReportID} {
			if _, ok := rows[0][col]; col != "" && !ok {
				t.Errorf("%s: evidence column %s missing", table, col)
			}
		}
	}
	if p := la.Prefers(); len(p) == 0 || p[0] != "wait=180" {
		t.Errorf("Prefer headers %q, want wait=180", p)
	}
}

func TestSentinelEmptyWorkspaceIsNoRows(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	h := f.sentinel(t, loganalyticslab.EmptyWorkspace, nil)
	n := 0
	st, err := h.Hunt(context.Background(), f.sentinelRequest(la, "SigninLogs", "IPAddress"),
		func([]hunting.Column) error { n++; return nil }, func(hunting.Row) error { n++; return nil })
	if err != nil || st.Rows != 0 || n != 0 || st.Attempts != 1 {
		t.Fatalf("204: err %v, %d rows, %d callbacks, %d attempts", err, st.Rows, n, st.Attempts)
	}
}

func TestSentinelPartialErrorIsTypedNotAnAnswer(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	la.SetLimits(1, 0) // any answer of two rows is cut
	h := f.sentinel(t, loganalyticslab.Workspace, nil)
	_, rows, st, err := collect(t, h, f.sentinelRequest(la, "OfficeActivity", "ClientIP"))
	var pe *hunting.PartialError
	if !errors.As(err, &pe) || !errors.Is(err, hunting.ErrTooLarge) {
		t.Fatalf("want a PartialError matching ErrTooLarge, got %v", err)
	}
	if pe.Code != "PartialError" || pe.Rows != 1 || len(rows) != 1 || st.Attempts != 1 {
		t.Errorf("partial %+v, %d rows, %d attempts", pe, len(rows), st.Attempts)
	}
}

func TestSentinelHonoursRetryAfter(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	// The client believes in 300 calls a window; the service allows 200.
	h := f.sentinel(t, loganalyticslab.Workspace, func(o *hunting.Options) { o.PerMinute = 300 })
	req := f.sentinelRequest(la, "W3CIISLog", "cIP")
	throttled := 0
	for i := range 201 {
		_, _, st, err := collect(t, h, req)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		throttled += st.Throttled
	}
	if throttled != 1 {
		t.Fatalf("%d throttled, want the 201st call throttled once", throttled)
	}
	slept := f.clock.Slept()
	if len(slept) != 1 || slept[0] <= 0 || slept[0] > 30*time.Second {
		t.Errorf("slept %v, want one wait of the Retry-After (at most 30 s)", slept)
	}
}

func TestSentinelLimiterKeeps200Per30s(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	h := f.sentinel(t, loganalyticslab.Workspace, nil)
	req := f.sentinelRequest(la, "SigninLogs", "IPAddress")
	for i := range 201 {
		if _, _, st, err := collect(t, h, req); err != nil || st.Throttled != 0 {
			t.Fatalf("call %d: %v, %d throttled", i, err, st.Throttled)
		}
	}
	if s := f.clock.Slept(); len(s) != 1 || s[0] != 30*time.Second {
		t.Errorf("slept %v, want the client to wait out the 30 s window once", s)
	}
}

func TestSentinelBodyCap(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	h := f.sentinel(t, loganalyticslab.Workspace, func(o *hunting.Options) { o.MaxBody = 512 })
	_, _, st, err := collect(t, h, f.sentinelRequest(la, "CommonSecurityLog", "DestinationIP"))
	if !errors.Is(err, retry.ErrBodyTooLarge) || st.Attempts != 1 {
		t.Fatalf("want ErrBodyTooLarge after one attempt, got %v (%d attempts)", err, st.Attempts)
	}
}

func TestSentinelWorkspaceIDChecked(t *testing.T) {
	if _, err := hunting.NewSentinel(hunting.Options{Workspace: "../other"}); err == nil {
		t.Fatal("a workspace id that is not a GUID was accepted")
	}
}

func TestRegistry(t *testing.T) {
	bs := hunting.Backends()
	if len(bs) != 3 || bs[0].Name != "graph" {
		t.Fatalf("backends %+v", bs)
	}
	mde, err := hunting.LookupBackend("mde")
	if err != nil || !mde.Legacy || !strings.Contains(mde.Description, "retir") {
		t.Errorf("mde: %+v %v", mde, err)
	}
	if s, _ := hunting.LookupBackend("sentinel"); s.Catalog != "sentinel" || s.MaxRows != hunting.SentinelMaxRows || s.Scope != hunting.SentinelScope {
		t.Errorf("sentinel: %+v", s)
	}
	if _, err := hunting.LookupBackend("splunk"); err == nil || !strings.Contains(err.Error(), "graph, mde, sentinel") {
		t.Errorf("unknown backend: %v", err)
	}
}

// Prefer: wait carries Options.Wait (at most 10 min); a query past it is a
// 504, retried once and then handed back to be split.
func TestSentinelServerTimeout(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	la.SetQueryTime(5 * time.Minute)
	req := f.sentinelRequest(la, "SigninLogs", "IPAddress")
	_, _, st, err := collect(t, f.sentinel(t, loganalyticslab.Workspace, nil), req)
	if !errors.Is(err, hunting.ErrTooLarge) || st.Attempts != 2 {
		t.Fatalf("past the default 3 min wait: %v after %d attempts, want ErrTooLarge after 2", err, st.Attempts)
	}
	_, rows, _, err := collect(t, f.sentinel(t, loganalyticslab.Workspace, func(o *hunting.Options) { o.Wait = time.Hour }), req)
	if err != nil || len(rows) == 0 {
		t.Fatalf("with a 10 min wait: %v, %d rows", err, len(rows))
	}
	if ps := la.Prefers(); ps[len(ps)-1] != "wait=600" {
		t.Errorf("Prefer %q, want wait=600 (the service's maximum)", ps[len(ps)-1])
	}
}

// Past the size cap (about 64 MB; a few hundred bytes here) the table is
// cut the same way.
func TestSentinelSizeCapIsPartial(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	la.SetLimits(0, 1200)
	_, rows, _, err := collect(t, f.sentinel(t, loganalyticslab.Workspace, nil), f.sentinelRequest(la, "VMConnection", "RemoteIp"))
	var pe *hunting.PartialError
	if !errors.As(err, &pe) || pe.Rows != len(rows) || len(rows) == 0 {
		t.Fatalf("want a PartialError after the rows that fit, got %v (%d rows)", err, len(rows))
	}
}

// A token for another API is refused (403 InvalidAuthenticationTokenAudience)
// as a permission problem, not retried.
func TestSentinelWrongAudience(t *testing.T) {
	f := newFixture(t, lab.Options{})
	la := f.logAnalytics(t)
	h := f.sentinel(t, loganalyticslab.Workspace, func(o *hunting.Options) { o.Scope = hunting.GraphScope })
	_, _, st, err := collect(t, h, f.sentinelRequest(la, "SigninLogs", "IPAddress"))
	var ae *hunting.AccessError
	if !errors.Is(err, hunting.ErrAuth) || !errors.As(err, &ae) || st.Attempts != 1 || !strings.Contains(err.Error(), "InvalidAuthenticationTokenAudience") {
		t.Fatalf("got %v after %d attempts", err, st.Attempts)
	}
	if !strings.Contains(ae.Permission, "Log Analytics Reader") {
		t.Errorf("permission %q", ae.Permission)
	}
}
