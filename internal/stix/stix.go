// Package stix writes what c2sweep found as a STIX 2.1 bundle that a
// threat-intelligence platform imports as is: an indicator, an
// infrastructure and the observed address for each C2 server, its family as
// malware, the relationships between them, and a sighting for each server
// that devices of the organisation contacted.
//
// Ids are deterministic (UUIDv5 in Namespace, from what identifies the
// object), so a re-export updates the objects a platform already holds
// instead of duplicating them; created and modified come from the facts
// behind each object, so unchanged content exports byte for byte the same.
package stix

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Namespace is the UUIDv5 namespace of every SDO and SRO id c2sweep writes
// (a random UUID chosen once; never change it, or every platform that
// imported c2sweep's bundles gets duplicates). The name hashed in it is the
// object's type and what identifies it, NUL-separated: the pattern of an
// indicator, the address of an infrastructure, the lower-case name of a
// malware family or of the organisation, the type and both ends of a
// relationship, the sighted indicator and the organisation of a sighting.
const Namespace = "ab770f03-96ad-4dfe-b8c2-cae6c0f700c6"

// scoNamespace is the namespace the STIX 2.1 specification (section 2.9)
// fixes for the ids of cyber-observable objects, so that every producer
// gives 198.51.100.7 the same ipv4-addr id.
const scoNamespace = "00abedb4-aa42-466c-9c01-fed23315a9b7"

// epoch is created and modified of the objects whose content has no time
// of its own (the organisation's identity, a malware family): a fixed time,
// so that a re-export never presents them as a new version.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// maxCount is the largest count a sighting may carry (STIX 2.1, 5.1).
const maxCount = 999_999_999

// Input is what a bundle is built from, neutral of the state's layout.
type Input struct {
	// Organisation names the identity whose devices made the sightings.
	Organisation string
	// TTL is how long an indicator stays valid after the server was last
	// seen: valid_until = LastSeen + TTL. At least a second.
	TTL     time.Duration
	Servers []Server
}

// Server is one C2 server and what the organisation saw of it.
type Server struct {
	IP         netip.Addr // IPv4 or IPv6; IPv4-mapped IPv6 is written as IPv4
	Families   []string   // malware families, as the sources name them
	Hunts      []string   // the hunts that named it
	Sources    []string   // the sources those hunts read
	Ports      []int
	FirstSeen  time.Time // by the sources
	LastSeen   time.Time
	Confidence int      // 0-100; 0 when no source gives one (then omitted)
	Labels     []string // further labels, as given
	// Contacts is what devices of the organisation did: Count 0 when none
	// contacted the server (no sighting then).
	Contacts Contacts
}

// Contacts summarises the telemetry events that matched one server.
type Contacts struct {
	First, Last time.Time // of the events
	Count       int
	// Recorded is when the newest of these events was recorded (optional):
	// the sighting's modified is the later of it and Last, so an event that
	// arrives late still makes a new version.
	Recorded time.Time
}

// Bundle is a STIX 2.1 bundle. Bundles carry no spec_version in 2.1.
type Bundle struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Objects []any  `json:"objects"`
}

// common holds the properties every SDO and SRO has.
type common struct {
	Type         string `json:"type"`
	SpecVersion  string `json:"spec_version"`
	ID           string `json:"id"`
	CreatedByRef string `json:"created_by_ref,omitempty"`
	Created      string `json:"created"`
	Modified     string `json:"modified"`
}

type identity struct {
	common
	Name          string `json:"name"`
	IdentityClass string `json:"identity_class"`
}

type malware struct {
	common
	Name     string `json:"name"`
	IsFamily bool   `json:"is_family"`
}

type indicatorSDO struct {
	common
	Name           string   `json:"name"`
	Description    string   `json:"description,omitempty"`
	IndicatorTypes []string `json:"indicator_types"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	PatternVersion string   `json:"pattern_version"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until"`
	Confidence     int      `json:"confidence,omitempty"`
	Labels         []string `json:"labels,omitempty"`
}

type infrastructure struct {
	common
	Name                string   `json:"name"`
	Description         string   `json:"description,omitempty"`
	InfrastructureTypes []string `json:"infrastructure_types"`
	FirstSeen           string   `json:"first_seen"`
	LastSeen            string   `json:"last_seen"`
	Confidence          int      `json:"confidence,omitempty"`
	Labels              []string `json:"labels,omitempty"`
}

// address is an ipv4-addr or ipv6-addr cyber-observable object.
type address struct {
	Type        string `json:"type"`
	SpecVersion string `json:"spec_version"`
	ID          string `json:"id"`
	Value       string `json:"value"`
}

