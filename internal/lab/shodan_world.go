package lab

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The JARMs, certificates and hashes the built-in hunts look for. They are
// the values public C2 hunting write-ups use, so the lab's world is found by
// the same queries as the real internet.
const (
	// JARMCobaltStrike is the JARM of Cobalt Strike's default Java TLS stack.
	JARMCobaltStrike = "07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2"
	// HTMLHashDeimos is the http.html_hash of Deimos C2's login page.
	HTMLHashDeimos = -14029177
	// PoshC2CN is the common name of PoshC2's default certificate.
	PoshC2CN = "P18055077"
	// ProductCobaltStrike and ProductEmpire are Shodan's product names.
	ProductCobaltStrike = "Cobalt Strike Beacon"
	ProductEmpire       = "Empire C2"
	// InjectionIPStr is the ip_str of the one banner built to break a
	// client that pastes ip_str into KQL unchecked.
	InjectionIPStr = `1.2.3.4") | union (DeviceInfo`
)

// Banner is one banner as Shodan serves it. Its fields hold what the JSON
// needs; MarshalJSON writes Shodan's shape (see shodan_json.go).
type Banner struct {
	Server *Server // nil for unrelated banners (and the injection banner)

	IP         netip.Addr
	IPStr      string // IP.String(), except on the injection banner
	Port       int
	Transport  string // "tcp" or "udp"
	Timestamp  time.Time
	NoFraction bool // served without fractional seconds, as Shodan sometimes does
	Hash       int32
	Data       string
	ASN        string // "AS14061"
	Org, ISP   string
	OS         string
	Product    string
	Version    string
	Hostnames  []string
	Domains    []string
	Tags       []string
	Location   Location
	HTTP       *HTTPBanner
	SSL        *SSLBanner
	// Shodan's crawler metadata (_shodan).
	ID, Module, Crawler string
}

// Location is a banner's geolocation; empty strings are served as null.
type Location struct {
	City, RegionCode, CountryCode, CountryCode3, CountryName, PostalCode string
	Latitude, Longitude                                                  float64
}

// HTTPBanner is the http property of a web banner.
type HTTPBanner struct {
	HTML        string
	HTMLHash    int32
	Title       *string // null when the page has no title
	Server      string
	Status      int
	FaviconHash int32 // 0: no favicon property
	HeadersHash int32
	Components  []string // web components Shodan recognised (http.component:)
}

// SSLBanner is the ssl property of a TLS banner.
type SSLBanner struct {
	JARM, JA3S string
	Versions   []string
	Cert       Cert
	Cipher     [3]string // name, version, bits
}

// Cert is the leaf certificate Shodan saw.
type Cert struct {
	SigAlg           string
	Issued, Expires  time.Time
	Serial           *big.Int
	SerialLiteral    string // the JSON number as served: an integer, or a float like 1.9585926715947384e+37
	Subject, Issuer  [][2]string
	SHA256, SHA1     string
	PubkeyType       string
	PubkeyBits       int
	ExpiredLiteral   string // true, false, "True" or 1: Shodan's booleans vary
	subjectIssuerTxt string // lower-cased subject, issuer and serial, for ssl: matching
}

// hoster is a hosting provider C2 operators rent from.
type hoster struct {
	org, isp, asn string
	v4            []string // /16 prefixes, "a.b"
	v6            string   // a /32 prefix, "2a01:4f8"
	country       string
}

