package shodanfile

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// genBanner is a full banner as `shodan download` writes it (not
// minified): an HTTPS C2-looking service with its HTML, headers,
// certificate and chain, location and crawler fields.
type genBanner struct {
	Hash      int64          `json:"hash"`
	IP        *uint32        `json:"ip,omitempty"`
	IPStr     string         `json:"ip_str"`
	IPv6      string         `json:"ipv6,omitempty"`
	Port      int            `json:"port"`
	Transport string         `json:"transport"`
	Timestamp string         `json:"timestamp"`
	Org       string         `json:"org"`
	ISP       string         `json:"isp"`
	ASN       string         `json:"asn"`
	OS        *string        `json:"os"`
	Product   string         `json:"product,omitempty"`
	Hostnames []string       `json:"hostnames"`
	Domains   []string       `json:"domains"`
	Tags      []string       `json:"tags,omitempty"`
	CPE23     []string       `json:"cpe23"`
	CPE       []string       `json:"cpe"`
	Data      string         `json:"data"`
	Location  map[string]any `json:"location"`
	HTTP      map[string]any `json:"http"`
	SSL       map[string]any `json:"ssl,omitempty"`
	Opts      map[string]any `json:"opts"`
	Shodan    map[string]any `json:"_shodan"`
}

var (
	genWords   = strings.Fields("the server returned page content index admin login portal service status api update error not found welcome default apache nginx microsoft windows linux ubuntu debian configuration application document request response session cookie user password secure connection gateway proxy cloud storage network beacon")
	genOrgs    = []string{"DigitalOcean, LLC", "Amazon Data Services", "Alibaba US Technology Co., Ltd.", "Tencent Cloud Computing", "Hetzner Online GmbH", "OVH SAS", "Choopa, LLC", "M247 Europe SRL"}
	genCities  = []string{"Frankfurt am Main", "Amsterdam", "Singapore", "Ashburn", "Hong Kong", "Tokyo", "London", "Paris"}
	genCountry = []string{"DE", "NL", "SG", "US", "HK", "JP", "GB", "FR"}
	genPorts   = []int{443, 8443, 80, 8080, 50050, 2222, 4444, 8888}
	genTitles  = []string{"", "Welcome to nginx!", "IIS Windows Server", "404 Not Found", "Login", "Apache2 Ubuntu Default Page: It works"}
)

func genText(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(genWords[r.IntN(len(genWords))])
		b.WriteByte(' ')
	}
	return b.String()
}

