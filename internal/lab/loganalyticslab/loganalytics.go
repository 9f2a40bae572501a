// Package loganalyticslab is the lab's Microsoft Sentinel: the Log
// Analytics query API (POST /v1/workspaces/{id}/query) over the world's
// Sentinel rows (lab.World.SentinelRows), with the service's quirks
// (../../../shared/docs/api-contracts.md): a 204 for a workspace without
// data, a PartialError inside a 200 when an answer passes the row or size
// cap (the table is cut), 429 with Retry-After past 200 calls in 30 s, the
// Prefer: wait=N timeout (504 past it), and a 200 with an empty body for a
// POST that is not JSON. Tokens are the lab's Entra ID's, for the Log
// Analytics scope.
//
// Queries are answered by a matcher, not a KQL engine: the first word is the
// table, the body's timespan (else 30 days) bounds TimeGenerated, and a row
// matches when an IP column the query filters (`where COL in (...)`) holds, once
// normalised (brackets, port and ::ffff: dropped), one of the query's
// quoted IP literals.
package loganalyticslab

//lint:file-ignore ST1005 the emulator answers with the service's own error text

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/schema"
)

// The lab's workspaces: one with the world's rows, one without data.
const (
	Workspace      = "5f0c7a2e-3b1d-4c8e-9a6f-2d4b8e1c7a90"
	EmptyWorkspace = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
)

// Defaults of the service's limits.
const (
	DefaultMaxRows        = 500000
	DefaultMaxBytes int64 = 64 << 20
	perWindow             = 200
	window                = 30 * time.Second
	retention             = 30 * 24 * time.Hour
)

// Service is the lab's Log Analytics query API.
type Service struct {
	l      *lab.Lab
	tokens *entralab.Service
	rows   []lab.LogRow
	// Contacts are the planted rows, the ground truth.
	Contacts []lab.SentinelContact

	mu sync.Mutex
	// maxRows and maxBytes are the answer caps past which the table is
	// cut and a PartialError added.
	maxRows  int
	maxBytes int64
	// queryTime is how long the service takes over a query; past the
	// Prefer: wait the answer is a 504 (no real time passes).
	queryTime time.Duration
	calls     map[string][]time.Time // per principal
	prefers   []string               // each call's Prefer header
}

// New builds the API over l's world; it accepts tokens issues.
func New(l *lab.Lab, tokens *entralab.Service) (*Service, error) {
	rows, contacts := l.World.SentinelRows()
	return &Service{l: l, tokens: tokens, rows: rows, Contacts: contacts, maxRows: DefaultMaxRows, maxBytes: DefaultMaxBytes, calls: map[string][]time.Time{}}, nil
}

// Of returns the Log Analytics service of l, or nil.
func Of(l *lab.Lab) *Service {
	for _, svc := range l.Services() {
		if s, ok := svc.(*Service); ok {
			return s
		}
	}
	return nil
}

// SetLimits lowers the answer caps (rows, bytes) past which an answer is
// cut with a PartialError; zero keeps a cap.
func (s *Service) SetLimits(rows int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rows > 0 {
		s.maxRows = rows
	}
	if bytes > 0 {
		s.maxBytes = bytes
	}
}

// SetQueryTime sets how long every query takes the service.
func (s *Service) SetQueryTime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queryTime = d
}

// Prefers returns the Prefer header of every query call so far.
func (s *Service) Prefers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.prefers)
}

