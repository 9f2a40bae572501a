package shodanlab

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"c2sweep/internal/lab"
)

// The Shodan emulator: /api-info, /account/profile, /shodan/host/search,
// /shodan/host/count and /shodan/host/{ip}, with Shodan's credits, rate
// limit and error bodies (api-contracts.md).

// Shodan's error messages, byte for byte.
const (
	shodanRateLimited = "Request rate limit reached (1 request/ second). Please wait a second before trying again and slow down your API calls."
	shodanNoCredits   = "Insufficient query credits, please upgrade your API plan or wait for the monthly limit to reset"
	shodanNoHost      = "No information available for that IP."
)

// shodanPageSize is how many matches a search page holds.
const shodanPageSize = 100

type Service struct {
	l     *lab.Lab
	hosts map[netip.Addr][]*lab.Banner // banners by address, newest first

	mu      sync.Mutex
	credits int
	last    map[string]time.Time // last admitted request of each key
	silent  map[string]bool      // lower-case frameworks whose servers Shodan no longer sees
}

func New(l *lab.Lab) (*Service, error) {
	s := &Service{l: l, credits: l.Options().ShodanCredits, last: map[string]time.Time{}, hosts: map[netip.Addr][]*lab.Banner{}}
	if s.credits < 0 {
		s.credits = 0
	}
	for _, b := range l.World.Banners {
		// The injection banner has no address to look up.
		if b.IPStr == b.IP.String() {
			s.hosts[b.IP] = append(s.hosts[b.IP], b)
		}
	}
	return s, nil
}

// Routes are Shodan's paths.
func (s *Service) Routes() []lab.Route {
	return []lab.Route{
		{Path: "/api-info", Name: "shodan", Handler: s},
		{Path: "/account/", Name: "shodan", Handler: s},
		{Path: "/shodan/", Name: "shodan", Handler: s},
	}
}

// Credits is the remaining query credit balance of the lab's Shodan.
func Credits(l *lab.Lab) int {
	for _, svc := range l.Services() {
		if s, ok := svc.(*Service); ok {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.credits
		}
	}
	return 0
}

// Silence makes the lab's Shodan stop seeing the servers of the named
// frameworks or families (Server.Framework, case-insensitive) in searches
// and counts, as when a fingerprint stops working; Silence with no names
// brings them all back. Tests of hunt health use it between runs.
func Silence(l *lab.Lab, frameworks ...string) {
	for _, svc := range l.Services() {
		if s, ok := svc.(*Service); ok {
			s.mu.Lock()
			s.silent = map[string]bool{}
			for _, f := range frameworks {
				s.silent[strings.ToLower(f)] = true
			}
			s.mu.Unlock()
		}
	}
}

// audible drops the banners of silenced frameworks.
func (s *Service) audible(matches []*lab.Banner) []*lab.Banner {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.silent) == 0 {
		return matches
	}
	out := make([]*lab.Banner, 0, len(matches))
	for _, b := range matches {
		if b.Server == nil || !s.silent[strings.ToLower(b.Server.Framework)] {
			out = append(out, b)
		}
	}
	return out
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("key")
	if key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.l.Creds.ShodanKey)) != 1 {
		lab.NginxError(w, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet {
		lab.NginxError(w, http.StatusMethodNotAllowed)
		return
	}
	if !s.admit(key) {
		w.Header().Set("Retry-After", "0")
		shodanError(w, http.StatusTooManyRequests, shodanRateLimited)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/api-info":
		s.apiInfo(w)
	case p == "/account/profile":
		writeShodanJSON(w, http.StatusOK, []byte(`{"member":true,"credits":0,"display_name":null,"created":"2019-03-01T10:12:41.524000"}`))
	case p == "/shodan/host/search":
		s.search(w, q, false)
	case p == "/shodan/host/count":
		s.search(w, q, true)
	case strings.HasPrefix(p, "/shodan/host/"):
		s.host(w, strings.TrimPrefix(p, "/shodan/host/"))
	default:
		lab.NginxError(w, http.StatusNotFound)
	}
}

// admit applies Shodan's per-key rate limit. Requests closer than
// ShodanRate to the key's last admitted request are refused, with a little
// slack for network jitter (50 ms at the real 1 s rate).
func (s *Service) admit(key string) bool {
	now := s.l.Options().Now()
	slack := min(50*time.Millisecond, s.l.Options().ShodanRate/20)
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.last[key]; ok && now.Sub(last) < s.l.Options().ShodanRate-slack {
		return false
	}
	s.last[key] = now
	return true
}

func (s *Service) apiInfo(w http.ResponseWriter) {
	s.mu.Lock()
	c := s.credits
	s.mu.Unlock()
	writeShodanJSON(w, http.StatusOK, fmt.Appendf(nil,
		`{"scan_credits":100000,"usage_limits":{"scan_credits":-1,"query_credits":-1,"monitored_ips":-1},"plan":"stream-100","https":false,"unlocked":true,"query_credits":%d,"monitored_ips":19,"unlocked_left":%d,"telnet":false}`, c, c))
}

// search answers /shodan/host/search and (count) /shodan/host/count.
func (s *Service) search(w http.ResponseWriter, q url.Values, count bool) {
	if s.l.FaultChance(s.l.Faults().Error200Rate) {
		shodanError(w, http.StatusOK, lab.ErrShodanQuery.Error())
		return
	}
	page := 1
	if v := q.Get("page"); v != "" && !count {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			shodanError(w, http.StatusOK, lab.ErrShodanQuery.Error())
			return
		}
		page = n
	}
	minify := true
	if v := strings.ToLower(q.Get("minify")); v == "false" || v == "0" || v == "no" {
		minify = false
	}
	query, err := lab.ParseShodanQuery(q.Get("query"))
	if err != nil {
		shodanError(w, http.StatusOK, lab.ErrShodanQuery.Error())
		return
	}
	if !count && (query.HasFilter() || page >= 2) {
		s.mu.Lock()
		ok := s.credits > 0
		if ok {
			s.credits--
		}
		s.mu.Unlock()
		if !ok {
			shodanError(w, http.StatusUnauthorized, shodanNoCredits)
			return
		}
	}
	matches := s.audible(query.Run(s.l.World.Banners))
	var facets map[string][]lab.Facet
	if f := q.Get("facets"); f != "" {
		if facets, err = lab.ShodanFacets(f, matches); err != nil {
			shodanError(w, http.StatusOK, lab.ErrShodanQuery.Error())
			return
		}
	}
	var pageOf []*lab.Banner
	if !count {
		if lo := (page - 1) * shodanPageSize; lo < len(matches) {
			pageOf = matches[lo:min(lo+shodanPageSize, len(matches))]
		}
	}
	writeShodanJSON(w, http.StatusOK, lab.SearchResponse(pageOf, len(matches), minify, facets))
}

// host answers /shodan/host/{ip} with every banner of that address.
func (s *Service) host(w http.ResponseWriter, ipText string) {
	ip, err := netip.ParseAddr(ipText)
	banners := s.hosts[ip.Unmap()]
	if err != nil || len(banners) == 0 {
		shodanError(w, http.StatusNotFound, shodanNoHost)
		return
	}
	writeShodanJSON(w, http.StatusOK, lab.HostResponse(banners))
}

func writeShodanJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// shodanError writes Shodan's {"error": "..."} body.
func shodanError(w http.ResponseWriter, status int, msg string) {
	writeShodanJSON(w, status, lab.ShodanErrorBody(msg))
}
