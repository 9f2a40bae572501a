package huntinglab

//lint:file-ignore ST1005 the emulators answer with the services' own error text, capitals and full stops included

// The advanced hunting emulators: Microsoft Graph runHuntingQuery and the
// Defender for Endpoint / Microsoft 365 Defender advanced hunting APIs,
// answering from the world's telemetry through the matcher in
// hunting_query.go (not a KQL engine).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
)

// maxRows is the row cap of all three APIs. Past it the lab, like the
// services, returns the first maxRows rows with status 200 and no error:
// a sweep must keep its queries small enough that the cap is never met.
const maxRows = 100000

// TooLargeMessage is what the services answer (400 BadRequest) when a
// query exceeds their CPU or size limits.
const TooLargeMessage = "Query execution has exceeded the allowed limits. The query execution was prematurely canceled due to excessive resource consumption. Please optimize your query and try again."

const graphContext = "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults"

// Service is the lab's three advanced hunting APIs.
type Service struct {
	l *lab.Lab
	// tokens issued the access tokens the APIs accept.
	tokens *entralab.Service
	// byIP indexes each tenant's events by the address their IP column
	// logs, oldest first, so that a query reads only the rows it matches,
	// whatever the number of tenants.
	byIP []map[netip.Addr][]int32
	// procs are the processes the events index.
	procs []lab.Process

	mu    sync.Mutex
	calls map[string][]time.Time // per tenant: accepted calls in the last minute
}

// New builds the hunting APIs over l's telemetry; they accept the access
// tokens that tokens issues.
func New(l *lab.Lab, tokens *entralab.Service) (*Service, error) {
	h := &Service{l: l, tokens: tokens, byIP: make([]map[netip.Addr][]int32, l.World.Tenants()), procs: lab.Processes(), calls: map[string][]time.Time{}}
	for t := range h.byIP {
		h.byIP[t] = map[netip.Addr][]int32{}
	}
	for i := range l.World.Events {
		e := &l.World.Events[i]
		t := l.World.TenantOf(e.Device)
		h.byIP[t][e.IP] = append(h.byIP[t][e.IP], int32(i))
	}
	return h, nil
}

// Routes are the hunting APIs' paths: Graph's under /v1.0/, Defender's
// under /api/.
func (h *Service) Routes() []lab.Route {
	return []lab.Route{
		{Path: "/v1.0/", Name: "graph", Handler: h},
		{Path: "/api/", Name: "mde", Handler: h},
	}
}

// huntingAPI names the API a path belongs to; it accepts the tokens of
// that API in any cloud (entralab.APIOf).
func huntingAPI(path string) (api string, ok bool) {
	switch path {
	case "/v1.0/security/runHuntingQuery":
		return entralab.APIGraph, true
	case "/api/advancedqueries/run", "/api/advancedhunting/run":
		return entralab.APIMDE, true
	}
	return "", false
}

