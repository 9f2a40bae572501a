package lab

import "slices"

// What the Shodan emulator (shodanlab) needs of the world's Shodan view:
// the query matcher of shodan_query.go and the JSON of shodan_json.go.

// ShodanQuery is a parsed Shodan search query.
type ShodanQuery struct{ q *shodanQuery }

// ParseShodanQuery parses a search query as Shodan does; its errors wrap
// ErrShodanQuery.
func ParseShodanQuery(query string) (ShodanQuery, error) {
	q, err := parseShodanQuery(query)
	return ShodanQuery{q}, err
}

// HasFilter reports whether the query has a filter: such a search costs a
// query credit.
func (q ShodanQuery) HasFilter() bool { return q.q.hasFilter }

// Run returns the banners the query matches, in their order.
func (q ShodanQuery) Run(banners []*Banner) []*Banner { return q.q.run(banners) }

// ShodanFacets counts the facets of a facets= SPEC over matches.
func ShodanFacets(spec string, matches []*Banner) (map[string][]Facet, error) {
	return computeFacets(spec, matches)
}

// ShodanErrorBody is Shodan's {"error": "..."} body.
func ShodanErrorBody(msg string) []byte {
	var j jw
	j.open('{')
	j.key("error").str(msg)
	j.close('}')
	return j.b
}

// HostResponse is Shodan's /shodan/host/{ip} answer for the banners of
// one address, newest first (at least one).
func HostResponse(banners []*Banner) []byte {
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
	return j.b
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