func genHex(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

// writeBanners writes n banner lines to w; the same seed gives the same
// bytes. Every 997th banner has a bad ip_str, every 50th is IPv6 only,
// one in ten has a timestamp without fractions.
func writeBanners(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	der := make([]byte, 700)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range n {
		first := uint32(r.IntN(200) + 11)
		if first == 127 {
			first = 128
		}
		ipn := first<<24 | r.Uint32()&0xffffff
		ipStr := fmt.Sprintf("%d.%d.%d.%d", ipn>>24, ipn>>16&255, ipn>>8&255, ipn&255)
		ts := base.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
		stamp := ts.Format("2006-01-02T15:04:05.000000")
		if i%10 == 3 {
			stamp = ts.Format("2006-01-02T15:04:05")
		}
		k := r.IntN(len(genOrgs))
		title := genTitles[r.IntN(len(genTitles))]
		html := "<!DOCTYPE html>\n<html><head><title>" + title + "</title>\n<meta charset=\"utf-8\"><style>body{font-family:sans-serif;margin:2em}</style></head>\n<body><h1>" +
			title + "</h1>\n<p>" + genText(r, 400+r.IntN(400)) + "</p>\n</body></html>\n"
		for j := range der {
			der[j] = byte(r.Uint32())
		}
		pem := "-----BEGIN CERTIFICATE-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END CERTIFICATE-----\n"
		serial := any(r.Int64())
		if i%7 == 0 {
			serial = json.Number("1.9585926715947384e+37")
		}
		host := genHex(r, 8) + ".example.net"
		b := genBanner{
			Hash: r.Int64() - r.Int64(), IP: &ipn, IPStr: ipStr, Port: genPorts[r.IntN(len(genPorts))], Transport: "tcp",
			Timestamp: stamp, Org: genOrgs[k], ISP: genOrgs[k], ASN: fmt.Sprintf("AS%d", 14061+k*1000),
			Hostnames: []string{host}, Domains: []string{"example.net"}, CPE23: []string{"cpe:2.3:a:f5:nginx"}, CPE: []string{"cpe:/a:f5:nginx"},
			Data:     "HTTP/1.1 404 Not Found\r\nDate: " + ts.Format(time.RFC1123) + "\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nServer: nginx\r\nKeep-Alive: timeout=5\r\n\r\n",
			Location: map[string]any{"city": genCities[k], "region_code": "HE", "area_code": nil, "longitude": 8.68 + float64(k), "latitude": 50.11, "country_code": genCountry[k], "country_name": "Germany", "postal_code": nil, "dma_code": nil},
			HTTP: map[string]any{
				"status": 404, "title": title, "server": "nginx", "host": ipStr, "html": html, "html_hash": r.Int32() - r.Int32(),
				"headers_hash": r.Int32(), "location": "/", "redirects": []any{}, "robots": nil, "sitemap": nil, "securitytxt": nil,
				"robots_hash": nil, "sitemap_hash": nil, "securitytxt_hash": nil, "components": map[string]any{"Nginx": map[string]any{"categories": []string{"Web servers", "Reverse proxies"}}},
				"waf": nil, "favicon": map[string]any{"hash": r.Int32(), "data": base64.StdEncoding.EncodeToString(der[:200]), "location": "https://" + ipStr + "/favicon.ico"},
			},
			SSL: map[string]any{
				"jarm": genHex(r, 62), "ja3s": genHex(r, 32), "versions": []string{"TLSv1.2", "TLSv1.3", "-SSLv2", "-SSLv3", "-TLSv1", "-TLSv1.1"},
				"cipher":   map[string]any{"version": "TLSv1.3", "bits": 256, "name": "TLS_AES_256_GCM_SHA384"},
				"alpn":     []string{"h2", "http/1.1"},
				"tlsext":   []any{map[string]any{"id": 65281, "name": "renegotiation_info"}, map[string]any{"id": 11, "name": "ec_point_formats"}},
				"chain":    []string{pem},
				"dhparams": nil, "acceptable_cas": []any{}, "ocsp": map[string]any{}, "trust": map[string]any{"revoked": false, "browser": nil},
				"handshake_states": []string{"before SSL initialization", "SSLv3/TLS write client hello", "SSLv3/TLS read server hello", "SSL negotiation finished successfully"},
				"cert": map[string]any{
					"sig_alg": "sha256WithRSAEncryption", "issued": ts.Add(-90 * 24 * time.Hour).Format("20060102150405Z"), "expires": ts.Add(275 * 24 * time.Hour).Format("20060102150405Z"),
					"expired": i%5 == 0, "version": 2, "serial": serial,
					"subject":     map[string]any{"C": "US", "ST": "", "L": "", "O": "Microsoft Corporation", "OU": "", "CN": host},
					"issuer":      map[string]any{"C": "US", "O": "Let's Encrypt", "CN": "R11"},
					"fingerprint": map[string]any{"sha256": genHex(r, 64), "sha1": genHex(r, 40)},
					"pubkey":      map[string]any{"type": "rsa", "bits": 2048},
					"extensions":  []any{map[string]any{"critical": true, "data": "\\x03\\x02\\x05\\xa0", "name": "keyUsage"}, map[string]any{"data": "0\\x00", "name": "subjectAltName"}},
				},
			},
			Opts:   map[string]any{"vulns": []any{}, "heartbleed": "2026/04/01 00:00:00 " + ipStr + ":443 - SAFE\n"},
			Shodan: map[string]any{"id": genHex(r, 8) + "-" + genHex(r, 4) + "-" + genHex(r, 4) + "-" + genHex(r, 12), "module": "https", "crawler": genHex(r, 40), "ptr": true, "options": map[string]any{}, "region": "eu"},
		}
		if p := b.Port; p != 443 && p != 8443 && p != 50050 {
			// Plain HTTP: no TLS.
			b.SSL = nil
			b.Shodan["module"] = "http"
		}
		if i%3 == 0 {
			b.Product, b.Tags = "Cobalt Strike Beacon", []string{"c2", "self-signed"}
		}
		switch {
		case i%997 == 500:
			b.IPStr = "not-an-ip"
		case i%50 == 7:
			b.IP, b.IPStr, b.IPv6 = nil, "", fmt.Sprintf("2a03:b0c0:%x:%x::%x", r.IntN(65536), r.IntN(65536), r.IntN(65536)+1)
		}
		if err := enc.Encode(&b); err != nil {
			return err
		}
	}
	return nil
}
