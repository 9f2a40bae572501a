// Package cdnlab is the lab's copy of the CDN operators' published range
// lists: every URL of exclude.Upstreams, served under the lab's address as
// /{host}{path} (exclude.Upstream.At), in the operator's own format
// (Cloudflare's and Akamai's plain text, Fastly's JSON, AWS's
// ip-ranges.json, Azure's service tags, Google's goog.json and cloud.json).
// The data is the embedded snapshot's, so an update against the lab
// writes back what c2sweep ships. Empty (and the lab's cdnempty fault)
// and Fail are its faults: an operator answering an emptied list, and one
// that cannot be reached.
package cdnlab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"c2sweep/internal/exclude"
	"c2sweep/internal/lab"
)

// Service serves the operators' lists.
type Service struct {
	snap   *exclude.Snapshot
	faults lab.Faults // the lab's cdnempty

	mu     sync.Mutex
	empty  map[string]bool // lists answered with no prefixes
	failed map[string]bool // lists whose connections are dropped
}

// New builds the service over the embedded snapshot.
func New(l *lab.Lab) (*Service, error) {
	return &Service{snap: exclude.Builtin(), faults: l.Options().Faults, empty: map[string]bool{}, failed: map[string]bool{}}, nil
}

// Routes are one path per upstream URL.
func (s *Service) Routes() []lab.Route {
	var rs []lab.Route
	for _, u := range exclude.Upstreams {
		paths, err := u.At("https://lab")
		if err != nil {
			panic("cdnlab: " + err.Error()) // the upstreams are c2sweep's own constants
		}
		for i, p := range paths {
			rs = append(rs, lab.Route{Path: strings.TrimPrefix(p, "https://lab"), Name: "cdn", Handler: s.handler(u.Name, i)})
		}
	}
	return rs
}

// Empty makes the named lists (e.g. "fastly") answer with no prefixes, in
// their usual format, as an operator's broken publication would; Empty
// with no names serves them all whole again.
func Empty(l *lab.Lab, names ...string) {
	set(l, func(s *Service) *map[string]bool { return &s.empty }, names)
}

// Fail makes the named lists' requests end with a dropped connection, as
// an unreachable operator; Fail with no names ends that.
func Fail(l *lab.Lab, names ...string) {
	set(l, func(s *Service) *map[string]bool { return &s.failed }, names)
}

func set(l *lab.Lab, field func(*Service) *map[string]bool, names []string) {
	for _, svc := range l.Services() {
		if s, ok := svc.(*Service); ok {
			s.mu.Lock()
			m := map[string]bool{}
			for _, n := range names {
				m[n] = true
			}
			*field(s) = m
			s.mu.Unlock()
		}
	}
}

func (s *Service) handler(name string, part int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			lab.NginxError(w, http.StatusMethodNotAllowed)
			return
		}
		s.mu.Lock()
		empty, failed := s.empty[name], s.failed[name]
		s.mu.Unlock()
		empty = empty || s.faults.CDNEmpty == name || s.faults.CDNEmpty == "all"
		if failed {
			panic(http.ErrAbortHandler) // the connection ends with no answer
		}
		var ps []netip.Prefix
		if l := s.snap.List(name); l != nil && !empty {
			ps = l.Prefixes
		}
		ctype, body := render(name, part, ps, empty)
		w.Header().Set("Content-Type", ctype)
		w.Write(body)
	})
}

// decoy is an address block in every JSON document that the list must not
// take: another AWS service, another Azure tag, a Google Cloud range.
var decoy = netip.MustParsePrefix("192.0.2.0/24")

// render writes part of list name's upstream in the operator's format.
func render(name string, part int, ps []netip.Prefix, empty bool) (string, []byte) {
	var v4, v6 []string
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p.String())
		} else {
			v6 = append(v6, p.String())
		}
	}
	text := func(ss []string) (string, []byte) {
		if len(ss) == 0 {
			return "text/plain", nil
		}
		return "text/plain", []byte(strings.Join(ss, "\n") + "\n")
	}
	switch name {
	case "cloudflare", "akamai":
		if part == 0 {
			return text(v4)
		}
		return text(v6)
	case "fastly":
		return js(map[string]any{"addresses": nonNil(v4), "ipv6_addresses": nonNil(v6)})
	case "amazon-cloudfront":
		type p4 struct {
			Prefix  string `json:"ip_prefix"`
			Region  string `json:"region"`
			Service string `json:"service"`
			Border  string `json:"network_border_group"`
		}
		type p6 struct {
			Prefix  string `json:"ipv6_prefix"`
			Region  string `json:"region"`
			Service string `json:"service"`
			Border  string `json:"network_border_group"`
		}
		// AWS lists every CloudFront prefix twice: as AMAZON and as CLOUDFRONT.
		a4 := []p4{{decoy.String(), "us-east-1", "AMAZON", "us-east-1"}}
		a6 := []p6{}
		for _, s := range v4 {
			a4 = append(a4, p4{s, "GLOBAL", "AMAZON", "GLOBAL"}, p4{s, "GLOBAL", "CLOUDFRONT", "GLOBAL"})
		}
		for _, s := range v6 {
			a6 = append(a6, p6{s, "GLOBAL", "AMAZON", "GLOBAL"}, p6{s, "GLOBAL", "CLOUDFRONT", "GLOBAL"})
		}
		return js(map[string]any{"syncToken": "1764547200", "createDate": "2026-12-01-00-00-00", "prefixes": a4, "ipv6_prefixes": a6})
	case "azure-frontdoor":
		tag := func(id string, prefixes []string) map[string]any {
			return map[string]any{"name": id, "id": id, "properties": map[string]any{
				"changeNumber": 1, "region": "", "platform": "Azure", "systemService": "AzureFrontDoor", "addressPrefixes": nonNil(prefixes)}}
		}
		return js(map[string]any{"changeNumber": 1, "cloud": "Public", "values": []any{
			tag("AzureCloud", []string{decoy.String()}),
			tag("AzureFrontDoor.Frontend", append(v4, v6...)),
		}})
	case "google-services":
		type gp struct {
			V4 string `json:"ipv4Prefix,omitempty"`
			V6 string `json:"ipv6Prefix,omitempty"`
		}
		cloud := []gp{{V4: decoy.String()}}
		if part == 1 {
			return js(map[string]any{"syncToken": "1", "creationTime": "2026-12-01T00:00:00", "prefixes": cloud})
		}
		// goog.json holds Cloud's ranges too; the list is goog minus cloud.
		var goog []gp
		if !empty {
			goog = append(goog, cloud...)
		}
		for _, s := range v4 {
			goog = append(goog, gp{V4: s})
		}
		for _, s := range v6 {
			goog = append(goog, gp{V6: s})
		}
		return js(map[string]any{"syncToken": "1", "creationTime": "2026-12-01T00:00:00", "prefixes": nonNil(goog)})
	}
	panic(fmt.Sprintf("cdnlab: no format for list %q", name))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func js(v any) (string, []byte) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return "application/json", append(b, '\n')
}