var hosters = []hoster{
	{"DigitalOcean, LLC", "DigitalOcean, LLC", "AS14061", []string{"159.89", "167.99", "206.189", "134.209", "143.198"}, "2604:a880", "US"},
	{"Hetzner Online GmbH", "Hetzner Online GmbH", "AS24940", []string{"95.216", "116.203", "135.181", "65.108", "49.12"}, "2a01:4f8", "DE"},
	{"OVH SAS", "OVH SAS", "AS16276", []string{"51.75", "141.94", "146.59", "54.38"}, "2001:41d0", "FR"},
	{"Amazon.com, Inc.", "Amazon.com, Inc.", "AS16509", []string{"3.120", "18.191", "52.14", "54.212"}, "2600:1f18", "US"},
	{"The Constant Company, LLC", "Vultr Holdings, LLC", "AS20473", []string{"45.32", "45.77", "149.28", "207.148"}, "2001:19f0", "US"},
	{"Linode, LLC", "Akamai Technologies, Inc.", "AS63949", []string{"45.79", "139.162", "172.104", "192.46"}, "2600:3c00", "GB"},
	{"Tencent cloud computing (Beijing) Co., Ltd.", "Tencent Cloud Computing (Beijing) Co., Ltd", "AS45090", []string{"43.138", "101.33", "119.28", "150.158"}, "", "CN"},
	{"Aliyun Computing Co., LTD", "Hangzhou Alibaba Advertising Co.,Ltd.", "AS37963", []string{"47.92", "47.100", "8.136", "39.104"}, "", "CN"},
	{"M247 Europe SRL", "M247 Europe SRL", "AS9009", []string{"185.156", "89.46", "193.27"}, "", "RO"},
	{"Contabo GmbH", "Contabo GmbH", "AS51167", []string{"161.97", "207.180", "173.212", "194.163"}, "2a02:c207", "DE"},
	{"Microsoft Corporation", "Microsoft Azure", "AS8075", []string{"20.42", "40.114", "52.170"}, "", "NL"},
	{"Shinjiru Technology Sdn Bhd", "Shinjiru Technology Sdn Bhd", "AS45839", []string{"110.4", "203.106"}, "", "MY"},
	// Registry text is the registrant's: this one plants a terminal link,
	// a bidi override and a Slack mention that outputs must show as text.
	{"Aeza International Ltd\x1b]8;;https://evil.example\x1b\\ (verified)\x1b]8;;\x1b\\", "Aeza\u202e <!channel> <script>alert(1)</script>", "AS210644", []string{"77.91", "94.131", "185.221"}, "", "RU"},
	{"Choopa, LLC", "Vultr Holdings, LLC", "AS20473", []string{"108.61", "140.82"}, "", "JP"},
	// A documentation range, used sparingly: the lab never connects anywhere.
	{"Example Hosting", "Example Hosting", "AS64500", []string{"198.51", "203.0"}, "2001:db8", "NL"},
}

type geoPlace struct {
	city, region, code3, name, postal string
	lat, lon                          float64
}

var places = map[string][]geoPlace{
	"US": {{"New York City", "NY", "USA", "United States", "10118", 40.71427, -74.00597}, {"Santa Clara", "CA", "USA", "United States", "95054", 37.35411, -121.95524}, {"Ashburn", "VA", "USA", "United States", "", 39.04372, -77.48749}},
	"DE": {{"Falkenstein", "SN", "DEU", "Germany", "08223", 50.47788, 12.37129}, {"Nuremberg", "BY", "DEU", "Germany", "", 49.45421, 11.07752}, {"Frankfurt am Main", "HE", "DEU", "Germany", "60313", 50.11552, 8.68417}},
	"FR": {{"Roubaix", "HDF", "FRA", "France", "59100", 50.69421, 3.17456}, {"Gravelines", "HDF", "FRA", "France", "", 50.98651, 2.12807}},
	"GB": {{"London", "ENG", "GBR", "United Kingdom", "EC1A", 51.50853, -0.12574}},
	"CN": {{"Beijing", "BJ", "CHN", "China", "", 39.9075, 116.39723}, {"Shanghai", "SH", "CHN", "China", "", 31.22222, 121.45806}, {"Hangzhou", "ZJ", "CHN", "China", "", 30.29365, 120.16142}},
	"RO": {{"Bucharest", "B", "ROU", "Romania", "", 44.43225, 26.10626}},
	"NL": {{"Amsterdam", "NH", "NLD", "Netherlands", "1012", 52.37403, 4.88969}},
	"MY": {{"Kuala Lumpur", "14", "MYS", "Malaysia", "", 3.1412, 101.68653}},
	"RU": {{"Moscow", "MOW", "RUS", "Russian Federation", "", 55.75222, 37.61556}},
	"JP": {{"Tokyo", "13", "JPN", "Japan", "", 35.6895, 139.69171}},
}

// framework describes how one C2 framework looks to Shodan's crawlers.
type framework struct {
	name   string
	weight int
	ports  []int
	gen    func(g *shodanGen, s *Server, port int) *Banner
}

