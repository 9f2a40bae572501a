package shodanlab

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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

type shodanService struct {
	l     *Lab
	hosts map[netip.Addr][]*Banner // banners by address, newest first

	mu      sync.Mutex
	credits int
	last    map[string]time.Time // last admitted request of each key
}

func newShodanService(l *Lab) (*shodanService, error) {
	s := &shodanService{l: l, credits: l.opts.ShodanCredits, last: map[string]time.Time{}, hosts: map[netip.Addr][]*Banner{}}
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

// Credits is the lab's remaining Shodan query credit balance.
func (l *Lab) ShodanCredits() int {
	l.shodan.mu.Lock()
	defer l.shodan.mu.Unlock()
	return l.shodan.credits
}

func (s *shodanService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("key")
	if key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.l.Creds.ShodanKey)) != 1 {
		nginxError(w, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet {
		nginxError(w, http.StatusMethodNotAllowed)
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
		nginxError(w, http.StatusNotFound)
	}
}

// admit applies Shodan's per-key rate limit. Requests closer than
// ShodanRate to the key's last admitted request are refused, with a little
// slack for network jitter (50 ms at the real 1 s rate).
func (s *shodanService) admit(key string) bool {
	now := s.l.opts.Now()
	slack := min(50*time.Millisecond, s.l.opts.ShodanRate/20)
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.last[key]; ok && now.Sub(last) < s.l.opts.ShodanRate-slack {
		return false
	}
	s.last[key] = now
	return true
}

func (s *shodanService) apiInfo(w http.ResponseWriter) {
	s.mu.Lock()
	c := s.credits
	s.mu.Unlock()
	writeShodanJSON(w, http.StatusOK, fmt.Appendf(nil,
		`{"scan_credits":100000,"usage_limits":{"scan_credits":-1,"query_credits":-1,"monitored_ips":-1},"plan":"stream-100","https":false,"unlocked":true,"query_credits":%d,"monitored_ips":19,"unlocked_left":%d,"telnet":false}`, c, c))
}

// search answers /shodan/host/search and (count) /shodan/host/count.
func (s *shodanService) search(w http.ResponseWriter, q url.Values, count bool) {
	if s.l.faults.chance(s.l.faults.Error200Rate) {
		shodanError(w, http.StatusOK, ErrShodanQuery.Error())
		return
	}
	page := 1
	if v := q.Get("page"); v != "" && !count {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			shodanError(w, http.StatusOK, ErrShodanQuery.Error())
			return
		}
		page = n
	}
	minify := true
	if v := strings.ToLower(q.Get("minify")); v == "false" || v == "0" || v == "no" {
		minify = false
	}
	query, err := parseShodanQuery(q.Get("query"))
	if err != nil {
		shodanError(w, http.StatusOK, ErrShodanQuery.Error())
		return
	}
	if !count && (query.hasFilter || page >= 2) {
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
	matches := query.run(s.l.World.Banners)
	var facets map[string][]Facet
	if f := q.Get("facets"); f != "" {
		if facets, err = computeFacets(f, matches); err != nil {
			shodanError(w, http.StatusOK, ErrShodanQuery.Error())
			return
		}
	}
	var pageOf []*Banner
	if !count {
		if lo := (page - 1) * shodanPageSize; lo < len(matches) {
			pageOf = matches[lo:min(lo+shodanPageSize, len(matches))]
		}
	}
	writeShodanJSON(w, http.StatusOK, SearchResponse(pageOf, len(matches), minify, facets))
}

// host answers /shodan/host/{ip} with every banner of that address.
func (s *shodanService) host(w http.ResponseWriter, ipText string) {
	ip, err := netip.ParseAddr(ipText)
	banners := s.hosts[ip.Unmap()]
	if err != nil || len(banners) == 0 {
		shodanError(w, http.StatusNotFound, shodanNoHost)
		return
	}
	// The host's own fields come from its newest banner; the lists gather
	// every banner's values, first seen first.
	first, l := banners[0], banners[0].Location
	var hostnames, domains, tags []string
	var ports []int
	for _, b := range banners {
		hostnames = appendNew(hostnames, b.Hostnames...)
		domains = appendNew(domains, b.Domains...)
		tags = appendNew(tags, b.Tags...)
		ports = appendNew(ports, b.Port)
	}
	var j jw
	j.open('{')
	j.key("region_code").strOrNull(l.RegionCode)
	if first.IP.Is4() {
		j.key("ip").int(ipNumber(first.IP))
	}
	j.key("postal_code").strOrNull(l.PostalCode)
	j.key("country_code").strOrNull(l.CountryCode)
	j.key("city").strOrNull(l.City)
	j.key("dma_code").raw("null")
	j.key("last_update").str(first.TimestampString())
	j.key("latitude").float(l.Latitude)
	j.key("longitude").float(l.Longitude)
	j.key("area_code").raw("null")
	j.key("country_name").strOrNull(l.CountryName)
	j.key("country_code3").strOrNull(l.CountryCode3)
	j.key("org").str(first.Org)
	j.key("isp").str(first.ISP)
	j.key("asn").str(first.ASN)
	j.key("os").strOrNull(first.OS)
	j.key("hostnames").strs(hostnames)
	j.key("domains").strs(domains)
	j.key("tags").strs(tags)
	j.key("ip_str").str(first.IP.String())
	j.key("ports").ints(ports)
	j.key("data").banners(banners, false)
	j.close('}')
	writeShodanJSON(w, http.StatusOK, j.b)
}

func writeShodanJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// appendNew appends the values of vs that dst does not hold yet.
func appendNew[T comparable](dst []T, vs ...T) []T {
	for _, v := range vs {
		if !slices.Contains(dst, v) {
			dst = append(dst, v)
		}
	}
	return dst
}

// shodanError writes Shodan's {"error": "..."} body.
func shodanError(w http.ResponseWriter, status int, msg string) {
	var j jw
	j.open('{')
	j.key("error").str(msg)
	j.close('}')
	writeShodanJSON(w, status, j.b)
}

// nginxError writes the HTML page nginx answers with in front of Shodan,
// e.g. for a bad key (401): not JSON.
func nginxError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
		code, http.StatusText(code), code, http.StatusText(code))
}
