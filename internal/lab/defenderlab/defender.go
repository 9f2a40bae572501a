// Package defenderlab emulates the Microsoft Defender for Endpoint
// indicators API: import, list with $filter/$top/$skip, BatchDelete, the
// tenant's indicator cap, the error envelope and 429 with Retry-After,
// keeping its indicators across calls. It starts with a few indicators an
// analyst made by hand, which c2sweep must never touch.
package defenderlab

//lint:file-ignore ST1005 the emulator answers with the service's own error text

import (
	"encoding/json"
	"errors"
	"fmt"
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

// Limits of the service.
const (
	DefaultCap     = 15000
	maxBatch       = 500
	writesPerMin   = 30
	readsPerMin    = 100
	maxTop         = 10000
	personCreator  = "analyst@contoso.example"
	importPath     = "/api/indicators/import"
	batchDeletPath = "/api/indicators/BatchDelete"
)

// Indicator is an indicator as the service stores and lists it.
type Indicator struct {
	ID                      string     `json:"id"`
	IndicatorValue          string     `json:"indicatorValue"`
	IndicatorType           string     `json:"indicatorType"`
	Action                  string     `json:"action"`
	Application             string     `json:"application"`
	Source                  string     `json:"source"`
	SourceType              string     `json:"sourceType"`
	CreatedBy               string     `json:"createdBy"`
	CreationTimeDateTimeUtc time.Time  `json:"creationTimeDateTimeUtc"`
	ExpirationTime          *time.Time `json:"expirationTime"`
	LastUpdateTime          time.Time  `json:"lastUpdateTime"`
	LastUpdatedBy           string     `json:"lastUpdatedBy"`
	Severity                string     `json:"severity"`
	Title                   string     `json:"title"`
	Description             string     `json:"description"`
	RecommendedActions      string     `json:"recommendedActions"`
	RBACGroupNames          []string   `json:"rbacGroupNames"`
	RBACGroupIDs            []string   `json:"rbacGroupIds"`
	GenerateAlert           bool       `json:"generateAlert"`
}

// Service is the lab's indicators API.
type Service struct {
	l      *lab.Lab
	tokens *entralab.Service

	mu       sync.Mutex
	byID     map[string]*Indicator
	nextID   int
	cap      int
	writes   []time.Time
	reads    []time.Time
	throttle int           // the next calls answered 429
	after    time.Duration // their Retry-After
	failOnce map[string]string
	denied   bool
	calls    Calls
}

// Calls counts the calls the service answered, by kind.
type Calls struct{ List, Import, Delete, Throttled int }

// New builds the indicators API; it accepts the tokens tokens issues for
// the Defender API with Ti.ReadWrite.All.
func New(l *lab.Lab, tokens *entralab.Service) (*Service, error) {
	s := &Service{l: l, tokens: tokens, byID: map[string]*Indicator{}, nextID: 1000, cap: DefaultCap, failOnce: map[string]string{}}
	now := l.Options().Now().UTC().Truncate(time.Second)
	for _, p := range []struct{ value, typ, action, title string }{
		{"203.0.113.66", "IpAddress", "Block", "Known bad: phishing kit host (ticket 4711)"},
		{"198.51.100.200", "IpAddress", "Allowed", "Partner VPN gateway"},
		{"bad.example.net", "DomainName", "Warn", "Typosquat of our domain"},
	} {
		s.add(Indicator{
			IndicatorValue: p.value, IndicatorType: p.typ, Action: p.action, Title: p.title,
			Description: "Added by hand.", Severity: "High", Source: personCreator, SourceType: "User",
			CreatedBy: personCreator, LastUpdatedBy: personCreator, CreationTimeDateTimeUtc: now, LastUpdateTime: now,
		})
	}
	return s, nil
}

// Of is the indicators service of a lab built by emulator.Services.
func Of(l *lab.Lab) *Service {
	for _, s := range l.Services() {
		if d, ok := s.(*Service); ok {
			return d
		}
	}
	return nil
}

// Routes: the indicators API's paths, inside the /api/ of hunting.
func (s *Service) Routes() []lab.Route {
	return []lab.Route{
		{Path: "/api/indicators", Name: "defender", Handler: s},
		{Path: "/api/indicators/", Name: "defender", Handler: s},
	}
}

// SetCap sets the tenant's indicator cap (default 15,000).
func (s *Service) SetCap(n int) { s.mu.Lock(); s.cap = n; s.mu.Unlock() }

// Throttle answers the next n calls with 429 and Retry-After after.
func (s *Service) Throttle(n int, after time.Duration) {
	s.mu.Lock()
	s.throttle, s.after = n, after
	s.mu.Unlock()
}

// FailOnce makes the next import of value fail inside the 200 answer
// with reason.
func (s *Service) FailOnce(value, reason string) {
	s.mu.Lock()
	s.failOnce[value] = reason
	s.mu.Unlock()
}

// Deny makes the app lack Ti.ReadWrite.All (403), or have it again.
func (s *Service) Deny(denied bool) { s.mu.Lock(); s.denied = denied; s.mu.Unlock() }

// Calls returns the calls answered so far.
func (s *Service) Calls() Calls { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// Indicators returns the live indicators, by id.
func (s *Service) Indicators() []Indicator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live()
}

// add stores in with a new id; the caller holds mu (or is New).
func (s *Service) add(in Indicator) {
	s.nextID++
	in.ID = strconv.Itoa(s.nextID)
	s.byID[in.ID] = &in
}

// live drops expired indicators (the service deletes them at their
// expiry) and returns the rest by id.
func (s *Service) live() []Indicator {
	now := s.l.Options().Now()
	var out []Indicator
	for id, in := range s.byID {
		if in.ExpirationTime != nil && !in.ExpirationTime.After(now) {
			delete(s.byID, id)
			continue
		}
		out = append(out, *in)
	}
	slices.SortFunc(out, func(a, b Indicator) int {
		x, _ := strconv.Atoi(a.ID)
		y, _ := strconv.Atoi(b.ID)
		return x - y
	})
	return out
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r) {
		return
	}
	path := r.URL.Path
	write := path == importPath || path == batchDeletPath
	switch {
	case path == "/api/indicators" && r.Method == http.MethodGet:
	case write && r.Method == http.MethodPost:
	case path == "/api/indicators" || write:
		fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '"+r.Method+"'.")
		return
	default:
		fail(w, http.StatusNotFound, "ResourceNotFound", "Resource not found")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.throttle > 0 {
		s.throttle--
		s.calls.Throttled++
		s.tooMany(w, s.after, writesPerMin)
		return
	}
	limit, log := readsPerMin, &s.reads
	if write {
		limit, log = writesPerMin, &s.writes
	}
	if wait := admit(log, limit, s.l.Options().Now()); wait > 0 {
		s.calls.Throttled++
		s.tooMany(w, wait, limit)
		return
	}
	switch path {
	case importPath:
		s.calls.Import++
		s.importBatch(w, r)
	case batchDeletPath:
		s.calls.Delete++
		s.batchDelete(w, r)
	default:
		s.calls.List++
		s.list(w, r)
	}
}

func (s *Service) tooMany(w http.ResponseWriter, wait time.Duration, limit int) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	fail(w, http.StatusTooManyRequests, "TooManyRequests",
		fmt.Sprintf("API calls quota exceeded! Maximum allowed calls %d per 1 minute. Try again in %d seconds.", limit, secs))
}

