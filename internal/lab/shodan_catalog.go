package lab

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// The catalog's servers: one C2, RAT, stealer panel or botnet host per
// family that the hunt catalog (internal/catalog) fingerprints beyond the
// ten frameworks above, each built so that one of the family's catalog
// queries finds it. They live apart from World.Servers (whose count and
// planted contacts tests assert), come from their own random stream, and
// are added after everything else, so a world's existing servers, banners
// and telemetry are the same as before they existed. Families the catalog
// knows and this list lacks are the lab's silent hunts.

// cdnHosters are shared CDN front ends: a server "there" is a C2 domain
// fronted by the CDN, and its address is the CDN's edge, which c2sweep must
// exclude rather than sweep. Each /16 lies inside a published range of the
// operator (internal/exclude has them).
var cdnHosters = map[string]hoster{
	"Cloudflare":        {"Cloudflare, Inc.", "Cloudflare, Inc.", "AS13335", []string{"104.16", "104.21", "172.67"}, "", "US"},
	"Amazon CloudFront": {"Amazon.com, Inc.", "Amazon CloudFront", "AS16509", []string{"13.32", "13.33"}, "", "US"},
	"Fastly":            {"Fastly, Inc.", "Fastly, Inc.", "AS54113", []string{"151.101"}, "", "US"},
}

// catalogSpec is one catalog server: its family (the catalog's spelling),
// port, where it sits and how its banner looks.
type catalogSpec struct {
	family string
	port   int
	cdn    string // a key of cdnHosters, or "" for a rented server
	v6     bool
	stale  bool
	build  func(g *shodanGen, b *Banner)
}

func productBanner(product, data string) func(*shodanGen, *Banner) {
	return func(_ *shodanGen, b *Banner) { b.Product, b.Data = product, data }
}

// panel is a web panel with a title, page text and optional favicon.
func panel(title, html string, favicon int32) func(*shodanGen, *Banner) {
	return func(g *shodanGen, b *Banner) {
		b.HTTP = g.httpPage("nginx", title, html, 200)
		b.HTTP.FaviconHash = favicon
		b.Data = httpData(200, "nginx", "Content-Type: text/html; charset=utf-8")
	}
}

// hashedPage is a web page whose html_hash (and headers_hash, when not 0)
// the catalog names.
func hashedPage(htmlHash, headersHash int32) func(*shodanGen, *Banner) {
	return func(g *shodanGen, b *Banner) {
		b.HTTP = g.httpPage("", "", "<html><body></body></html>", 200)
		b.HTTP.HTMLHash = htmlHash
		if headersHash != 0 {
			b.HTTP.HeadersHash = headersHash
		}
		b.Data = httpData(200, "", "Content-Type: text/html")
	}
}

