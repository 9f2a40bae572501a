package lab

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Intel is what the free intelligence sources publish about the world:
// ThreatFox IOCs, Feodo Tracker's blocklist, a text and a CSV C2 feed and a
// `shodan download` banner file. It is drawn from the world without a
// random draw of its own (the rest of the world stays as it was): every
// server a planted contact talks to is named by some source, so sweeps of
// free sources find hits, and Shared is named by every one of them.
type Intel struct {
	// Shared is the address every source names (a fresh contact's server).
	Shared    netip.Addr
	ThreatFox []ThreatFoxIOC
	Feodo     []FeodoEntry
	// TextFeed and CSVFeed are the feeds' bodies; FeedModified is their
	// Last-Modified (two hours before Now), StaleFeedModified that of the
	// stale feed (40 days before Now).
	TextFeed, CSVFeed, StaleFeed    []byte
	FeedModified, StaleFeedModified time.Time
	// TextFeedIPs and CSVFeedIPs are the valid addresses each feed names.
	TextFeedIPs, CSVFeedIPs []netip.Addr
	// BannerServers are the servers whose banners the banner file holds.
	BannerServers []*Server
}

// ThreatFoxIOC is one get_iocs item. Empty strings are served as null or,
// where ThreatFox does, as "None".
type ThreatFoxIOC struct {
	ID, IOC, IOCType, ThreatType string
	Malware, MalwarePrintable    string
	MalwareAlias                 string // "" is served as "None" on odd ids, null on even
	Confidence                   int
	FirstSeen                    time.Time
	LastSeen                     time.Time // zero: null
	Reporter, Reference          string
	Tags                         []string
	Server                       *Server // nil for the bad and non-IP items
}

// FeodoEntry is one blocklist entry.
type FeodoEntry struct {
	IPAddress  string
	Port       int
	Status     string
	ASNumber   int
	ASName     string
	Country    string
	FirstSeen  time.Time
	LastOnline time.Time // a date
	Malware    string
	Server     *Server // nil for the bad item
}

// Intel sources' bad items, one each, for the skip counts.
const (
	IntelBadIP  = "256.12.7.1"
	IntelBadIOC = "256.12.7.1:8080"
)

// malpedia names the world's frameworks as ThreatFox does.
var malpedia = map[string][2]string{
	"Cobalt Strike": {"win.cobalt_strike", "Cobalt Strike"},
	"Sliver":        {"win.sliver", "Sliver"},
	"PoshC2":        {"win.poshc2", "PoshC2"},
	"Empire":        {"ps1.empire", "PowerShell Empire"},
	"Mythic":        {"win.mythic", "Mythic"},
	"Havoc":         {"win.havoc", "Havoc"},
	"Covenant":      {"win.covenant", "Covenant"},
	"Metasploit":    {"win.metasploit", "Metasploit"},
	"Brute Ratel":   {"win.brute_ratel_c4", "Brute Ratel C4"},
	"Deimos":        {"win.deimos", "Deimos"},
}