// Routes is the query API's path.
func (s *Service) Routes() []lab.Route {
	return []lab.Route{{Path: "/v1/", Name: "loganalytics", Handler: s}}
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, ok := strings.CutPrefix(r.URL.Path, "/v1/workspaces/")
	ws, ok2 := strings.CutSuffix(ws, "/query")
	if !ok || !ok2 || strings.Contains(ws, "/") {
		s.fail(w, http.StatusNotFound, "PathNotFoundError", "The requested path does not exist")
		return
	}
	if r.Method != http.MethodPost {
		s.fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The method is not allowed.")
		return
	}
	c, ok := s.authorize(w, r)
	if !ok {
		return
	}
	if wait := s.admit(c.Oid); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.fail(w, http.StatusTooManyRequests, "TooManyRequests", fmt.Sprintf("Rate limit of %d requests per %d seconds exceeded. Retry after %d seconds.", perWindow, int(window.Seconds()), secs))
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		w.WriteHeader(http.StatusOK) // the service's quirk: not an error
		return
	}
	var body struct {
		Query    *string `json:"query"`
		Timespan string  `json:"timespan"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if len(raw) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Query == nil {
		s.fail(w, http.StatusBadRequest, "BadArgumentError", "The request had some invalid properties")
		return
	}
	wait := 3 * time.Minute
	s.mu.Lock()
	s.prefers = append(s.prefers, r.Header.Get("Prefer"))
	qt := s.queryTime
	s.mu.Unlock()
	for _, p := range strings.Split(r.Header.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "wait="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				wait = min(time.Duration(n)*time.Second, 10*time.Minute)
			}
		}
	}
	if qt > wait {
		s.fail(w, http.StatusGatewayTimeout, "GatewayTimeout", "The query did not complete within the allotted time.")
		return
	}
	if !strings.EqualFold(ws, Workspace) && !strings.EqualFold(ws, EmptyWorkspace) {
		s.fail(w, http.StatusNotFound, "WorkspaceNotFoundError", "The workspace could not be found")
		return
	}
	now := s.l.Options().Now().UTC()
	start, end := now.Add(-retention), now.Add(time.Nanosecond)
	if body.Timespan != "" {
		a, b, ok := strings.Cut(body.Timespan, "/")
		t1, err1 := time.Parse(time.RFC3339Nano, a)
		t2, err2 := time.Parse(time.RFC3339Nano, b)
		if !ok || err1 != nil || err2 != nil {
			s.fail(w, http.StatusBadRequest, "BadArgumentError", "Invalid timespan '"+body.Timespan+"'.")
			return
		}
		start, end = t1, t2
	}
	table, cols, ips, err := parse(*body.Query)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "SyntaxError", err.Error())
		return
	}
	if strings.EqualFold(ws, EmptyWorkspace) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.answer(w, table, extended(*body.Query, s.match(table, cols, ips, start, end)))
}

// tableRE reads the query's first word, its table.
var (
	tableRE   = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)`)
	literalRE = regexp.MustCompile(`"([0-9A-Fa-f:.]+)"`)
	whereInRE = regexp.MustCompile(`\bwhere\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s*\(`)
)

func parse(q string) (string, []string, map[netip.Addr]bool, error) {
	m := tableRE.FindStringSubmatch(q)
	if m == nil {
		return "", nil, nil, fmt.Errorf("Query could not be parsed at '%.20s'", q)
	}
	tb, ok := schema.Sentinel().Lookup(m[1])
	if !ok {
		return "", nil, nil, fmt.Errorf("'%s' operator: Failed to resolve table or column expression named '%s'", "where", m[1])
	}
	var cols []string
	for _, w := range whereInRE.FindAllStringSubmatch(q, -1) {
		if slices.Contains(tb.IPColumns, w[1]) && !slices.Contains(cols, w[1]) {
			cols = append(cols, w[1])
		}
	}
	ips := map[netip.Addr]bool{}
	for _, l := range literalRE.FindAllStringSubmatch(q, -1) {
		if a, err := netip.ParseAddr(l[1]); err == nil {
			ips[a.Unmap()] = true
		}
	}
	return m[1], cols, ips, nil
}

var extendRE = regexp.MustCompile(`\bextend\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*case\(`)

// extended applies the query's `extend COL = case(...)` rewrites of an IP
// column (kql's normalise: the bracketed part, else an IPv4 address
// before a port, else the value) to the rows it answers, as the service
// would: the column comes back rewritten.
func extended(q string, rows []lab.LogRow) []lab.LogRow {
	ms := extendRE.FindAllStringSubmatch(q, -1)
	if len(ms) == 0 {
		return rows
	}
	out := make([]lab.LogRow, len(rows))
	for i, r := range rows {
		v := maps.Clone(r.Values)
		for _, m := range ms {
			if s, ok := v[m[1]].(string); ok {
				v[m[1]] = caseNormalise(s)
			}
		}
		out[i] = lab.LogRow{Table: r.Table, Values: v}
	}
	return out
}

var ipv4PortRE = regexp.MustCompile(`^([0-9]{1,3}(\.[0-9]{1,3}){3}):[0-9]+$`)

func caseNormalise(s string) string {
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "]"); end > 1 {
			return s[1:end]
		}
		return ""
	}
	if m := ipv4PortRE.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return s
}