var catalogSpecs = []catalogSpec{
	{family: "Quasar RAT", port: 4782, build: productBanner("Quasar RAT", "\x40\x00\x00\x00")},
	{family: "AsyncRAT", port: 6606, build: func(g *shodanGen, b *Banner) {
		b.Product = "AsyncRAT"
		name := [][2]string{{"CN", "AsyncRAT Server"}}
		b.SSL = g.ssl("", g.cert(name, name, nil))
	}},
	{family: "DcRAT", port: 8848, build: productBanner("DcRat", "")},
	{family: "Remcos", port: 2404, build: productBanner("Remcos Pro RAT Trojan", "")},
	{family: "njRAT", port: 5552, build: productBanner("njRAT Trojan", "")},
	{family: "ShadowPad", port: 443, v6: true, build: productBanner("ShadowPad", "")},
	{family: "NanoCore", port: 54984, build: productBanner("NanoCore RAT Trojan", "")},
	{family: "Gh0st RAT", port: 8000, build: productBanner("Gh0st RAT Trojan", "Gh0st\xad\x00\x00\x00")},
	{family: "BitRAT", port: 7777, build: productBanner("BitRAT", "")},
	{family: "DarkComet", port: 1604, stale: true, build: productBanner("DarkComet Trojan", "BF7CAB464EFB")},
	{family: "Orcus RAT", port: 10134, stale: true, build: productBanner("Orcus RAT Trojan", "")},
	{family: "Supershell", port: 8888, cdn: "Cloudflare", build: panel("Supershell - 登录", "<html><head><title>Supershell - 登录</title></head><body><div id=\"app\"></div></body></html>", -1010228102)},
	{family: "Vshell", port: 8082, build: panel("Vshell - 登录", "<html><head><title>Vshell - 登录</title></head></html>", 0)},
	{family: "Caldera", port: 8888, build: panel("Login | CALDERA", "<html><head><title>Login | CALDERA</title></head><body>caldera</body></html>", -636718605)},
	{family: "GoPhish", port: 3333, cdn: "Fastly", build: panel("Gophish - Login", "<html><head><title>Gophish - Login</title></head><body>gophish</body></html>", 0)},
	{family: "Hak5 Cloud C2", port: 8080, build: productBanner("Hak5 Cloud C2", "")},
	{family: "Pantegana", port: 1337, build: func(g *shodanGen, b *Banner) {
		b.SSL = g.ssl("", g.cert([][2]string{{"O", "Pantegana"}, {"CN", "localhost"}}, [][2]string{{"O", "Pantegana"}, {"CN", "Pantegana Root CA"}}, nil))
	}},
	{family: "Covenant", port: 7443, build: func(g *shodanGen, b *Banner) {
		panel("Covenant", "<html><head><title>Covenant</title><script src=\"_framework/blazor.server.js\"></script></head></html>", 0)(g, b)
		b.Product = "Covenant"
		b.HTTP.Components = []string{"Blazor"}
		name := [][2]string{{"CN", "Covenant"}}
		b.SSL = g.ssl("", g.cert(name, name, nil))
	}},
	{family: "Brute Ratel", port: 443, build: productBanner("Brute Ratel C4", "")},
	{family: "Sliver", port: 31337, build: func(g *shodanGen, b *Banner) {
		b.Product = "Sliver C2"
		b.SSL = g.ssl("", g.cert([][2]string{{"O", "multiplayer"}, {"CN", "multiplayer"}}, [][2]string{{"O", "operators"}, {"CN", "operators"}}, nil))
	}},
	{family: "PANDA", port: 80, build: panel("PANDA", "<html><head><title>PANDA</title><link href=\"/layui/css/layui.css\"></head></html>", 0)},
	{family: "NimPlant", port: 80, build: hashedPage(-1258014549, 0)},
	{family: "Viper", port: 60000, build: hashedPage(-1250764086, 0)},
	{family: "Poseidon", port: 443, build: panel("", "<html><body>Poseidon</body></html>", 219045137)},
	{family: "Oyster", port: 443, build: hashedPage(-51903740, 0)},
	{family: "SpiceRAT", port: 80, build: hashedPage(114440660, 1955818171)},
	{family: "SectopRAT", port: 9000, build: hashedPage(0, -1731927497)},
	{family: "RedGuard", port: 443, build: func(g *shodanGen, b *Banner) {
		b.HTTP = g.httpPage("", "", "", 307)
		b.Data = httpData(307, "", "Content-Type: text/html; charset=utf-8", "Location: https://360.net")
	}},
	{family: "Meduza Stealer", port: 80, cdn: "Amazon CloudFront", build: panel("Meduza Stealer", "<html><head><title>Meduza Stealer</title></head></html>", 0)},
	{family: "Mystic Stealer", port: 80, build: panel("Mystic Stealer", "<html><head><title>Mystic Stealer</title></head></html>", -442056565)},
	{family: "RisePro Stealer", port: 80, build: func(g *shodanGen, b *Banner) {
		b.HTTP = g.httpPage("RisePro", "", "", 404)
		b.Data = httpData(404, "RisePro", "Content-Length: 0")
	}},
	{family: "Bandit Stealer", port: 8080, build: func(g *shodanGen, b *Banner) {
		b.HTTP = g.httpPage("", "Login", "<html><head><title>Login</title></head><body>Welcome to Bandit</body></html>", 200)
		b.Data = httpData(200, "", "Content-Type: text/html", "Content-Length: 4125")
	}},
	{family: "Atlantida Stealer", port: 80, build: panel("Atlantida", "<html><body><img src=\"https://i.imgur.com/GY7HXsD.jpg\"></body></html>", 0)},
	{family: "Collector Stealer", port: 80, build: panel("Login", "<html><body>Collector Stealer by getmineteam</body></html>", 0)},
	{family: "Hookbot", port: 80, cdn: "Cloudflare", build: panel("Hookbot Panel", "<html><head><title>Hookbot Panel</title></head></html>", 0)},
	{family: "BlackNet", port: 80, build: panel("BlackNet - Login", "<html><head><title>BlackNet - Login</title></head></html>", 0)},
	{family: "XMRig", port: 8080, build: panel("XMRig Dashboard", "<html><body>XMRig</body></html>", 1088998712)},
	{family: "Unam Web Panel", port: 80, build: panel("Unam Web Panel &mdash; Login", "<html><script src=\"unam_lib.js\"></script></html>", -1278680098)},
	{family: "Mozi", port: 80, stale: true, build: hashedPage(-1245370368, 0)},
	{family: "Misha Stealer", port: 80, build: func(g *shodanGen, b *Banner) {
		panel("misha", "<html><head><title>misha</title><link href=\"uikit.min.css\"></head></html>", 0)(g, b)
		b.HTTP.Components = []string{"UIKit"}
	}},
	{family: "Spectre Stealer", port: 80, build: panel("Spectre Stealer - Login", "<html><head><title>Spectre Stealer - Login</title></head></html>", 0)},
	{family: "Prysmax Stealer", port: 80, build: panel("Prysmax Stealer", "<html><head><title>Prysmax Stealer</title></head></html>", 0)},
	{family: "MobSF", port: 8000, build: panel("Mobile Security Framework - MobSF", "<html><head><title>Mobile Security Framework - MobSF</title></head></html>", 0)},
	{family: "Metasploit", port: 3790, build: func(g *shodanGen, b *Banner) {
		name := [][2]string{{"CN", "MetasploitSelfSignedCA"}}
		b.SSL = g.ssl("", g.cert(name, name, nil))
	}},
	{family: "Mythic", port: 7443, build: productBanner("Mythic", "")},
}