// admit counts a call in a sliding 60 s window; it returns how long until
// one would be admitted, or 0 when this one is.
func admit(log *[]time.Time, limit int, now time.Time) time.Duration {
	i := 0
	for i < len(*log) && !(*log)[i].After(now.Add(-time.Minute)) {
		i++
	}
	*log = (*log)[i:]
	if len(*log) >= limit {
		return (*log)[len(*log)-limit].Add(time.Minute).Sub(now)
	}
	*log = append(*log, now)
	return 0
}

// authorize checks the bearer token as the service does: 401 for a
// missing, forged, expired or other API's token; 403 without the role.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		fail(w, http.StatusUnauthorized, "Unauthorized", "Authorization header is missing or is not a Bearer token.")
		return false
	}
	c, err := s.tokens.Verify(tok)
	switch {
	case errors.Is(err, entralab.ErrTokenExpired):
		fail(w, http.StatusUnauthorized, "Unauthorized", "The access token has expired.")
		return false
	case err != nil:
		fail(w, http.StatusUnauthorized, "Unauthorized", "The access token is invalid.")
		return false
	case strings.TrimSuffix(c.Aud, "/") != entralab.ResourceSecurityCtr:
		fail(w, http.StatusUnauthorized, "Unauthorized", "The access token audience '"+c.Aud+"' is not valid for this API.")
		return false
	}
	s.mu.Lock()
	denied := s.denied
	s.mu.Unlock()
	if denied || !slices.Contains(c.Roles, entralab.RoleTiReadWriteAll) {
		fail(w, http.StatusForbidden, "Forbidden", "The application does not have any of the required application permissions (Ti.ReadWrite, Ti.ReadWrite.All) to access the resource.")
		return false
	}
	return true
}