// Normalise reads an address as the tables log it: bare, with a port,
// bracketed, IPv4-mapped.
func Normalise(v string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap(), true
	}
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	a, err := netip.ParseAddr(v)
	return a.Unmap(), err == nil
}

func (s *Service) match(table string, cols []string, ips map[netip.Addr]bool, start, end time.Time) []lab.LogRow {
	var out []lab.LogRow
	for _, r := range s.rows {
		if r.Table != table {
			continue
		}
		t := r.Values["TimeGenerated"].(time.Time)
		if t.Before(start) || !t.Before(end) {
			continue
		}
		for _, c := range cols {
			v, _ := r.Values[c].(string)
			if a, ok := Normalise(v); ok && ips[a] {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// answer writes {"tables":[PrimaryResult]}, cut with a PartialError past
// MaxRows or MaxBytes.
func (s *Service) answer(w http.ResponseWriter, table string, rows []lab.LogRow) {
	s.mu.Lock()
	maxRows, maxBytes := s.maxRows, s.maxBytes
	s.mu.Unlock()
	// Every column of the table, in the schema's order, as the service
	// answers a query without project.
	tb, _ := schema.Sentinel().Lookup(table)
	var cols []string
	for _, c := range tb.Columns {
		cols = append(cols, c.Name)
	}
	head, _ := json.Marshal(tb.Columns)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	out := []byte(`{"tables":[{"name":"PrimaryResult","columns":` + string(head) + `,"rows":[`)
	cut := false
	for n, r := range rows {
		cells := make([]any, len(cols))
		for i, c := range cols {
			cells[i] = r.Values[c]
			if t, ok := cells[i].(time.Time); ok {
				cells[i] = t.UTC().Format("2006-01-02T15:04:05.0000000Z")
			}
		}
		b, _ := json.Marshal(cells)
		if n >= maxRows || int64(len(out)+len(b)) > maxBytes {
			cut = true
			break
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	out = append(out, "]}]"...)
	if cut {
		out = append(out, `,"error":{"code":"PartialError","message":"There were some errors when processing your query.","details":[{"code":"EngineError","message":"Something went wrong processing your query on the server.","innererror":{"code":"-2133196797","message":"Query result set has exceeded the internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)","severity":2,"severityName":"Error"}}]}`...)
	}
	out = append(out, "}\n"...)
	w.Write(out)
}

// authorize checks the bearer token: missing or invalid -> 401
// AuthenticationFailed / InvalidAuthenticationToken; another API's
// audience (any cloud's Log Analytics is accepted) -> 403
// InvalidAuthenticationTokenAudience; no read role, or a token of another
// tenant than the workspaces' (tenant 0) -> 403 InsufficientAccessError.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) (entralab.Claims, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		s.fail(w, http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		return entralab.Claims{}, false
	}
	c, err := s.tokens.Verify(tok)
	if err != nil {
		s.fail(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The provided authentication is not valid for this resource.")
		return c, false
	}
	if entralab.APIOf(c.Aud) != entralab.APILogAnalytics {
		s.fail(w, http.StatusForbidden, "InvalidAuthenticationTokenAudience", "The access token is from the wrong audience or resource.")
		return c, false
	}
	// The workspaces belong to tenant 0: another tenant's principal holds
	// no role on them.
	if !slices.Contains(c.Roles, entralab.RoleLogAnalyticsRead) || s.l.TenantIndex(c.Tid) != 0 {
		s.fail(w, http.StatusForbidden, "InsufficientAccessError", "The provided credentials have insufficient access to perform the requested operation")
		return c, false
	}
	return c, true
}

// admit applies 200 calls per sliding 30 s per principal; refused calls
// are not counted.
func (s *Service) admit(who string) time.Duration {
	now := s.l.Options().Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.calls[who]
	i := 0
	for i < len(log) && !log[i].After(now.Add(-window)) {
		i++
	}
	log = log[i:]
	if len(log) >= perWindow {
		s.calls[who] = log
		return log[len(log)-perWindow].Add(window).Sub(now)
	}
	s.calls[who] = append(log, now)
	return 0
}

// fail writes the error envelope {"error":{"code","message","innererror"}}.
func (s *Service) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innererror": map[string]string{"code": code, "message": msg}}})
}
