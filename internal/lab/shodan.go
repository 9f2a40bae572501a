package lab

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
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
func (s *shodanService) search(w http.ResponseWriter, q map[string][]string, count bool) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if s.l.faults.chance(s.l.faults.Error200Rate) {
		shodanError(w, http.StatusOK, ErrShodanQuery.Error())
		return
	}
	page := 1
	if v := get("page"); v != "" && !count {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			shodanError(w, http.StatusOK, ErrShodanQuery.Error())
			return
		}
		page = n
	}
	minify := true
	if v := strings.ToLower(get("minify")); v == "false" || v == "0" || v == "no" {
		minify = false
	}
	query, err := parseShodanQuery(get("query"))
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
	if f := get("facets"); f != "" {
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
	first := banners[0]
	var j jw
	j.open('{')
	l := first.Location
	j.key("region_code")
	j.strOrNull(l.RegionCode)
	if first.IP.Is4() {
		a := first.IP.As4()
		j.key("ip")
		j.int(int64(uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])))
	}
	j.key("postal_code")
	j.strOrNull(l.PostalCode)
	j.key("country_code")
	j.strOrNull(l.CountryCode)
	j.key("city")
	j.strOrNull(l.City)
	j.key("dma_code")
	j.raw("null")
	j.key("last_update")
	j.str(first.TimestampString())
	j.key("latitude")
	j.float(l.Latitude)
	j.key("longitude")
	j.float(l.Longitude)
	j.key("area_code")
	j.raw("null")
	j.key("country_name")
	j.strOrNull(l.CountryName)
	j.key("country_code3")
	j.strOrNull(l.CountryCode3)
	j.key("org")
	j.str(first.Org)
	j.key("isp")
	j.str(first.ISP)
	j.key("asn")
	j.str(first.ASN)
	j.key("os")
	j.strOrNull(first.OS)
	seen := map[string]bool{}
	var hostnames, domains, tags []string
	var ports []int
	seenPort := map[int]bool{}
	for _, b := range banners {
		for _, h := range b.Hostnames {
			if !seen["h"+h] {
				seen["h"+h] = true
				hostnames = append(hostnames, h)
			}
		}
		for _, d := range b.Domains {
			if !seen["d"+d] {
				seen["d"+d] = true
				domains = append(domains, d)
			}
		}
		for _, t := range b.Tags {
			if !seen["t"+t] {
				seen["t"+t] = true
				tags = append(tags, t)
			}
		}
		if !seenPort[b.Port] {
			seenPort[b.Port] = true
			ports = append(ports, b.Port)
		}
	}
	j.key("hostnames")
	j.strs(hostnames)
	j.key("domains")
	j.strs(domains)
	j.key("tags")
	j.strs(tags)
	j.key("ip_str")
	j.str(first.IP.String())
	j.key("ports")
	j.b = append(j.b, '[')
	for i, p := range ports {
		if i > 0 {
			j.b = append(j.b, ',')
		}
		j.b = strconv.AppendInt(j.b, int64(p), 10)
	}
	j.b = append(j.b, ']')
	j.key("data")
	j.open('[')
	for _, b := range banners {
		j.comma()
		j.b = b.AppendJSON(j.b, false)
		j.first = false
	}
	j.close(']')
	j.close('}')
	writeShodanJSON(w, http.StatusOK, j.b)
}

func writeShodanJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// shodanError writes Shodan's {"error": "..."} body.
func shodanError(w http.ResponseWriter, status int, msg string) {
	var j jw
	j.open('{')
	j.key("error")
	j.str(msg)
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
