package lab

import (
	"encoding/binary"
	"encoding/json"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Shodan's JSON is written by hand, in Shodan's key order, so that what the
// lab serves has the real API's traps: nulls, negative hashes, float
// literals for huge serials, booleans as true / "True" / 1, timestamps
// without a zone.

// shodanTime is Shodan's banner timestamp layout: UTC, no zone.
const shodanTime = "2006-01-02T15:04:05.000000"

// TimestampString is the banner's timestamp as Shodan serves it: six
// fractional digits, or none for some banners.
func (b *Banner) TimestampString() string {
	if b.NoFraction {
		return b.Timestamp.UTC().Format("2006-01-02T15:04:05")
	}
	return b.Timestamp.UTC().Format(shodanTime)
}

// MarshalJSON writes the banner as a search match (not minified).
func (b *Banner) MarshalJSON() ([]byte, error) { return b.AppendJSON(nil, false), nil }

// SearchResponse is the body of /shodan/host/search (and, with no matches,
// /shodan/host/count): {"matches":[...],"total":N,"facets":{...}}.
func SearchResponse(matches []*Banner, total int, minify bool, facets map[string][]Facet) []byte {
	var j jw
	j.b = make([]byte, 0, 4096*len(matches)+64)
	j.open('{')
	j.key("matches")
	j.open('[')
	for _, m := range matches {
		j.comma()
		j.b = m.AppendJSON(j.b, minify)
		j.first = false
	}
	j.close(']')
	j.key("total")
	j.int(int64(total))
	j.key("facets")
	j.open('{')
	names := make([]string, 0, len(facets))
	for n := range facets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		j.key(n)
		j.open('[')
		for _, f := range facets[n] {
			j.comma()
			j.first = true
			j.open('{')
			j.key("count")
			j.int(int64(f.Count))
			j.key("value")
			if f.Number {
				j.raw(f.Value)
			} else {
				j.str(f.Value)
			}
			j.close('}')
		}
		j.close(']')
	}
	j.close('}')
	j.close('}')
	return j.b
}