var frameworks = []framework{
	{"Cobalt Strike", 22, []int{443, 80, 8443, 8080, 50050}, (*shodanGen).cobaltStrike},
	{"Sliver", 10, []int{443, 31337, 8888, 80}, (*shodanGen).sliver},
	{"PoshC2", 8, []int{443, 8443}, (*shodanGen).poshC2},
	{"Empire", 8, []int{80, 443, 8080}, (*shodanGen).empire},
	{"Deimos", 6, []int{8443, 443, 4443}, (*shodanGen).deimos},
	{"Mythic", 8, []int{7443, 443}, (*shodanGen).mythic},
	{"Havoc", 8, []int{40056, 443}, (*shodanGen).havoc},
	{"Covenant", 6, []int{7443, 443, 80}, (*shodanGen).covenant},
	{"Metasploit", 8, []int{3790, 4444, 8080}, (*shodanGen).metasploit},
	{"Brute Ratel", 6, []int{443, 8443}, (*shodanGen).bruteRatel},
}

// shodanGen holds the generator's state while a world is built.
type shodanGen struct {
	rng  *rand.Rand
	now  time.Time
	used map[netip.Addr]bool
	// docUsed counts addresses drawn from the documentation ranges, which
	// hold only 508 IPv4 addresses: a big world must not exhaust them.
	docUsed int
}

// genShodan fills w.Servers and w.Banners from rng and w.Config. Defaults
// (60 servers, 200 unrelated banners) keep every built-in hunt within one
// page of 100 matches, so the demo's honest paging fits Shodan's 1 rps.
func genShodan(rng *rand.Rand, w *World) {
	cfg := w.Config
	g := &shodanGen{rng: rng, now: cfg.Now.UTC(), used: make(map[netip.Addr]bool, cfg.Servers+cfg.Banners)}
	total := 0
	for _, f := range frameworks {
		total += f.weight
	}
	w.Servers = make([]*Server, 0, cfg.Servers)
	w.Banners = make([]*Banner, 0, cfg.Servers*2+cfg.Banners+1)
	for i := 0; i < cfg.Servers; i++ {
		// Every framework appears at least once, then by weight.
		f := frameworks[i%len(frameworks)]
		if i >= len(frameworks) {
			n := rng.IntN(total)
			for _, ff := range frameworks {
				if n < ff.weight {
					f = ff
					break
				}
				n -= ff.weight
			}
		}
		s := &Server{Framework: f.name}
		v6 := rng.IntN(100) < 8
		h := g.hoster(v6)
		s.IP = g.addr(h, v6)
		// Stale servers were last seen 10-60 days ago; fresh ones within 5 days.
		if rng.IntN(100) < 15 {
			s.Stale = true
			s.LastSeen = g.now.Add(-time.Duration(10*24*3600+rng.IntN(50*24*3600)) * time.Second)
		} else {
			s.LastSeen = g.now.Add(-time.Duration(60+rng.IntN(5*24*3600)) * time.Second)
		}
		s.LastSeen = s.LastSeen.Truncate(time.Microsecond)
		nb := 1 + rng.IntN(2)
		ports := slices.Clone(f.ports)
		rng.Shuffle(len(ports), func(a, b int) { ports[a], ports[b] = ports[b], ports[a] })
		for j := 0; j < nb && j < len(ports); j++ {
			b := f.gen(g, s, ports[j])
			g.finish(b, s, h, j)
			s.Banners = append(s.Banners, b)
			w.Banners = append(w.Banners, b)
		}
		w.Servers = append(w.Servers, s)
	}
	for i := 0; i < cfg.Banners; i++ {
		v6 := rng.IntN(100) < 5
		h := g.hoster(v6)
		b := g.unrelated(rng.IntN(len(unrelatedKinds)))
		b.IP = g.addr(h, v6)
		b.Timestamp = g.now.Add(-time.Duration(rng.IntN(30*24*3600)) * time.Second)
		g.finish(b, nil, h, 0)
		w.Banners = append(w.Banners, b)
	}
	// The one banner whose ip_str is an injection attempt: fresh, matched by
	// product:"Cobalt Strike Beacon", and attached to no server.
	{
		s := &Server{Framework: "Cobalt Strike", IP: netip.MustParseAddr("1.2.3.4"), LastSeen: g.now.Add(-2 * time.Hour)}
		b := g.cobaltStrike(s, 80)
		g.finish(b, s, hosters[0], 0)
		b.Server = nil
		b.IPStr = InjectionIPStr
		w.Banners = append(w.Banners, b)
	}
	slices.SortStableFunc(w.Banners, func(a, b *Banner) int { return b.Timestamp.Compare(a.Timestamp) })
}

