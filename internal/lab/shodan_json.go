package lab

import (
	"encoding/binary"
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Shodan's JSON is written by hand, in Shodan's key order, so that what the
// lab serves has the real API's traps: nulls, negative hashes, float
// literals for huge serials, booleans as true / "True" / 1, timestamps
// without a zone.

// shodanTime is Shodan's banner timestamp layout: UTC, no zone; certTime
// is the certificate validity layout.
const (
	shodanTime = "2006-01-02T15:04:05.000000"
	certTime   = "20060102150405Z"
)

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
	j.key("matches").banners(matches, minify)
	j.key("total").int(int64(total))
	j.key("facets").open('{')
	for _, n := range slices.Sorted(maps.Keys(facets)) {
		j.key(n).open('[')
		for _, f := range facets[n] {
			j.comma()
			j.open('{')
			j.key("count").int(int64(f.Count))
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
	j.key("hash").int(int64(b.Hash))
	if b.IP.Is4() {
		j.key("ip").int(ipNumber(b.IP))
		j.key("ip_str").str(b.IPStr)
	} else {
		j.key("ipv6").str(b.IP.String())
		// Half the IPv6 banners carry ip_str as well; clients must fall back.
		if b.Hash&1 == 0 || b.IPStr != b.IP.String() {
			j.key("ip_str").str(b.IPStr)
		}
	}
	j.key("asn").str(b.ASN)
	j.key("org").str(b.Org)
	j.key("isp").str(b.ISP)
	j.key("os").strOrNull(b.OS)
	if b.Product != "" {
		j.key("product").str(b.Product)
	}
	if b.Version != "" {
		j.key("version").str(b.Version)
	}
	if len(b.Tags) > 0 {
		j.key("tags").strs(b.Tags)
	}
	j.key("hostnames").strs(b.Hostnames)
	j.key("domains").strs(b.Domains)
	j.key("location").open('{')
	l := b.Location
	j.key("city").strOrNull(l.City)
	j.key("region_code").strOrNull(l.RegionCode)
	j.key("area_code").raw("null")
	j.key("longitude").float(l.Longitude)
	j.key("latitude").float(l.Latitude)
	j.key("country_code").strOrNull(l.CountryCode)
	j.key("country_code3").strOrNull(l.CountryCode3)
	j.key("country_name").strOrNull(l.CountryName)
	j.key("postal_code").strOrNull(l.PostalCode)
	j.key("dma_code").raw("null")
	j.close('}')
	j.key("timestamp").str(b.TimestampString())
	j.key("transport").str(b.Transport)
	j.key("port").int(int64(b.Port))
	j.key("data").str(b.Data)
	if h := b.HTTP; h != nil {
		j.key("http").open('{')
		j.key("status").int(int64(h.Status))
		j.key("robots_hash").raw("null")
		j.key("redirects").raw("[]")
		j.key("securitytxt").raw("null")
		if h.Title == nil {
			j.key("title").raw("null")
		} else {
			j.key("title").str(*h.Title)
		}
		j.key("sitemap_hash").raw("null")
		j.key("robots").raw("null")
		if h.FaviconHash != 0 {
			j.key("favicon").open('{')
			j.key("hash").int(int64(h.FaviconHash))
			j.key("location").str("https://" + b.IPStr + ":" + strconv.Itoa(b.Port) + "/favicon.ico")
			j.close('}')
		}
		j.key("server").strOrNull(h.Server)
		j.key("host").str(b.IPStr)
		if !minify {
			j.key("html").str(h.HTML)
		}
		j.key("location").str("/")
		if len(h.Components) == 0 {
			j.key("components").raw("{}")
		} else {
			j.key("components").open('{')
			for _, c := range h.Components {
				j.key(c).raw(`{"categories":["JavaScript frameworks"]}`)
			}
			j.close('}')
		}
		j.key("html_hash").int(int64(h.HTMLHash))
		j.key("sitemap").raw("null")
		j.key("headers_hash").int(int64(h.HeadersHash))
		j.close('}')
	}
	if s := b.SSL; s != nil {
		c := s.Cert
		j.key("ssl").open('{')
		j.key("jarm").str(s.JARM)
		j.key("ja3s").str(s.JA3S)
		if !minify {
			j.key("chain").strs([]string{"-----BEGIN CERTIFICATE-----\n" + c.SHA256 + c.SHA1 + "\n-----END CERTIFICATE-----\n"})
		}
		j.key("chain_sha256").strs([]string{c.SHA256})
		j.key("dhparams").raw("null")
		j.key("versions").strs(s.Versions)
		j.key("acceptable_cas").raw("[]")
		j.key("tlsext").raw("[]")
		j.key("alpn").raw("[]")
		j.key("cert").open('{')
		j.key("sig_alg").str(c.SigAlg)
		j.key("issued").str(c.Issued.UTC().Format(certTime))
		j.key("expires").str(c.Expires.UTC().Format(certTime))
		j.key("expired").raw(c.ExpiredLiteral)
		j.key("version").int(2)
		j.key("extensions").raw("[]")
		j.key("fingerprint").open('{')
		j.key("sha256").str(c.SHA256)
		j.key("sha1").str(c.SHA1)
		j.close('}')
		j.key("serial").raw(c.SerialLiteral)
		j.key("subject").names(c.Subject)
		j.key("pubkey").open('{')
		j.key("type").str(c.PubkeyType)
		j.key("bits").int(int64(c.PubkeyBits))
		j.close('}')
		j.key("issuer").names(c.Issuer)
		j.close('}')
		j.key("cipher").open('{')
		j.key("version").str(s.Cipher[1])
		j.key("bits").raw(s.Cipher[2])
		j.key("name").str(s.Cipher[0])
		j.close('}')
		j.key("trust").raw(`{"revoked":false,"browser":null}`)
		j.close('}')
	}
	j.key("_shodan").open('{')
	j.key("region").str("eu")
	j.key("module").str(b.Module)
	j.key("ptr").raw("true")
	j.key("options").raw("{}")
	j.key("id").str(b.ID)
	j.key("crawler").str(b.Crawler)
	j.close('}')
	j.close('}')
	return j.b
}

// ipNumber is an IPv4 address as the integer Shodan serves in "ip".
func ipNumber(a netip.Addr) int64 {
	b := a.As4()
	return int64(binary.BigEndian.Uint32(b[:]))
}

// jw is a tiny ordered JSON writer. first is true right after an opening
// bracket, where the next element takes no comma.
type jw struct {
	b     []byte
	first bool
}

func (j *jw) open(c byte)  { j.b = append(j.b, c); j.first = true }
func (j *jw) close(c byte) { j.b = append(j.b, c); j.first = false }
func (j *jw) comma() {
	if !j.first {
		j.b = append(j.b, ',')
	}
}

// key writes "k": and returns j, for j.key("k").str(v).
func (j *jw) key(k string) *jw {
	j.comma()
	j.first = false
	j.str(k)
	j.b = append(j.b, ':')
	return j
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
func (j *jw) ints(vs []int) {
	j.b = append(j.b, '[')
	for i, v := range vs {
		if i > 0 {
			j.b = append(j.b, ',')
		}
		j.b = strconv.AppendInt(j.b, int64(v), 10)
	}
	j.b = append(j.b, ']')
}

// banners writes an array of banners, as search matches or host data.
func (j *jw) banners(bs []*Banner, minify bool) {
	j.open('[')
	for _, b := range bs {
		j.comma()
		j.b = b.AppendJSON(j.b, minify)
		j.first = false
	}
	j.close(']')
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
