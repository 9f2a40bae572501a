// Package indicator holds the values that flow through a sweep: the IP
// addresses that hunts point at (indicators), why they were named
// (sightings), and the telemetry rows that matched them (hits).
package indicator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Sighting is one reason an IP is on the list: an item (a banner, an IOC,
// a feed line) a hunt's source gave.
type Sighting struct {
	Hunt      string    `json:"hunt"`
	Source    string    `json:"source"` // the source kind: shodan, threatfox, feodo, feed, shodan-file
	Port      int       `json:"port,omitempty"`
	Transport string    `json:"transport,omitempty"`
	Product   string    `json:"product,omitempty"`
	Version   string    `json:"version,omitempty"`
	Org       string    `json:"org,omitempty"`
	ISP       string    `json:"isp,omitempty"`
	ASN       string    `json:"asn,omitempty"`
	Country   string    `json:"country,omitempty"` // ISO 3166 alpha-2
	Hostnames []string  `json:"hostnames,omitempty"`
	JARM      string    `json:"jarm,omitempty"`
	LastSeen  time.Time `json:"last_seen"`
	// Labels are what the source says of the server, beyond the banner.
	Labels Labels `json:"labels,omitzero"`
}

// Labels are a source's own words on a server: the malware or framework,
// how sure it is, its tags, and a link back to its record.
type Labels struct {
	// Malware is the family or framework as the source names it for
	// people ("Cobalt Strike", "QakBot").
	Malware string `json:"malware,omitempty"`
	// MalwareID is the Malpedia id when the source gives one.
	MalwareID string `json:"malware_id,omitempty"`
	// Confidence is the source's 0-100 score; 0 when it gives none.
	Confidence int      `json:"confidence,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	// Reference links back to the source's record, or to a report.
	Reference string `json:"reference,omitempty"`
}

// IsZero reports whether the source gave no label.
func (l Labels) IsZero() bool {
	return l.Malware == "" && l.MalwareID == "" && l.Confidence == 0 && len(l.Tags) == 0 && l.Reference == ""
}

// Indicator is one IP address and every sighting that named it.
type Indicator struct {
	IP        netip.Addr `json:"ip"`
	Sightings []Sighting `json:"sightings"`
}

// Hunts returns the sorted, distinct names of the hunts that named the IP.
func (in *Indicator) Hunts() []string {
	var hs []string
	for _, s := range in.Sightings {
		hs = append(hs, s.Hunt)
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}

// LastSeen is the newest sighting time.
func (in *Indicator) LastSeen() time.Time {
	var t time.Time
	for _, s := range in.Sightings {
		if s.LastSeen.After(t) {
			t = s.LastSeen
		}
	}
	return t
}

// Set deduplicates indicators across hunts while keeping every sighting.
// The zero value is ready to use. It is not safe for concurrent use.
type Set struct {
	m map[netip.Addr]*Indicator
}

// Add records a sighting of ip. ip must be valid and unmapped (see ParseIP).
// An identical sighting (same hunt, port, transport and time) is kept once.
func (s *Set) Add(ip netip.Addr, sg Sighting) {
	if s.m == nil {
		s.m = make(map[netip.Addr]*Indicator)
	}
	in, ok := s.m[ip]
	if !ok {
		in = &Indicator{IP: ip}
		s.m[ip] = in
	}
	for _, old := range in.Sightings {
		if old.Hunt == sg.Hunt && old.Port == sg.Port && old.Transport == sg.Transport && old.LastSeen.Equal(sg.LastSeen) {
			return
		}
	}
	in.Sightings = append(in.Sightings, sg)
}

// Get returns the indicator for ip, if any. Mapped IPv4 is looked up as IPv4,
// so a telemetry value "::ffff:1.2.3.4" finds the indicator 1.2.3.4.
func (s *Set) Get(ip netip.Addr) (*Indicator, bool) {
	in, ok := s.m[ip.Unmap()]
	return in, ok
}

// Len is the number of distinct IPs.
func (s *Set) Len() int { return len(s.m) }

// All returns the indicators sorted by IP.
func (s *Set) All() []*Indicator {
	out := make([]*Indicator, 0, len(s.m))
	for _, in := range s.m {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *Indicator) int { return a.IP.Compare(b.IP) })
	return out
}

// IPs returns the sorted IPs named by hunt, or by any hunt when hunt is "".
func (s *Set) IPs(hunt string) []netip.Addr {
	var out []netip.Addr
	for ip, in := range s.m {
		if hunt == "" || slices.Contains(in.Hunts(), hunt) {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// ErrNotIP is wrapped by ParseIP for input that is not a usable IP address.
var ErrNotIP = errors.New("not an IP address")

// ParseIP parses an address as a source or telemetry gives it. It accepts
// IPv4 and IPv6 (IPv4-mapped IPv6 becomes IPv4) and rejects everything else,
// including zones and addresses that can never be a C2 server on the
// internet (unspecified, loopback, multicast): such input is skipped and
// counted, never pasted into a query.
func ParseIP(s string) (netip.Addr, error) {
	if len(s) > 64 {
		return netip.Addr{}, fmt.Errorf("%w: %d bytes", ErrNotIP, len(s))
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrNotIP, s)
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: %q has a zone", ErrNotIP, s)
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() || ip.IsLinkLocalUnicast() {
		return netip.Addr{}, fmt.Errorf("%w: %s is not a routable address", ErrNotIP, ip)
	}
	return ip, nil
}

// Skips counts inputs that were dropped, by reason, so that a run can say
// what it ignored and why.
type Skips map[string]int

// Add counts one skipped input.
func (s Skips) Add(reason string) { s[reason]++ }

// Total is the number of skipped inputs.
func (s Skips) Total() int {
	n := 0
	for _, c := range s {
		n += c
	}
	return n
}

// Merge adds o's counts to s.
func (s Skips) Merge(o Skips) {
	for k, v := range o {
		s[k] += v
	}
}