func (g *shodanGen) hoster(v6 bool) hoster {
	for {
		// The documentation range (last) is picked rarely.
		i := g.rng.IntN(len(hosters) - 1)
		if g.rng.IntN(40) == 0 && g.docUsed < 60 {
			i = len(hosters) - 1
			g.docUsed++
		}
		h := hosters[i]
		if !v6 || h.v6 != "" {
			return h
		}
	}
}

// addr draws an unused address from the hoster's ranges.
func (g *shodanGen) addr(h hoster, v6 bool) netip.Addr {
	for {
		var a netip.Addr
		if v6 {
			var b [16]byte
			p := netip.MustParseAddr(h.v6 + "::").As16()
			copy(b[:4], p[:4])
			for i := 4; i < 16; i++ {
				b[i] = byte(g.rng.IntN(256))
			}
			if g.rng.IntN(2) == 0 { // many hosts use short interface ids
				clear(b[8:15])
			}
			a = netip.AddrFrom16(b)
		} else {
			pre := h.v4[g.rng.IntN(len(h.v4))]
			a = netip.MustParseAddr(fmt.Sprintf("%s.%d.%d", pre, g.rng.IntN(256), 1+g.rng.IntN(254)))
			if strings.HasPrefix(pre, "198.51") {
				a = netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", 1+g.rng.IntN(254)))
			} else if strings.HasPrefix(pre, "203.0") {
				a = netip.MustParseAddr(fmt.Sprintf("203.0.113.%d", 1+g.rng.IntN(254)))
			}
		}
		if !g.used[a] {
			g.used[a] = true
			return a
		}
	}
}

// finish fills what every banner has: address, time, network owner,
// location, hash and crawler metadata.
func (g *shodanGen) finish(b *Banner, s *Server, h hoster, nth int) {
	if s != nil {
		b.Server = s
		b.IP = s.IP
		// The newest banner is the server's last sighting.
		b.Timestamp = s.LastSeen
		if nth > 0 {
			b.Timestamp = s.LastSeen.Add(-time.Duration(1+g.rng.IntN(3*24*3600)) * time.Second)
		}
	}
	b.IPStr = b.IP.String()
	b.Timestamp = b.Timestamp.UTC().Truncate(time.Microsecond)
	if g.rng.IntN(12) == 0 {
		b.NoFraction = true
		b.Timestamp = b.Timestamp.Truncate(time.Second)
	}
	if b.Transport == "" {
		b.Transport = "tcp"
	}
	b.ASN, b.Org, b.ISP = h.asn, h.org, h.isp
	ps := places[h.country]
	p := ps[g.rng.IntN(len(ps))]
	b.Location = Location{City: p.city, RegionCode: p.region, CountryCode: h.country, CountryCode3: p.code3,
		CountryName: p.name, PostalCode: p.postal, Latitude: p.lat, Longitude: p.lon}
	if b.Hostnames == nil && g.rng.IntN(3) == 0 {
		host := g.hostname(h, b.IP)
		b.Hostnames = []string{host}
		parts := strings.Split(host, ".")
		b.Domains = []string{strings.Join(parts[len(parts)-2:], ".")}
	}
	if b.Hostnames == nil {
		b.Hostnames = []string{}
	}
	if b.Domains == nil {
		b.Domains = []string{}
	}
	b.Hash = hash32(b.Data)
	b.ID = g.uuid()
	b.Crawler = g.hexStr(20)
	if b.Module == "" {
		switch {
		case b.SSL != nil:
			b.Module = "https"
		case b.HTTP != nil:
			b.Module = "http"
		default:
			b.Module = "auto"
		}
	}
}

func (g *shodanGen) hostname(h hoster, ip netip.Addr) string {
	switch h.asn {
	case "AS24940":
		return fmt.Sprintf("static.%s.clients.your-server.de", strings.ReplaceAll(ip.String(), ":", "-"))
	case "AS16509":
		return "ec2-" + strings.NewReplacer(".", "-", ":", "-").Replace(ip.String()) + ".compute-1.amazonaws.com"
	case "AS20473":
		return strings.NewReplacer(".", "-", ":", "-").Replace(ip.String()) + ".vultrusercontent.com"
	case "AS16276":
		return "vps-" + g.hexStr(4) + ".vps.ovh.net"
	}
	words := []string{"cdn", "update", "static", "api", "mail", "portal", "secure", "cloud"}
	tlds := []string{"com", "net", "org", "io", "xyz", "top"}
	return words[g.rng.IntN(len(words))] + "." + words[g.rng.IntN(len(words))] + strconv.Itoa(g.rng.IntN(100)) + "." + tlds[g.rng.IntN(len(tlds))]
}