// genCatalogServers adds the catalog's servers to w, from their own random
// stream, and keeps w.Banners newest first.
func genCatalogServers(w *World) {
	rng := rand.New(rand.NewPCG(uint64(w.Config.Seed), 0xca7a1095))
	g := &shodanGen{rng: rng, now: w.Config.Now.UTC(), used: make(map[netip.Addr]bool, len(w.Banners))}
	for _, b := range w.Banners {
		g.used[b.IP] = true
	}
	for _, sp := range catalogSpecs {
		h, ok := cdnHosters[sp.cdn]
		if !ok {
			h = g.hoster(sp.v6)
		}
		s := &Server{Framework: sp.family, CDN: sp.cdn, IP: g.addr(h, sp.v6)}
		if sp.stale {
			s.Stale = true
			s.LastSeen = g.now.Add(-time.Duration(15*24*3600+rng.IntN(20*24*3600)) * time.Second)
		} else {
			s.LastSeen = g.now.Add(-time.Duration(60+rng.IntN(4*24*3600)) * time.Second)
		}
		s.LastSeen = s.LastSeen.Truncate(time.Microsecond)
		b := &Banner{Port: sp.port}
		sp.build(g, b)
		g.finish(b, s, h, 0)
		s.Banners = []*Banner{b}
		w.CatalogServers = append(w.CatalogServers, s)
		w.Banners = append(w.Banners, b)
	}
	// Two banner hashes the catalog names: the whole banner is hashed by
	// finish, so they are set after it.
	for _, hb := range []struct {
		family string
		port   int
		hash   int32
	}{{"7777 Botnet", 7777, 1357418825}, {"Villain", 6501, 856668804}} {
		h := g.hoster(false)
		s := &Server{Framework: hb.family, IP: g.addr(h, false), LastSeen: g.now.Add(-time.Duration(600+rng.IntN(3*24*3600)) * time.Second).Truncate(time.Microsecond)}
		b := &Banner{Port: hb.port, Data: "\x00\x01" + hb.family}
		g.finish(b, s, h, 0)
		b.Hash = hb.hash
		s.Banners = []*Banner{b}
		w.CatalogServers = append(w.CatalogServers, s)
		w.Banners = append(w.Banners, b)
	}
	slices.SortStableFunc(w.Banners, func(a, b *Banner) int { return b.Timestamp.Compare(a.Timestamp) })
}