// AppendJSON appends the banner's JSON. minify drops the bulky fields
// (http.html, ssl.chain), as Shodan's minify=true does.
func (b *Banner) AppendJSON(dst []byte, minify bool) []byte {
	j := jw{b: dst}
	j.open('{')
	j.key("hash")
	j.int(int64(b.Hash))
	if b.IP.Is4() {
		a := b.IP.As4()
		j.key("ip")
		j.int(int64(binary.BigEndian.Uint32(a[:])))
		j.key("ip_str")
		j.str(b.IPStr)
	} else {
		j.key("ipv6")
		j.str(b.IP.String())
		// Half the IPv6 banners carry ip_str as well; clients must fall back.
		if b.Hash&1 == 0 || b.IPStr != b.IP.String() {
			j.key("ip_str")
			j.str(b.IPStr)
		}
	}
	j.key("asn")
	j.str(b.ASN)
	j.key("org")
	j.str(b.Org)
	j.key("isp")
	j.str(b.ISP)
	j.key("os")
	j.strOrNull(b.OS)
	if b.Product != "" {
		j.key("product")
		j.str(b.Product)
	}
	if b.Version != "" {
		j.key("version")
		j.str(b.Version)
	}
	if len(b.Tags) > 0 {
		j.key("tags")
		j.strs(b.Tags)
	}
	j.key("hostnames")
	j.strs(b.Hostnames)
	j.key("domains")
	j.strs(b.Domains)
	j.key("location")
	j.open('{')
	l := b.Location
	j.key("city")
	j.strOrNull(l.City)
	j.key("region_code")
	j.strOrNull(l.RegionCode)
	j.key("area_code")
	j.raw("null")
	j.key("longitude")
	j.float(l.Longitude)
	j.key("latitude")
	j.float(l.Latitude)
	j.key("country_code")
	j.strOrNull(l.CountryCode)
	j.key("country_code3")
	j.strOrNull(l.CountryCode3)
	j.key("country_name")
	j.strOrNull(l.CountryName)
	j.key("postal_code")
	j.strOrNull(l.PostalCode)
	j.key("dma_code")
	j.raw("null")
	j.close('}')
	j.key("timestamp")
	j.str(b.TimestampString())
	j.key("transport")
	j.str(b.Transport)
	j.key("port")
	j.int(int64(b.Port))
	j.key("data")
	j.str(b.Data)
	if h := b.HTTP; h != nil {
		j.key("http")
		j.open('{')
		j.key("status")
		j.int(int64(h.Status))
		j.key("robots_hash")
		j.raw("null")
		j.key("redirects")
		j.raw("[]")
		j.key("securitytxt")
		j.raw("null")
		j.key("title")
		if h.Title == nil {
			j.raw("null")
		} else {
			j.str(*h.Title)
		}
		j.key("sitemap_hash")
		j.raw("null")
		j.key("robots")
		j.raw("null")
		if h.FaviconHash != 0 {
			j.key("favicon")
			j.open('{')
			j.key("hash")
			j.int(int64(h.FaviconHash))
			j.key("location")
			j.str("https://" + b.IPStr + ":" + strconv.Itoa(b.Port) + "/favicon.ico")
			j.close('}')
		}
		j.key("server")
		j.strOrNull(h.Server)
		j.key("host")
		j.str(b.IPStr)
		if !minify {
			j.key("html")
			j.str(h.HTML)
		}
		j.key("location")
		j.str("/")
		j.key("components")
		j.raw("{}")
		j.key("html_hash")
		j.int(int64(h.HTMLHash))
		j.key("sitemap")
		j.raw("null")
		j.key("headers_hash")
		j.int(int64(h.HeadersHash))
		j.close('}')
	}
	if s := b.SSL; s != nil {
		c := s.Cert
		j.key("ssl")
		j.open('{')
		j.key("jarm")
		j.str(s.JARM)
		j.key("ja3s")
		j.str(s.JA3S)
		if !minify {
			j.key("chain")
			j.open('[')
			j.comma()
			j.str("-----BEGIN CERTIFICATE-----\n" + c.SHA256 + c.SHA1 + "\n-----END CERTIFICATE-----\n")
			j.first = false
			j.close(']')
		}
		j.key("chain_sha256")
		j.strs([]string{c.SHA256})
		j.key("dhparams")
		j.raw("null")
		j.key("versions")
		j.strs(s.Versions)
		j.key("acceptable_cas")
		j.raw("[]")
		j.key("tlsext")
		j.raw("[]")
		j.key("alpn")
		j.raw("[]")
		j.key("cert")
		j.open('{')
		j.key("sig_alg")
		j.str(c.SigAlg)
		j.key("issued")
		j.str(c.Issued.UTC().Format("20060102150405Z"))
		j.key("expires")
		j.str(c.Expires.UTC().Format("20060102150405Z"))
		j.key("expired")
		j.raw(c.ExpiredLiteral)
		j.key("version")
		j.int(2)
		j.key("extensions")
		j.raw("[]")
		j.key("fingerprint")
		j.open('{')
		j.key("sha256")
		j.str(c.SHA256)
		j.key("sha1")
		j.str(c.SHA1)
		j.close('}')
		j.key("serial")
		j.raw(c.SerialLiteral)
		j.key("subject")
		j.names(c.Subject)
		j.key("pubkey")
		j.open('{')
		j.key("type")
		j.str(c.PubkeyType)
		j.key("bits")
		j.int(int64(c.PubkeyBits))
		j.close('}')
		j.key("issuer")
		j.names(c.Issuer)
		j.close('}')
		j.key("cipher")
		j.open('{')
		j.key("version")
		j.str(s.Cipher[1])
		j.key("bits")
		j.raw(s.Cipher[2])
		j.key("name")
		j.str(s.Cipher[0])
		j.close('}')
		j.key("trust")
		j.raw(`{"revoked":false,"browser":null}`)
		j.close('}')
	}
	j.key("_shodan")
	j.open('{')
	j.key("region")
	j.str("eu")
	j.key("module")
	j.str(b.Module)
	j.key("ptr")
	j.raw("true")
	j.key("options")
	j.raw("{}")
	j.key("id")
	j.str(b.ID)
	j.key("crawler")
	j.str(b.Crawler)
	j.close('}')
	j.close('}')
	return j.b
}

// jw is a tiny ordered JSON writer.
type jw struct {
	b     []byte
	first bool
}

func (j *jw) open(c byte) { j.b = append(j.b, c); j.first = true }
func (j *jw) close(c byte) {
	j.b = append(j.b, c)
	j.first = false
}
func (j *jw) comma() {
	if !j.first {
		j.b = append(j.b, ',')
	}
}
func (j *jw) key(k string) {
	j.comma()
	j.first = false
	j.str(k)
	j.b = append(j.b, ':')
}
func (j *jw) raw(s string)    { j.b = append(j.b, s...) }
func (j *jw) int(v int64)     { j.b = strconv.AppendInt(j.b, v, 10) }
func (j *jw) float(v float64) { j.b = strconv.AppendFloat(j.b, v, 'f', -1, 64) }
func (j *jw) strOrNull(s string) {
	if s == "" {
		j.raw("null")
		return
	}
	j.str(s)
}
func (j *jw) strs(ss []string) {
	j.b = append(j.b, '[')
	for i, s := range ss {
		if i > 0 {
			j.b = append(j.b, ',')
		}
		j.str(s)
	}
	j.b = append(j.b, ']')
}
func (j *jw) names(kv [][2]string) {
	j.open('{')
	for _, p := range kv {
		j.key(p[0])
		j.str(p[1])
	}
	j.close('}')
}

// str appends s as a JSON string; invalid UTF-8 and control bytes are
// escaped as Python's json module would (\uXXXX).
func (j *jw) str(s string) {
	if isPlain(s) {
		j.b = append(j.b, '"')
		j.b = append(j.b, s...)
		j.b = append(j.b, '"')
		return
	}
	out, _ := json.Marshal(s)
	j.b = append(j.b, out...)
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