// list answers GET /api/indicators with $filter (eq clauses joined by
// and), $top and $skip.
func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	top, skip := maxTop, 0
	var err error
	if v := q.Get("$top"); v != "" {
		if top, err = strconv.Atoi(v); err != nil || top < 0 || top > maxTop {
			fail(w, http.StatusBadRequest, "InvalidInput", "The limit of '"+strconv.Itoa(maxTop)+"' for Top query has been exceeded or the value is invalid.")
			return
		}
	}
	if v := q.Get("$skip"); v != "" {
		if skip, err = strconv.Atoi(v); err != nil || skip < 0 {
			fail(w, http.StatusBadRequest, "InvalidInput", "Invalid $skip value.")
			return
		}
	}
	match, err := parseFilter(q.Get("$filter"))
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidInput", err.Error())
		return
	}
	var hits []Indicator
	for _, in := range s.live() {
		if match(in) {
			hits = append(hits, in)
		}
	}
	hits = hits[min(skip, len(hits)):]
	hits = hits[:min(top, len(hits))]
	if hits == nil {
		hits = []Indicator{}
	}
	writeJSON(w, http.StatusOK, struct {
		Context string      `json:"@odata.context"`
		Value   []Indicator `json:"value"`
	}{"https://api.securitycenter.microsoft.com/api/$metadata#Indicators", hits})
}

// parseFilter understands "field eq 'value'" clauses joined by "and".
func parseFilter(f string) (func(Indicator) bool, error) {
	if strings.TrimSpace(f) == "" {
		return func(Indicator) bool { return true }, nil
	}
	type clause struct{ field, value string }
	var cs []clause
	for _, part := range strings.Split(f, " and ") {
		fields := strings.SplitN(strings.TrimSpace(part), " ", 3)
		if len(fields) != 3 || fields[1] != "eq" || len(fields[2]) < 2 || fields[2][0] != '\'' || fields[2][len(fields[2])-1] != '\'' {
			return nil, fmt.Errorf("Invalid filter clause '%s'.", part)
		}
		cs = append(cs, clause{fields[0], strings.ReplaceAll(fields[2][1:len(fields[2])-1], "''", "'")})
	}
	get := map[string]func(Indicator) string{
		"application":    func(in Indicator) string { return in.Application },
		"indicatorType":  func(in Indicator) string { return in.IndicatorType },
		"indicatorValue": func(in Indicator) string { return in.IndicatorValue },
		"action":         func(in Indicator) string { return in.Action },
		"createdBy":      func(in Indicator) string { return in.CreatedBy },
		"severity":       func(in Indicator) string { return in.Severity },
		"title":          func(in Indicator) string { return in.Title },
	}
	for _, c := range cs {
		if get[c.field] == nil {
			return nil, fmt.Errorf("Could not find a property named '%s' on type 'Indicator'.", c.field)
		}
	}
	return func(in Indicator) bool {
		for _, c := range cs {
			if get[c.field](in) != c.value {
				return false
			}
		}
		return true
	}, nil
}

type importItem struct {
	IndicatorValue string     `json:"indicatorValue"`
	IndicatorType  string     `json:"indicatorType"`
	Action         string     `json:"action"`
	Application    string     `json:"application"`
	Title          string     `json:"title"`
	Description    string     `json:"description"`
	Severity       string     `json:"severity"`
	GenerateAlert  bool       `json:"generateAlert"`
	ExpirationTime *time.Time `json:"expirationTime"`
	RBACGroupNames []string   `json:"rbacGroupNames"`
}

type importResult struct {
	ID            string  `json:"id"`
	Indicator     string  `json:"indicator"`
	IsFailed      bool    `json:"isFailed"`
	FailureReason *string `json:"failureReason"`
}