type relationship struct {
	common
	RelationshipType string `json:"relationship_type"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
}

type sighting struct {
	common
	FirstSeen        string   `json:"first_seen"`
	LastSeen         string   `json:"last_seen"`
	Count            int      `json:"count"`
	SightingOfRef    string   `json:"sighting_of_ref"`
	WhereSightedRefs []string `json:"where_sighted_refs"`
}

// ErrInput is wrapped by Build for input that cannot make a valid bundle.
var ErrInput = errors.New("stix: invalid input")

// Build makes the bundle. Objects come in a fixed order (the identity, the
// families by name, then each server by address), so equal input gives an
// equal bundle.
func Build(in Input) (*Bundle, error) {
	in.Organisation = strings.TrimSpace(in.Organisation)
	if in.Organisation == "" {
		return nil, fmt.Errorf("%w: the organisation has no name", ErrInput)
	}
	if in.TTL < time.Second {
		return nil, fmt.Errorf("%w: indicator TTL %v must be at least a second", ErrInput, in.TTL)
	}
	servers := slices.Clone(in.Servers)
	for i := range servers {
		if err := normalise(&servers[i]); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(servers, func(a, b Server) int { return a.IP.Compare(b.IP) })
	for i := 1; i < len(servers); i++ {
		if servers[i].IP == servers[i-1].IP {
			return nil, fmt.Errorf("%w: server %s given twice", ErrInput, servers[i].IP)
		}
	}

	epochStamp := stamp(epoch)
	org := identity{
		common:        common{Type: "identity", SpecVersion: "2.1", Created: epochStamp, Modified: epochStamp},
		Name:          in.Organisation,
		IdentityClass: "organization",
	}
	org.ID = id("identity", strings.ToLower(in.Organisation))
	objs := []any{org}

	// Families: one malware object per name, whatever its case.
	families := map[string]string{} // lower-case name -> id
	var names []string
	for _, s := range servers {
		for _, f := range s.Families {
			k := strings.ToLower(f)
			if _, ok := families[k]; !ok {
				families[k] = id("malware", k)
				names = append(names, f)
			}
		}
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for _, n := range names {
		objs = append(objs, malware{
			common:   common{Type: "malware", SpecVersion: "2.1", ID: families[strings.ToLower(n)], CreatedByRef: org.ID, Created: epochStamp, Modified: epochStamp},
			Name:     n,
			IsFamily: true,
		})
	}

	for _, s := range servers {
		objs = append(objs, serverObjects(s, in.TTL, org.ID, families)...)
	}

	// The bundle's id hashes every object: the same content is the same
	// bundle.
	var h strings.Builder
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		h.Write(b)
		h.WriteByte(0)
	}
	return &Bundle{Type: "bundle", ID: id("bundle", h.String()), Objects: objs}, nil
}

// serverObjects are the address, infrastructure, indicator, their
// relationships and the sighting of one server.
func serverObjects(s Server, ttl time.Duration, orgID string, families map[string]string) []any {
	ip := s.IP.String()
	kind := "ipv4-addr"
	if s.IP.Is6() {
		kind = "ipv6-addr"
	}
	first, last := stamp(s.FirstSeen), stamp(s.LastSeen)
	fam := strings.Join(s.Families, ", ")
	if fam == "" {
		fam = "unknown family"
	}
	labels := slices.Clone(s.Labels)
	for _, h := range s.Hunts {
		labels = append(labels, "hunt:"+h)
	}
	for _, src := range s.Sources {
		labels = append(labels, "source:"+src)
	}
	slices.Sort(labels)
	labels = slices.Compact(labels)
	desc := describe(s)

	addr := address{Type: kind, SpecVersion: "2.1", ID: kind + "--" + uuid5(scoNamespace, `{"value":"`+ip+`"}`), Value: ip}
	infra := infrastructure{
		common:              common{Type: "infrastructure", SpecVersion: "2.1", ID: id("infrastructure", ip), CreatedByRef: orgID, Created: first, Modified: last},
		Name:                "C2 server " + ip + " (" + fam + ")",
		Description:         desc,
		InfrastructureTypes: []string{"command-and-control"},
		FirstSeen:           first,
		LastSeen:            last,
		Confidence:          s.Confidence,
		Labels:              labels,
	}
	pattern := "[" + kind + ":value = " + patternString(ip) + "]"
	ind := indicatorSDO{
		common:         common{Type: "indicator", SpecVersion: "2.1", ID: id("indicator", pattern), CreatedByRef: orgID, Created: first, Modified: last},
		Name:           fam + " C2 " + ip,
		Description:    desc,
		IndicatorTypes: []string{"malicious-activity"},
		Pattern:        pattern,
		PatternType:    "stix",
		PatternVersion: "2.1",
		ValidFrom:      first,
		ValidUntil:     stamp(s.LastSeen.Add(ttl)),
		Confidence:     s.Confidence,
		Labels:         labels,
	}
	objs := []any{addr, infra, ind}
	rel := func(typ, from, to string) {
		objs = append(objs, relationship{
			common:           common{Type: "relationship", SpecVersion: "2.1", ID: id("relationship", typ, from, to), CreatedByRef: orgID, Created: first, Modified: first},
			RelationshipType: typ,
			SourceRef:        from,
			TargetRef:        to,
		})
	}
	rel("consists-of", infra.ID, addr.ID)
	rel("indicates", ind.ID, infra.ID)
	for _, f := range s.Families {
		rel("indicates", ind.ID, families[strings.ToLower(f)])
		rel("controls", infra.ID, families[strings.ToLower(f)])
	}
	if c := s.Contacts; c.Count > 0 {
		objs = append(objs, sighting{
			common:           common{Type: "sighting", SpecVersion: "2.1", ID: id("sighting", ind.ID, orgID), CreatedByRef: orgID, Created: stamp(c.First), Modified: stamp(later(c.Last, c.Recorded))},
			FirstSeen:        stamp(c.First),
			LastSeen:         stamp(c.Last),
			Count:            min(c.Count, maxCount),
			SightingOfRef:    ind.ID,
			WhereSightedRefs: []string{orgID},
		})
	}
	return objs
}

// normalise checks one server and puts it in canonical form: unmapped,
// sorted, deduplicated, times in UTC to the millisecond.
func normalise(s *Server) error {
	if !s.IP.IsValid() {
		return fmt.Errorf("%w: a server has no IP address", ErrInput)
	}
	if s.IP.Zone() != "" {
		return fmt.Errorf("%w: server %s: an address with a zone is not a C2 address", ErrInput, s.IP)
	}
	s.IP = s.IP.Unmap()
	if s.FirstSeen.IsZero() || s.LastSeen.IsZero() {
		return fmt.Errorf("%w: server %s: first and last seen are required", ErrInput, s.IP)
	}
	s.FirstSeen, s.LastSeen = ms(s.FirstSeen), ms(s.LastSeen)
	if s.LastSeen.Before(s.FirstSeen) {
		return fmt.Errorf("%w: server %s: last seen %s is before first seen %s", ErrInput, s.IP, stamp(s.LastSeen), stamp(s.FirstSeen))
	}
	if s.Confidence < 0 || s.Confidence > 100 {
		return fmt.Errorf("%w: server %s: confidence %d is not 0-100", ErrInput, s.IP, s.Confidence)
	}
	c := &s.Contacts
	switch {
	case c.Count < 0:
		return fmt.Errorf("%w: server %s: contact count %d is negative", ErrInput, s.IP, c.Count)
	case c.Count > 0 && (c.First.IsZero() || c.Last.IsZero()):
		return fmt.Errorf("%w: server %s: contacts need their first and last time", ErrInput, s.IP)
	}
	c.First, c.Last, c.Recorded = ms(c.First), ms(c.Last), ms(c.Recorded)
	if c.Last.Before(c.First) {
		return fmt.Errorf("%w: server %s: last contact is before the first", ErrInput, s.IP)
	}
	s.Families = clean(s.Families)
	// Two spellings of one family are one malware object: keep the first.
	s.Families = slices.CompactFunc(s.Families, strings.EqualFold)
	s.Hunts, s.Sources, s.Labels = clean(s.Hunts), clean(s.Sources), clean(s.Labels)
	s.Ports = slices.Clone(s.Ports)
	slices.Sort(s.Ports)
	s.Ports = slices.Compact(s.Ports)
	return nil
}

// clean drops blank entries, then sorts and deduplicates.
func clean(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

// describe says in a sentence why the server is listed.
func describe(s Server) string {
	var b strings.Builder
	b.WriteString("C2 server")
	if len(s.Families) > 0 {
		b.WriteString(" of " + strings.Join(s.Families, ", "))
	}
	if len(s.Hunts) > 0 {
		b.WriteString(", named by c2sweep hunts " + strings.Join(s.Hunts, ", "))
	}
	if len(s.Sources) > 0 {
		b.WriteString(" (sources: " + strings.Join(s.Sources, ", ") + ")")
	}
	if len(s.Ports) > 0 {
		ps := make([]string, len(s.Ports))
		for i, p := range s.Ports {
			ps[i] = strconv.Itoa(p)
		}
		b.WriteString("; ports " + strings.Join(ps, ", "))
	}
	b.WriteString(".")
	return b.String()
}

// patternString quotes s as a STIX patterning string literal: inside
// single quotes, a backslash and a quote are escaped with a backslash.
func patternString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// timeLayout is RFC 3339 in UTC with milliseconds, as STIX requires for
// created and modified.
const timeLayout = "2006-01-02T15:04:05.000Z"

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func stamp(t time.Time) string { return t.UTC().Format(timeLayout) }

// id is a STIX identifier: typ--UUIDv5(Namespace, typ NUL parts...).
func id(typ string, parts ...string) string {
	return typ + "--" + uuid5(Namespace, typ+"\x00"+strings.Join(parts, "\x00"))
}

// uuid5 is the RFC 9562 name-based (SHA-1) UUID of name in namespace ns.
func uuid5(ns, name string) string {
	nsb, err := hex.DecodeString(strings.ReplaceAll(ns, "-", ""))
	if err != nil || len(nsb) != 16 {
		panic("stix: bad namespace " + ns) // constants only
	}
	h := sha1.New()
	h.Write(nsb)
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