func (g *shodanGen) hexStr(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.IntN(256))
	}
	return hex.EncodeToString(b)
}

func (g *shodanGen) uuid() string {
	h := g.hexStr(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (g *shodanGen) jarm() string {
	// A realistic JARM: 30 hex of cipher/version choices, 32 of extension hash.
	return g.hexStr(15) + g.hexStr(16)
}

// hash32 stands in for Shodan's murmur3 hashes: a signed 32-bit value.
func hash32(s string) int32 {
	if s == "" {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(s))
	return int32(h.Sum32())
}

// cert makes a certificate with the given names, valid around the banner.
func (g *shodanGen) cert(subject, issuer [][2]string, serial *big.Int) Cert {
	issued := g.now.Add(-time.Duration(30+g.rng.IntN(700)) * 24 * time.Hour).Truncate(time.Second)
	c := Cert{
		SigAlg: "sha256WithRSAEncryption", Issued: issued, Expires: issued.Add(time.Duration(365*(1+g.rng.IntN(10))) * 24 * time.Hour),
		Subject: subject, Issuer: issuer, SHA256: g.hexStr(32), SHA1: g.hexStr(20), PubkeyType: "rsa", PubkeyBits: 2048,
	}
	if serial == nil {
		switch g.rng.IntN(4) {
		case 0:
			// A 125-bit serial: Shodan serves it as a float literal.
			f := (1 + g.rng.Float64()*8.9) * 1e37
			bf := new(big.Float).SetFloat64(f)
			serial, _ = bf.Int(nil)
			c.SerialLiteral = strconv.FormatFloat(f, 'g', -1, 64)
			if !strings.Contains(c.SerialLiteral, "e") {
				c.SerialLiteral = strconv.FormatFloat(f, 'e', -1, 64)
			}
		default:
			serial = big.NewInt(int64(g.rng.Uint32()))
		}
	}
	c.Serial = serial
	if c.SerialLiteral == "" {
		c.SerialLiteral = serial.String()
	}
	expired := !c.Expires.After(g.now)
	c.ExpiredLiteral = strconv.FormatBool(expired)
	if r := g.rng.IntN(20); r == 0 {
		c.ExpiredLiteral = map[bool]string{true: `"True"`, false: `"False"`}[expired]
	} else if r == 1 {
		c.ExpiredLiteral = map[bool]string{true: "1", false: "0"}[expired]
	}
	var sb strings.Builder
	for _, kv := range append(slices.Clone(subject), issuer...) {
		sb.WriteString(strings.ToLower(kv[1]))
		sb.WriteByte('\n')
	}
	sb.WriteString(serial.String())
	sb.WriteByte('\n')
	sb.WriteString(serial.Text(16))
	c.subjectIssuerTxt = sb.String()
	return c
}

func (g *shodanGen) ssl(jarm string, c Cert) *SSLBanner {
	if jarm == "" {
		jarm = g.jarm()
	}
	return &SSLBanner{JARM: jarm, JA3S: g.hexStr(16), Versions: []string{"-TLSv1", "-SSLv2", "-SSLv3", "TLSv1.2", "TLSv1.3"},
		Cert: c, Cipher: [3]string{"ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", "256"}}
}

func (g *shodanGen) httpPage(server, title, html string, status int) *HTTPBanner {
	h := &HTTPBanner{HTML: html, HTMLHash: hash32(html), Server: server, Status: status, HeadersHash: int32(g.rng.Uint32())}
	if title != "" {
		h.Title = &title
	}
	return h
}

func httpData(status int, server string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	if server != "" {
		fmt.Fprintf(&b, "Server: %s\r\n", server)
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func (g *shodanGen) cobaltStrike(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	// The default self-signed keystore, serial 146473198, on Java's TLS.
	csName := [][2]string{{"C", "Earth"}, {"ST", "Cyberspace"}, {"L", "Somewhere"}, {"O", "cobaltstrike"}, {"OU", "AdvancedPenTesting"}, {"CN", "Major Cobalt Strike"}}
	csSSL := func() *SSLBanner { return g.ssl(JARMCobaltStrike, g.cert(csName, csName, big.NewInt(146473198))) }
	switch {
	case port == 50050:
		// The team server: TLS with the Java JARM, no beacon.
		b.SSL = csSSL()
		return b
	case g.rng.IntN(3) == 0 && port != 80 && port != 8080:
		// A TLS listener seen only by its JARM.
		b.SSL = csSSL()
		b.HTTP = g.httpPage("", "", "", 404)
		b.Data = httpData(404, "", "Content-Type: text/plain", "Content-Length: 0")
		return b
	}
	b.Product = ProductCobaltStrike
	b.Module = "cobalt-strike-beacon"
	beaconType := "HTTP"
	if port == 443 || port == 8443 {
		beaconType = "HTTPS"
		b.SSL = csSSL()
	}
	uris := []string{"/ca", "/dpixel", "/__utm.gif", "/pixel.gif", "/g.pixel", "/dot.gif", "/updates.rss", "/fwlink", "/cm", "/cx", "/match", "/submit.php", "/ptj", "/j.ad", "/ga.js", "/en_US/all.js", "/visit.js", "/load", "/push", "/IE9CompatViewList.xml"}
	watermarks := []int{1359593325, 305419896, 987654321, 0, 391144938, 1580103814, 426352781}
	var d strings.Builder
	d.WriteString("Cobalt Strike Beacon:\n")
	for _, arch := range []string{"x86", "x64"} {
		fmt.Fprintf(&d, "  %s:\n    beacon_type: %s\n    dns-beacon.strategy_fail_seconds: -1\n    dns-beacon.strategy_fail_x: -1\n    dns-beacon.strategy_rotate_seconds: -1\n", arch, beaconType)
		fmt.Fprintf(&d, "    http-get.client:\n      Cookie\n    http-get.uri: %s,%s\n    http-get.verb: GET\n    http-post.client:\n      Content-Type: application/octet-stream\n      id\n    http-post.uri: /submit.php\n    http-post.verb: POST\n", s.IP, uris[g.rng.IntN(len(uris))])
		fmt.Fprintf(&d, "    maxgetsize: 1048576\n    port: %d\n    post-ex.spawnto_x64: %%windir%%\\sysnative\\rundll32.exe\n    post-ex.spawnto_x86: %%windir%%\\syswow64\\rundll32.exe\n    process-inject.execute:\n      CreateThread\n      SetThreadContext\n      CreateRemoteThread\n      RtlCreateUserThread\n    process-inject.startrwx: 64\n    process-inject.userwx: 64\n    proxy.behavior: 2 (Use IE settings)\n    sleeptime: 60000\n    useragent_header: Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0; MASP)\n    uses_cookies: 1\n    watermark: %d\n", port, watermarks[g.rng.IntN(len(watermarks))])
	}
	b.Data = httpData(404, "", "Content-Type: text/plain", "Date: "+g.now.Format(time.RFC1123), "Content-Length: 0") + d.String()
	b.HTTP = g.httpPage("", "", "", 404)
	b.Tags = []string{"c2"}
	return b
}

func (g *shodanGen) sliver(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	// The certificate's O is the operator's choice; one is hostile.
	orgs := []string{"multiplayer", "operators", "Acme Holdings", "Northwind\x1b[2J Traders\n**[login](https://evil.example)**", "Contoso Ltd"}
	name := [][2]string{{"O", orgs[g.rng.IntN(len(orgs))]}, {"CN", "localhost"}}
	if port == 31337 {
		// mTLS listener: a Go TLS stack, no HTTP.
		b.SSL = g.ssl("00000000000000000043d43d00043de2a97eabb398317329f027c66e4c1b01", g.cert(name, [][2]string{{"O", "multiplayer"}, {"CN", "multiplayer"}}, nil))
		return b
	}
	b.HTTP = g.httpPage("", "", "", 404)
	b.Data = httpData(404, "", "Cache-Control: no-store, no-cache, must-revalidate", "Content-Length: 0", "Content-Type: text/plain; charset=utf-8")
	if port == 443 {
		b.SSL = g.ssl("3fd21b20d00000021c43d21b21b43de0a012c76cf078b8d06f4620c2286f5e", g.cert(name, name, nil))
	}
	return b
}

func (g *shodanGen) poshC2(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	posh := [][2]string{{"C", "US"}, {"ST", "Minnesota"}, {"L", "Minnetonka"}, {"O", "Pajfds"}, {"OU", "Jethpro"}, {"CN", PoshC2CN}}
	b.SSL = g.ssl("2ad2ad16d2ad2ad22c42d42d00042ddb04deffa1705e2edc44cae1ed24a4da", g.cert(posh, posh, nil))
	html := "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n<hr>\n<address>Apache (Debian) Server Port 443</address>\n</body></html>\n"
	b.HTTP = g.httpPage("Apache", "404 Not Found", html, 404)
	b.Data = httpData(404, "Apache", "Content-Type: text/html", "Cache-Control: no-cache, no-store, must-revalidate")
	return b
}

func (g *shodanGen) empire(s *Server, port int) *Banner {
	b := &Banner{Port: port, Product: ProductEmpire}
	html := "<html><body><h1>It works!</h1><p>This is the default web page for this server.</p><p>The web server software is running but no content has been added, yet.</p></body></html>"
	b.HTTP = g.httpPage("Microsoft-IIS/7.5", "", html, 200)
	b.Data = httpData(200, "Microsoft-IIS/7.5", "Content-Type: text/html; charset=utf-8", "Cache-Control: no-cache, no-store, must-revalidate", "Pragma: no-cache", "Expires: 0")
	if port == 443 {
		name := [][2]string{{"C", "US"}, {"O", "Empire"}, {"CN", "empire"}}
		b.SSL = g.ssl("", g.cert(name, name, nil))
	}
	if g.rng.IntN(2) == 0 {
		// Parsed from the attacker's banner: it sets the terminal's title.
		b.Version = "4.10\x1b]0;all clear\x07 <!here>"
	}
	return b
}

func (g *shodanGen) deimos(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	html := "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"UTF-8\"><title>Deimos C2</title><link rel=\"stylesheet\" href=\"/css/login.css\"></head><body><form id=\"login\"><input name=\"username\"><input type=\"password\" name=\"password\"></form></body></html>"
	b.HTTP = g.httpPage("", "Deimos C2", html, 200)
	b.HTTP.HTMLHash = HTMLHashDeimos
	b.HTTP.FaviconHash = -1447395633
	b.Data = httpData(200, "", "Content-Type: text/html; charset=utf-8", "Vary: Accept-Encoding")
	name := [][2]string{{"O", "Deimos"}, {"CN", "localhost"}}
	b.SSL = g.ssl("", g.cert(name, name, nil))
	return b
}

func (g *shodanGen) mythic(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	html := "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"/><title>Mythic</title><script defer=\"defer\" src=\"/new/static/js/main.js\"></script></head><body><div id=\"root\"></div></body></html>"
	b.HTTP = g.httpPage("nginx", "Mythic", html, 200)
	b.HTTP.FaviconHash = 1642653245
	b.Data = httpData(200, "nginx", "Content-Type: text/html")
	name := [][2]string{{"O", "Mythic"}, {"CN", "mythic"}}
	b.SSL = g.ssl("2ad2ad0002ad2ad22c42d42d000000faabb8fd156aa8b4d2a6c8b7b7e6b5ad", g.cert(name, name, nil))
	return b
}

func (g *shodanGen) havoc(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	b.HTTP = g.httpPage("", "", "", 404)
	b.Data = httpData(404, "", "Content-Type: text/plain; charset=utf-8", "X-Havoc: true", "Content-Length: 0")
	name := [][2]string{{"O", "Havoc Framework"}, {"CN", strings.ToLower(g.hexStr(4))}}
	b.SSL = g.ssl("3fd21b20d3fd3fd21c43d21b21b43d494e0e97a3ee4a5dd4d3b6dc6c0fe4e8", g.cert(name, name, nil))
	return b
}

func (g *shodanGen) covenant(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	html := "<!DOCTYPE html><html><head><meta charset=\"utf-8\" /><title>Covenant</title></head><body><div class=\"container\"><h1>Covenant</h1><form action=\"/covenantuser/login\"></form></div></body></html>"
	b.HTTP = g.httpPage("Kestrel", "Covenant", html, 200)
	b.Data = httpData(200, "Kestrel", "Content-Type: text/html; charset=utf-8")
	if port != 80 {
		name := [][2]string{{"CN", "Covenant"}}
		b.SSL = g.ssl("", g.cert(name, name, nil))
	}
	return b
}

func (g *shodanGen) metasploit(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	if port == 4444 {
		b.Data = "\x00\x00\x00\x00"
		b.Module = "auto"
		return b
	}
	b.Product = "Metasploit"
	html := "<html><head><title>Metasploit - Setup and Configuration</title></head><body><h1>Metasploit</h1></body></html>"
	b.HTTP = g.httpPage("Apache", "Metasploit - Setup and Configuration", html, 200)
	b.Data = httpData(200, "Apache", "Content-Type: text/html")
	if port == 3790 {
		name := [][2]string{{"O", "Rapid7"}, {"OU", "Metasploit"}, {"CN", "localhost"}}
		b.SSL = g.ssl("", g.cert(name, name, nil))
	}
	return b
}

func (g *shodanGen) bruteRatel(s *Server, port int) *Banner {
	b := &Banner{Port: port}
	html := "<html><body><h1>Welcome</h1></body></html>"
	b.HTTP = g.httpPage("", "", html, 200)
	b.Data = httpData(200, "", "Content-Type: text/html", "Content-Length: 41")
	name := [][2]string{{"C", "US"}, {"O", "Microsoft Corporation"}, {"CN", "www.microsoft.com"}}
	issuer := [][2]string{{"C", "US"}, {"O", "Microsoft Corporation"}, {"CN", "Microsoft RSA TLS CA 02"}}
	b.SSL = g.ssl("3fd3fd0003fd3fd21c3fd3fd3fd3fd703dc1bf20eb9604decefea997eabff7", g.cert(name, issuer, nil))
	return b
}

// unrelatedKinds are the ordinary services that fill Shodan around the C2s.
var unrelatedKinds = []string{"nginx", "apache", "iis", "openssh", "rdp", "smtp", "https-nginx", "empty"}

func (g *shodanGen) unrelated(kind int) *Banner {
	b := &Banner{}
	switch unrelatedKinds[kind] {
	case "nginx":
		b.Port, b.Product, b.Version = 80, "nginx", "1.18.0"
		html := "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n</body>\n</html>\n"
		b.HTTP = g.httpPage("nginx/1.18.0 (Ubuntu)", "Welcome to nginx!", html, 200)
		b.Data = httpData(200, "nginx/1.18.0 (Ubuntu)", "Content-Type: text/html")
	case "apache":
		b.Port, b.Product, b.Version = 80, "Apache httpd", "2.4.41"
		html := "<html><body><h1>It works!</h1></body></html>\n"
		b.HTTP = g.httpPage("Apache/2.4.41 (Ubuntu)", "Apache2 Ubuntu Default Page: It works", html, 200)
		b.Data = httpData(200, "Apache/2.4.41 (Ubuntu)", "Content-Type: text/html")
	case "iis":
		b.Port, b.Product, b.Version, b.OS = 443, "Microsoft IIS httpd", "10.0", "Windows"
		html := "<!DOCTYPE html><html><head><title>IIS Windows Server</title></head><body><img src=\"iisstart.png\"></body></html>"
		b.HTTP = g.httpPage("Microsoft-IIS/10.0", "IIS Windows Server", html, 200)
		b.Data = httpData(200, "Microsoft-IIS/10.0", "Content-Type: text/html")
		name := [][2]string{{"CN", "WIN-" + strings.ToUpper(g.hexStr(5))}}
		b.SSL = g.ssl("", g.cert(name, name, nil))
	case "openssh":
		b.Port, b.Product, b.Version = 22, "OpenSSH", "8.2p1 Ubuntu-4ubuntu0.5"
		b.Data = "SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.5\nKey type: ssh-rsa\n"
		b.Module = "ssh"
	case "rdp":
		b.Port, b.OS = 3389, "Windows"
		b.Data = "Remote Desktop Protocol\n\\x03\\x00\\x00\\x13\\x0e\\xd0\\x00\\x00\\x124\\x00\\x02\\x1f\\x08\\x00\\x02\\x00\\x00\\x00"
		b.Module = "rdp"
	case "smtp":
		b.Port, b.Product = 25, "Postfix smtpd"
		b.Data = "220 mail.example.net ESMTP Postfix\n"
		b.Module = "smtp"
	case "https-nginx":
		b.Port, b.Product = 443, "nginx"
		b.HTTP = g.httpPage("nginx", "", "", 301)
		b.Data = httpData(301, "nginx", "Location: https://www.example.org/")
		name := [][2]string{{"CN", "www.example.org"}}
		issuer := [][2]string{{"C", "US"}, {"O", "Let's Encrypt"}, {"CN", "R3"}}
		b.SSL = g.ssl("", g.cert(name, issuer, nil))
	default:
		// An empty page: html_hash 0, title null.
		b.Port = 8080
		b.HTTP = g.httpPage("", "", "", 200)
		b.Data = httpData(200, "", "Content-Length: 0")
	}
	return b
}