// intelServers are the fresh servers the sources name, contacts' first.
func intelServers(w *World) []*Server {
	var out []*Server
	// Contacts a sweep can find (within the APIs' 30 days) first, so that
	// Shared is one of them.
	for _, old := range []bool{false, true} {
		for _, c := range w.Contacts {
			if c.Old == old && !c.Server.Stale && !slices.Contains(out, c.Server) {
				out = append(out, c.Server)
			}
		}
	}
	for _, s := range w.Servers {
		if len(out) >= 16 {
			break
		}
		if !s.Stale && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// genIntel fills w.Intel from the servers and contacts already drawn.
func genIntel(w *World) {
	now := w.Config.Now.UTC().Truncate(time.Second)
	servers := intelServers(w)
	in := &w.Intel
	if len(servers) == 0 {
		return
	}
	in.Shared = servers[0].IP.Unmap()
	var stale *Server
	for _, s := range w.Servers {
		if s.Stale {
			stale = s
			break
		}
	}
	port := func(s *Server) int {
		if len(s.Banners) > 0 {
			return s.Banners[0].Port
		}
		return 443
	}
	ipPort := func(s *Server) string { return netip.AddrPortFrom(s.IP.Unmap(), uint16(port(s))).String() }

	// ThreatFox: every server of the list, plus the ugly items. first_seen
	// is 26 h to 6 days old, so days=1 answers no_result.
	confidences := []int{100, 75, 50, 80}
	id := 1300000
	for i, s := range servers {
		m := malpedia[s.Framework]
		if m[0] == "" {
			m = [2]string{"unknown", s.Framework}
		}
		first := now.Add(-26*time.Hour - time.Duration(i%5)*24*time.Hour)
		ioc := ThreatFoxIOC{
			ID: fmt.Sprint(id + i), IOC: ipPort(s), IOCType: "ip:port", ThreatType: "botnet_cc",
			Malware: m[0], MalwarePrintable: m[1], Confidence: confidences[i%len(confidences)],
			FirstSeen: first, Reporter: "c2sweep_lab", Tags: []string{strings.ToLower(strings.ReplaceAll(s.Framework, " ", "")), "c2"},
			Server: s,
		}
		if i%3 != 2 {
			ioc.LastSeen = s.LastSeen.UTC().Truncate(time.Second)
		}
		if i == 0 {
			ioc.Confidence = 100
			ioc.Reference = "https://lab.invalid/report/shared"
		}
		in.ThreatFox = append(in.ThreatFox, ioc)
	}
	n := len(servers)
	in.ThreatFox = append(in.ThreatFox,
		ThreatFoxIOC{ID: fmt.Sprint(id + n), IOC: IntelBadIOC, IOCType: "ip:port", ThreatType: "botnet_cc",
			Malware: "win.cobalt_strike", MalwarePrintable: "Cobalt Strike", Confidence: 100, FirstSeen: now.Add(-30 * time.Hour), Reporter: "c2sweep_lab"},
		ThreatFoxIOC{ID: fmt.Sprint(id + n + 1), IOC: "update-cdn.lab.invalid", IOCType: "domain", ThreatType: "botnet_cc",
			Malware: "win.sliver", MalwarePrintable: "Sliver", Confidence: 75, FirstSeen: now.Add(-50 * time.Hour), Reporter: "c2sweep_lab"},
		ThreatFoxIOC{ID: fmt.Sprint(id + n + 2), IOC: "https://update-cdn.lab.invalid/gate.php", IOCType: "url", ThreatType: "payload_delivery",
			Malware: "win.cobalt_strike", MalwarePrintable: "Cobalt Strike", Confidence: 50, FirstSeen: now.Add(-75 * time.Hour), Reporter: "c2sweep_lab"},
	)

	// Feodo: the shared server, three more, a stale one and a bad address.
	asn := 64500
	feodo := func(s *Server, last time.Time, status string) FeodoEntry {
		return FeodoEntry{IPAddress: s.IP.Unmap().String(), Port: port(s), Status: status, ASNumber: asn, ASName: "LAB-AS",
			Country: "NL", FirstSeen: now.Add(-20 * 24 * time.Hour), LastOnline: last.UTC().Truncate(24 * time.Hour), Malware: s.Framework, Server: s}
	}
	for i, s := range servers[:min(4, len(servers))] {
		in.Feodo = append(in.Feodo, feodo(s, now.Add(-time.Duration(i)*time.Hour), "online"))
	}
	if stale != nil {
		in.Feodo = append(in.Feodo, feodo(stale, stale.LastSeen, "offline"))
	}
	in.Feodo = append(in.Feodo, FeodoEntry{IPAddress: IntelBadIP, Port: 443, Status: "online", ASNumber: asn, ASName: "LAB-AS",
		Country: "NL", FirstSeen: now.Add(-3 * 24 * time.Hour), LastOnline: now.Truncate(24 * time.Hour), Malware: "QakBot"})

	// Feeds: C2-Tracker-style text and C2IntelFeeds-style CSV.
	in.FeedModified = now.Add(-2 * time.Hour)
	in.StaleFeedModified = now.Add(-40 * 24 * time.Hour)
	var txt, csv, old bytes.Buffer
	txt.WriteString("# c2sweep lab: C2 servers seen by the lab's scanner\n# one address a line\n\n")
	csv.WriteString("# c2sweep lab C2 feed, last 7 days\n# ip, ioc, first_seen\n")
	old.WriteString("# frozen feed\n")
	for i, s := range servers {
		ip := s.IP.Unmap().String()
		if i%2 == 0 {
			in.TextFeedIPs = append(in.TextFeedIPs, s.IP.Unmap())
			if i == 2 {
				fmt.Fprintf(&txt, "%s  # with its port\n", ipPort(s))
			} else {
				fmt.Fprintf(&txt, "%s\n", ip)
			}
		}
		if i%2 == 0 || i == 1 {
			in.CSVFeedIPs = append(in.CSVFeedIPs, s.IP.Unmap())
			fmt.Fprintf(&csv, "%s, Possible %s C2 IP, %s\n", ip, s.Framework, now.Add(-48*time.Hour).Format(time.DateTime))
		}
		if i < 3 {
			fmt.Fprintf(&old, "%s\n", ip)
		}
	}
	txt.WriteString(IntelBadIP + "\n")
	csv.WriteString(IntelBadIP + ", Possible Cobaltstrike C2 IP, None\n")
	in.TextFeed, in.CSVFeed, in.StaleFeed = txt.Bytes(), csv.Bytes(), old.Bytes()

	in.BannerServers = servers[:min(6, len(servers))]
}

// BannerFile is the `shodan download` file of the intel world: gzip'd
// JSON lines, one full banner each, for Intel.BannerServers, plus one line
// with a bad ip_str (a reader skips and counts it).
func (w *World) BannerFile() []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	var line []byte
	for _, s := range w.Intel.BannerServers {
		for _, b := range s.Banners {
			line = b.AppendJSON(line[:0], false)
			zw.Write(line)
			zw.Write([]byte("\n"))
		}
	}
	if len(w.Intel.BannerServers) > 0 && len(w.Intel.BannerServers[0].Banners) > 0 {
		bad := *w.Intel.BannerServers[0].Banners[0]
		bad.IPStr = IntelBadIP
		line = bad.AppendJSON(line[:0], false)
		zw.Write(line)
		zw.Write([]byte("\n"))
	}
	zw.Close()
	return buf.Bytes()
}