// importBatch answers POST /api/indicators/import: an existing value and
// type is updated (its application kept: it is set on creation only), a
// new one created while the tenant is under its cap; failures come per
// item inside the 200.
func (s *Service) importBatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Indicators []importItem `json:"Indicators"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 32<<20))
	if err := dec.Decode(&body); err != nil || body.Indicators == nil {
		fail(w, http.StatusBadRequest, "InvalidRequestBody", "Request body is invalid.")
		return
	}
	if len(body.Indicators) > maxBatch {
		fail(w, http.StatusBadRequest, "MaximumBatchSizeExceeded", fmt.Sprintf("Maximum batch size is %d, got %d.", maxBatch, len(body.Indicators)))
		return
	}
	now := s.l.Options().Now().UTC()
	live := s.live()
	byValue := map[string]*Indicator{}
	for _, in := range live {
		byValue[in.IndicatorType+"|"+in.IndicatorValue] = s.byID[in.ID]
	}
	count := len(live)
	out := make([]importResult, 0, len(body.Indicators))
	for _, it := range body.Indicators {
		res := importResult{Indicator: it.IndicatorValue}
		failed := func(reason string) {
			res.IsFailed, res.FailureReason = true, &reason
		}
		switch reason, once := s.failOnce[it.IndicatorValue]; {
		case once:
			delete(s.failOnce, it.IndicatorValue)
			failed(reason)
		case it.IndicatorType != "IpAddress" && it.IndicatorType != "DomainName" && it.IndicatorType != "Url":
			failed("Invalid indicator type '" + it.IndicatorType + "'.")
		case it.IndicatorType == "IpAddress" && !validIP(it.IndicatorValue):
			failed("Invalid IP address '" + it.IndicatorValue + "'.")
		case !slices.Contains([]string{"Alert", "Warn", "Block", "Audit", "AlertAndBlock", "Allowed", "BlockAndRemediate"}, it.Action):
			failed("Invalid action '" + it.Action + "'.")
		case it.Action == "Audit" && !it.GenerateAlert:
			failed("Audit indicators must have generateAlert set to true.")
		case it.Title == "" || it.Description == "":
			failed("Missing required parameter: title and description are required.")
		case it.ExpirationTime != nil && !it.ExpirationTime.After(now):
			failed("Expiration time must be in the future.")
		default:
			key := it.IndicatorType + "|" + it.IndicatorValue
			if old := byValue[key]; old != nil {
				old.Action, old.Title, old.Description, old.Severity = it.Action, it.Title, it.Description, it.Severity
				old.GenerateAlert, old.ExpirationTime, old.RBACGroupNames = it.GenerateAlert, it.ExpirationTime, it.RBACGroupNames
				old.LastUpdateTime, old.LastUpdatedBy = now, "c2sweep-app"
				res.ID = old.ID
				break
			}
			if count >= s.cap {
				failed(fmt.Sprintf("The tenant has reached the maximum number of indicators (%d).", s.cap))
				break
			}
			s.add(Indicator{
				IndicatorValue: it.IndicatorValue, IndicatorType: it.IndicatorType, Action: it.Action, Application: it.Application,
				Source: "c2sweep-app", SourceType: "AadApp", CreatedBy: "c2sweep-app", LastUpdatedBy: "c2sweep-app",
				CreationTimeDateTimeUtc: now, LastUpdateTime: now, ExpirationTime: it.ExpirationTime,
				Severity: it.Severity, Title: it.Title, Description: it.Description, GenerateAlert: it.GenerateAlert,
				RBACGroupNames: it.RBACGroupNames,
			})
			res.ID = strconv.Itoa(s.nextID)
			byValue[key] = s.byID[res.ID]
			count++
		}
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, struct {
		Value []importResult `json:"value"`
	}{out})
}

// validIP accepts what the service does: a dotted quad, or IPv6 with all
// eight groups; no CIDR, range or wildcard.
func validIP(v string) bool {
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return false
	}
	return a.Is4() || !strings.Contains(v, "::")
}

// batchDelete answers POST /api/indicators/BatchDelete: all or nothing.
func (s *Service) batchDelete(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IndicatorIDs []string `json:"IndicatorIds"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		fail(w, http.StatusBadRequest, "InvalidRequestBody", "Request body is invalid.")
		return
	}
	if len(body.IndicatorIDs) == 0 || len(body.IndicatorIDs) > maxBatch {
		fail(w, http.StatusBadRequest, "InvalidInput", fmt.Sprintf("IndicatorIds must hold 1 to %d ids.", maxBatch))
		return
	}
	s.live()
	for _, id := range body.IndicatorIDs {
		if s.byID[id] == nil {
			fail(w, http.StatusNotFound, "ResourceNotFound", "Indicator '"+id+"' was not found.")
			return
		}
	}
	for _, id := range body.IndicatorIDs {
		delete(s.byID, id)
	}
	w.WriteHeader(http.StatusNoContent)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"error"`
	}{struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
	}{code, msg, lab.RandomGUID()}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