func (h *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	api, ok := huntingAPI(r.URL.Path)
	if !ok {
		if strings.HasPrefix(r.URL.Path, "/v1.0/") {
			h.fail(w, "graph", http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.TrimPrefix(r.URL.Path, "/v1.0/")+"'.")
		} else {
			h.fail(w, "mde", http.StatusNotFound, "ResourceNotFound", "Resource not found")
		}
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.fail(w, api, http.StatusMethodNotAllowed, "MethodNotAllowed", "The HTTP method '"+r.Method+"' is not supported.")
		return
	}
	claims, ok := h.authorize(w, r, api)
	if !ok {
		return
	}
	tenant := h.l.TenantIndex(claims.Tid)
	if tenant < 0 {
		h.fail(w, api, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid tenant.")
		return
	}
	if wait := h.admit(claims.Tid); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.fail(w, api, http.StatusTooManyRequests, "TooManyRequests",
			fmt.Sprintf("API calls quota exceeded! Maximum allowed calls %d per 1 minute per tenant. Try again in %d seconds.", h.l.Options().HuntingPerMinute, secs))
		return
	}
	query, timespan, err := h.readBody(r, api)
	if err != nil {
		h.fail(w, api, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if n := h.l.Faults().TooLarge; n > 0 && len(query) > n {
		h.fail(w, api, http.StatusBadRequest, "BadRequest", TooLargeMessage)
		return
	}
	now := h.l.Options().Now().UTC()
	// Windows are [start, end); end is now inclusive.
	start, end := now.Add(-retention), now.Add(time.Nanosecond)
	if timespan != "" {
		if start, end, err = parseTimespan(timespan, now); err != nil {
			h.fail(w, api, http.StatusBadRequest, "BadRequest", "Invalid Timespan '"+timespan+"': "+err.Error())
			return
		}
		if floor := now.Add(-retention); start.Before(floor) {
			start = floor
		}
		if end.After(now) {
			end = now.Add(time.Nanosecond)
		}
	}
	m, err := parseQuery(query, now, start, end)
	if err != nil {
		h.fail(w, api, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	h.answer(w, api, m, tenant, time.Now())
}

// authorize checks the bearer token as the services do: missing, forged or
// expired -> 401; a token for another API -> 401 (invalid audience); a
// token without the API's application role -> 403.
func (h *Service) authorize(w http.ResponseWriter, r *http.Request, api string) (entralab.Claims, bool) {
	deny := func(status int, code, msg string) (entralab.Claims, bool) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		}
		h.fail(w, api, status, code, msg)
		return entralab.Claims{}, false
	}
	authz := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || tok == "" {
		if api == "graph" {
			return deny(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		}
		return deny(http.StatusUnauthorized, "Unauthorized", "Authorization header is missing or is not a Bearer token.")
	}
	c, err := h.tokens.Verify(tok)
	switch {
	case errors.Is(err, entralab.ErrTokenExpired):
		if api == "graph" {
			return deny(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		}
		return deny(http.StatusUnauthorized, "Unauthorized", "The access token has expired.")
	case err != nil:
		if api == "graph" {
			return deny(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature.")
		}
		return deny(http.StatusUnauthorized, "Unauthorized", "The access token is invalid.")
	}
	if entralab.APIOf(c.Aud) != api {
		if api == "graph" {
			return deny(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		}
		return deny(http.StatusUnauthorized, "Unauthorized", "The access token audience '"+c.Aud+"' is not valid for this API.")
	}
	want := entralab.RoleAdvancedQuery
	if api == "graph" {
		want = entralab.RoleThreatHunting
	}
	if !slices.Contains(c.Roles, want) {
		if api == "graph" {
			return deny(http.StatusForbidden, "Forbidden", "Missing application roles. API required roles: "+want+".")
		}
		return deny(http.StatusForbidden, "Forbidden", "The application does not have any of the required application permissions ("+want+") to access the resource.")
	}
	return c, true
}

// admit applies the per-tenant limit over a sliding 60 s window. It returns
// how long until a call would be admitted, or 0 when this one is (and
// counted). Refused calls are not counted.
func (h *Service) admit(tenant string) time.Duration {
	now := h.l.Options().Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	log := h.calls[tenant]
	i := 0
	for i < len(log) && !log[i].After(now.Add(-time.Minute)) {
		i++
	}
	log = log[i:]
	if len(log) >= h.l.Options().HuntingPerMinute {
		h.calls[tenant] = log
		return log[len(log)-h.l.Options().HuntingPerMinute].Add(time.Minute).Sub(now)
	}
	h.calls[tenant] = append(log, now)
	return 0
}

// readBody decodes {"Query","Timespan"}: Graph reads the keys in any case,
// MDE wants "Query" exactly.
func (h *Service) readBody(r *http.Request, api string) (query, timespan string, err error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return "", "", fmt.Errorf("cannot read the request body")
	}
	if api == "mde" {
		var b map[string]json.RawMessage
		if err := json.Unmarshal(body, &b); err != nil {
			return "", "", fmt.Errorf("The request body is not valid JSON.")
		}
		raw, ok := b["Query"]
		if !ok {
			return "", "", fmt.Errorf("Query is missing from the request body.")
		}
		if err := json.Unmarshal(raw, &query); err != nil {
			return "", "", fmt.Errorf("Query must be a string.")
		}
		return query, "", nil
	}
	var b struct {
		Query    *string `json:"Query"`
		Timespan string  `json:"Timespan"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return "", "", fmt.Errorf("Invalid request body: %v", err)
	}
	if b.Query == nil {
		return "", "", fmt.Errorf("Query is required.")
	}
	return *b.Query, b.Timespan, nil
}

// fail writes the API's error envelope: Graph's error{code, message,
// innerError{date, request-id, client-request-id}} or MDE's error{code,
// message, target}.
func (h *Service) fail(w http.ResponseWriter, api string, status int, code, msg string) {
	id := lab.RandomGUID()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("request-id", id)
	w.WriteHeader(status)
	// Structs, not maps: the services write the fields in this order.
	type inner struct {
		Date            string `json:"date"`
		RequestID       string `json:"request-id"`
		ClientRequestID string `json:"client-request-id"`
	}
	type graphError struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError inner  `json:"innerError"`
	}
	type mdeError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
	}
	var body any
	if api == "graph" {
		body = struct {
			Error graphError `json:"error"`
		}{graphError{code, msg, inner{h.l.Options().Now().UTC().Format("2006-01-02T15:04:05"), id, id}}}
	} else {
		body = struct {
			Error mdeError `json:"error"`
		}{mdeError{code, msg, id}}
	}
	json.NewEncoder(w).Encode(body)
}

// matches returns the indices of tenant's events a query selects, oldest
// first, capped at maxRows (or its take).
func (h *Service) matches(m *matchQuery, tenant int) []int32 {
	world := h.l.World
	var idx []int32
	for _, col := range m.columns {
		if col == lab.IPColumn(m.table.Name) {
			for ip := range m.ips {
				for _, i := range h.byIP[tenant][ip] {
					e := &world.Events[i]
					if e.Table == m.table.Name && !e.Time.Before(m.start) && e.Time.Before(m.end) {
						idx = append(idx, i)
					}
				}
			}
			continue
		}
		for i := range world.Events {
			e := &world.Events[i]
			if e.Table != m.table.Name || e.Time.Before(m.start) || !e.Time.Before(m.end) || world.TenantOf(e.Device) != tenant {
				continue
			}
			if a, ok := world.IPValue(e, col); ok && m.ips[a] {
				idx = append(idx, int32(i))
			}
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	limit := maxRows
	if m.take > 0 && m.take < limit {
		limit = m.take
	}
	if len(idx) > limit {
		idx = idx[:limit]
	}
	return idx
}

// answer streams the result: one encoded row at a time, never the whole
// answer in memory.
func (h *Service) answer(w http.ResponseWriter, api string, m *matchQuery, tenant int, began time.Time) {
	idx := h.matches(m, tenant)
	cols := m.project
	if cols == nil {
		for _, c := range m.table.Columns {
			cols = append(cols, c.Name)
		}
	}
	types := make([]string, len(cols))
	for i, c := range cols {
		for _, tc := range m.table.Columns {
			if tc.Name == c {
				types[i] = tc.Type
			}
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	schemaKey, nameKey, typeKey, resultsKey := `"schema"`, `"name"`, `"type"`, `"results"`
	if api == "graph" {
		bw.WriteString(`{"@odata.context":` + strconv.Quote(graphContext) + `,`)
	} else {
		schemaKey, nameKey, typeKey, resultsKey = `"Schema"`, `"Name"`, `"Type"`, `"Results"`
		fmt.Fprintf(bw, `{"Stats":{"ExecutionTime":%.4f,"resource_usage":{"cache":{"memory":{"hits":%d,"misses":0,"total":%d},"disk":{"hits":0,"misses":0,"total":0}},"cpu":{"user":"00:00:00","kernel":"00:00:00","total cpu":"00:00:00"},"memory":{"peak_per_node":%d}},"dataset_statistics":[{"table_row_count":%d,"table_size":%d}]},`,
			time.Since(began).Seconds(), len(idx), len(idx), 4<<20, len(idx), len(idx)*600)
	}
	bw.WriteString(schemaKey + ":[")
	for i, c := range cols {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("{" + nameKey + ":" + strconv.Quote(c) + "," + typeKey + ":" + strconv.Quote(apiType(types[i])) + "}")
	}
	bw.WriteString("]," + resultsKey + ":[")
	var buf []byte
	for n, i := range idx {
		buf = buf[:0]
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = h.appendRow(buf, &h.l.World.Events[i], cols, types)
		if _, err := bw.Write(buf); err != nil {
			return
		}
	}
	bw.WriteString("]}\n")
}

// apiType is the type name the APIs put in a result schema.
func apiType(kusto string) string {
	switch kusto {
	case "datetime":
		return "DateTime"
	case "string":
		return "String"
	case "long":
		return "Int64"
	case "int":
		return "Int32"
	case "bool":
		return "Boolean"
	case "real", "double":
		return "Double"
	case "guid":
		return "Guid"
	case "dynamic":
		return "Object"
	}
	return "String"
}
