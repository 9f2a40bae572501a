package lab

// The organisation's telemetry: devices, ordinary events and the planted
// contacts with C2 servers that a sweep must find.

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Device is one device of the organisation and its main user.
type Device struct {
	ID          string // MDE DeviceId: 40 hex digits
	Name        string // FQDN, as DeviceName holds it
	AadDeviceID string
	LocalIP     netip.Addr
	OS          string
	Account     string // sAMAccountName of the main user
	Domain      string
	UPN         string
	AccountSID  string
	AccountOID  string
	DisplayName string
}

// Event is one telemetry row. It is kept small (the benchmark world holds a
// million): the columns of a row are derived from these fields when the row
// is served.
type Event struct {
	Table string
	Time  time.Time // 100 ns precision, as Defender stores it
	// IP is the table's remote IP column exactly as logged: an IPv4-mapped
	// address (Is4In6) is logged "::ffff:a.b.c.d".
	IP       netip.Addr
	ReportID int64
	Device   int32 // index into World.Devices
	Port     uint16
	Process  uint8 // index into processes
	Action   uint8 // index into the table's actions
}

// Logged is the IP column's value as the row carries it.
func (e *Event) Logged() string { return e.IP.String() }

// Contact is a planted event of a device talking to a C2 server: the ground
// truth of a sweep.
type Contact struct {
	Device      string // DeviceName
	DeviceID    string
	Server      *Server
	ServerIP    netip.Addr // unmapped
	Logged      string     // the IP string as logged, e.g. "::ffff:203.0.113.7"
	Table       string
	Column      string
	Time        time.Time
	Port        int
	Process     string
	CommandLine string
	Account     string // DOMAIN\name
	ReportID    int64
	// Stale is set when the server is stale (a 7 d max age drops it); Old
	// when the contact is older than the 30 days the APIs keep.
	Stale, Old bool
	// Tenant is the tenant of the device (World.TenantOf): only that
	// tenant's hunting APIs answer the contact's row.
	Tenant int
}

// The tables the lab has telemetry for, with the IP column each fills.
var telemetryTables = []struct {
	name, ipColumn string
	share          int // per mille of ordinary events
}{
	{"DeviceNetworkEvents", "RemoteIP", 700},
	{"DeviceLogonEvents", "RemoteIP", 100},
	{"IdentityLogonEvents", "IPAddress", 70},
	{"CloudAppEvents", "IPAddress", 80},
	{"AADSignInEventsBeta", "IPAddress", 50},
}

// ipColumnOf is the column an Event's IP fills in its table.
func ipColumnOf(table string) string {
	for _, t := range telemetryTables {
		if t.name == table {
			return t.ipColumn
		}
	}
	return ""
}

var tableActions = map[string][]string{
	"DeviceNetworkEvents": {"ConnectionSuccess", "ConnectionSuccess", "ConnectionSuccess", "ConnectionFailed", "ConnectionAttempt", "InboundConnectionAccepted"},
	"DeviceLogonEvents":   {"LogonSuccess", "LogonSuccess", "LogonFailed"},
	"IdentityLogonEvents": {"LogonSuccess", "LogonSuccess", "LogonFailed"},
	"CloudAppEvents":      {"FileAccessed", "MailItemsAccessed", "FileDownloaded", "FileModified"},
	"AADSignInEventsBeta": {""},
}

type process struct {
	file, folder, cmd, company, product string
	sha1                                string
}

// processes: ordinary ones first, then the ones planted contacts use.
var processes = []process{
	{"msedge.exe", `C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`, `"msedge.exe" --type=utility --utility-sub-type=network.mojom.NetworkService`, "Microsoft Corporation", "Microsoft Edge", ""},
	{"chrome.exe", `C:\Program Files\Google\Chrome\Application\chrome.exe`, `"chrome.exe" --type=utility --utility-sub-type=network.mojom.NetworkService`, "Google LLC", "Google Chrome", ""},
	{"svchost.exe", `C:\Windows\System32\svchost.exe`, `svchost.exe -k NetworkService -p -s Dnscache`, "Microsoft Corporation", "Microsoft® Windows® Operating System", ""},
	{"ms-teams.exe", `C:\Program Files\WindowsApps\MSTeams_24335.206.3315.2130_x64__8wekyb3d8bbwe\ms-teams.exe`, `"ms-teams.exe"`, "Microsoft Corporation", "Microsoft Teams", ""},
	{"OneDrive.exe", `C:\Program Files\Microsoft OneDrive\OneDrive.exe`, `"OneDrive.exe" /background`, "Microsoft Corporation", "Microsoft OneDrive", ""},
	{"OUTLOOK.EXE", `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`, `"OUTLOOK.EXE"`, "Microsoft Corporation", "Microsoft Outlook", ""},
	{"MsSense.exe", `C:\Program Files\Windows Defender Advanced Threat Protection\MsSense.exe`, `"MsSense.exe"`, "Microsoft Corporation", "Microsoft® Windows® Operating System", ""},
}

// firstPlanted is the index of the first process only contacts use.
var firstPlanted = len(processes)

// The processes planted contacts use are the attacker's, and so is every
// string they log: each command line carries a payload that must stay text
// in every output (terminal escape sequences, an OSC 8 link, a bidi
// override, line breaks, Markdown, HTML and Slack mentions and links).
func init() {
	processes = append(processes,
		process{"rundll32.exe", `C:\Windows\System32\rundll32.exe`, "rundll32.exe C:\\Users\\Public\\Libraries\\update.dll,StartW \x1b]8;;https://evil.example/\x1b\\Windows Update\x1b]8;;\x1b\\", "Microsoft Corporation", "Microsoft® Windows® Operating System", ""},
		process{"powershell.exe", `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe -nop -w hidden -encodedcommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA #**[Microsoft Update](https://evil.example)** <script>alert(1)</script>`, "Microsoft Corporation", "Microsoft® Windows® Operating System", ""},
		process{"dllhost.exe", `C:\Windows\System32\dllhost.exe`, "C:\\Windows\\system32\\dllhost.exe \x1b[2J\x1b[H\x1b[32mno threats found\x1b[0m", "Microsoft Corporation", "Microsoft® Windows® Operating System", ""},
		process{"OneDriveUpdater.exe", `C:\Users\Public\OneDriveUpdater.exe`, "\"C:\\Users\\Public\\OneDriveUpdater.exe\" -s <!channel> <https://evil.example|click here>\r\n<img src=x onerror=alert(1)>", "", "", ""},
		process{"invoice\u202efdp.exe", "C:\\Users\\Public\\Downloads\\invoice\u202efdp.exe", "\"C:\\Users\\Public\\Downloads\\invoice\u202efdp.exe\" @channel\nstatus: clean", "", "", ""},
	)
	for i := range processes {
		processes[i].sha1 = fmt.Sprintf("%040x", telemetryHash(processes[i].folder))
	}
}

func telemetryHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// publicBlocks are ordinary destinations: cloud, CDN and SaaS ranges.
var publicBlocks = []netip.Prefix{
	netip.MustParsePrefix("13.107.0.0/16"),   // Microsoft 365
	netip.MustParsePrefix("20.190.128.0/18"), // Entra ID
	netip.MustParsePrefix("52.96.0.0/14"),    // Exchange Online
	netip.MustParsePrefix("142.250.0.0/15"),  // Google
	netip.MustParsePrefix("151.101.0.0/16"),  // Fastly
	netip.MustParsePrefix("104.16.0.0/13"),   // Cloudflare
	netip.MustParsePrefix("54.192.0.0/12"),   // AWS CloudFront
	netip.MustParsePrefix("2603:1030::/32"),  // Microsoft IPv6
	netip.MustParsePrefix("2a00:1450::/32"),  // Google IPv6
	netip.MustParsePrefix("81.2.69.0/24"),    // home broadband (sign-ins)
	netip.MustParsePrefix("86.128.0.0/12"),   // home broadband
}

// genTelemetry makes the organisation: devices, ordinary events over the
// last 35 days from ordinary public addresses (never a C2 server's), and
// the planted contacts. Deterministic from rng.
func genTelemetry(rng *rand.Rand, w *World) {
	cfg := w.Config
	now := cfg.Now.Truncate(100)
	servers := map[netip.Addr]bool{}
	for _, s := range w.Servers {
		servers[s.IP.Unmap()] = true
	}
	w.Devices = make([]Device, cfg.Devices)
	first := []string{"alex", "sam", "kim", "lee", "robin", "jo", "max", "ari", "noor", "eli", "sasha", "chris"}
	last := []string{"meyer", "dupont", "rossi", "smith", "novak", "jensen", "garcia", "kowalski", "silva", "tanaka"}
	oses := []string{"Windows11", "Windows11", "Windows10", "WindowsServer2022", "macOS"}
	for i := range w.Devices {
		fn, ln := first[rng.IntN(len(first))], last[rng.IntN(len(last))]
		acct := fmt.Sprintf("%s.%s%d", fn, ln, i)
		name := fmt.Sprintf("ws-%04d.corp.contoso.lab", i+1)
		if i < len(hostileDevices) {
			name, acct = hostileDevices[i].name, hostileDevices[i].account
		}
		w.Devices[i] = Device{
			ID:          fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32()),
			Name:        name,
			AadDeviceID: guidFrom(rng),
			LocalIP:     netip.AddrFrom4([4]byte{10, byte(20 + i/65025%200), byte(i / 255 % 255), byte(i%255 + 1)}),
			OS:          oses[rng.IntN(len(oses))],
			Account:     acct,
			Domain:      "CONTOSO",
			UPN:         acct + "@contoso.lab",
			AccountSID:  fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", 1100+i),
			AccountOID:  guidFrom(rng),
			DisplayName: fn + " " + ln,
		}
	}
	if len(w.Devices) == 0 {
		return
	}
	// A pool of destinations, so that popular ones repeat as in real
	// traffic and the IP index stays small.
	poolSize := min(max(cfg.Events/25, 200), 40000)
	pool := make([]netip.Addr, 0, poolSize)
	seen := map[netip.Addr]bool{}
	for len(pool) < poolSize {
		p := publicBlocks[rng.IntN(len(publicBlocks))]
		a := randomAddrIn(rng, p)
		if servers[a] || seen[a] {
			continue
		}
		seen[a] = true
		pool = append(pool, a)
	}
	reportID := int64(10000 + rng.IntN(100000))
	w.Events = make([]Event, 0, cfg.Events+cfg.Contacts)
	span := int64(35 * 24 * time.Hour / 100)
	for range cfg.Events {
		n := rng.IntN(1000)
		ti := 0
		for ; ti < len(telemetryTables)-1 && n >= telemetryTables[ti].share; ti++ {
			n -= telemetryTables[ti].share
		}
		table := telemetryTables[ti].name
		// Zipf-like: low indices are popular destinations.
		ip := pool[int(float64(len(pool))*rng.Float64()*rng.Float64())]
		if table == "DeviceNetworkEvents" && ip.Is4() && rng.IntN(20) == 0 {
			ip = netip.AddrFrom16(ip.As16())
		}
		port := uint16(443)
		switch table {
		case "DeviceNetworkEvents":
			if rng.IntN(10) == 0 {
				port = 80
			}
		case "DeviceLogonEvents":
			port = uint16(49152 + rng.IntN(16000))
		default:
			port = 0
		}
		reportID++
		w.Events = append(w.Events, Event{
			Table:    table,
			Time:     now.Add(-time.Duration(rng.Int64N(span)) * 100),
			IP:       ip,
			ReportID: reportID,
			Device:   int32(rng.IntN(len(w.Devices))),
			Port:     port,
			Process:  uint8(rng.IntN(firstPlanted)),
			Action:   uint8(rng.IntN(len(tableActions[table]))),
		})
	}
	genContacts(rng, w, &reportID)
	genBeacons(w, &reportID)
	slices.SortStableFunc(w.Events, func(a, b Event) int { return a.Time.Compare(b.Time) })
}

// hostileDevices are the first devices of the organisation: names and
// accounts an attacker chose (a rogue device joined to the tenant). The first
// planted contacts come from them.
var hostileDevices = []struct{ name, account string }{
	{"ws-0001.corp.contoso.lab\x1b[1A\x1b[2K\x1b[31m", "svc\u202enimda"},
	{"<img src=x onerror=alert(1)>**ws-0002**\n<!channel>", "[helpdesk](https://evil.example)"},
}

// contactKinds is the order in which planted contacts are made, so that a
// small world still has each kind a sweep must handle.
var contactKinds = []string{"dne", "dne-mapped", "stale", "old", "logon", "identity", "cloudapp", "dne", "dne-mapped", "dne"}

// huntedFrameworks are the ones c2sweep's built-in hunts look for.
var huntedFrameworks = []string{"Cobalt Strike", "PoshC2", "Empire", "Deimos"}

func genContacts(rng *rand.Rand, w *World, reportID *int64) {
	// Most contacts go to frameworks the built-in hunts fingerprint, so a
	// default sweep of a small world finds several; the rest go to others
	// (Sliver, Mythic ...) that only custom hunts find.
	var fresh, hunted, stale []*Server
	for _, s := range w.Servers {
		switch {
		case s.Stale:
			stale = append(stale, s)
		case slices.Contains(huntedFrameworks, s.Framework):
			hunted = append(hunted, s)
			fresh = append(fresh, s)
		default:
			fresh = append(fresh, s)
		}
	}
	if len(fresh) == 0 {
		return
	}
	now := w.Config.Now.Truncate(100)
	for i := range w.Config.Contacts {
		kind := "dne"
		if i < len(contactKinds) {
			kind = contactKinds[i]
		} else if i%3 == 1 {
			kind = "dne-mapped"
		}
		srv := fresh[rng.IntN(len(fresh))]
		if len(hunted) > 0 && rng.IntN(4) != 0 {
			srv = hunted[rng.IntN(len(hunted))]
		}
		if kind == "stale" {
			if len(stale) == 0 {
				kind = "dne"
			} else {
				srv = stale[rng.IntN(len(stale))]
			}
		}
		dev := int32(rng.IntN(len(w.Devices)))
		if i < len(hostileDevices) && i < len(w.Devices) {
			dev = int32(i)
		}
		d := &w.Devices[dev]
		ip := srv.IP.Unmap()
		at := now.Add(-time.Duration(rng.Int64N(int64(27*24*time.Hour)/100))*100 - time.Hour)
		table, port, proc := "DeviceNetworkEvents", uint16([]int{443, 80, 8443, 8080, 53}[rng.IntN(5)]), uint8(firstPlanted+rng.IntN(len(processes)-firstPlanted))
		c := Contact{Stale: kind == "stale"}
		switch kind {
		case "dne-mapped":
			if ip.Is4() {
				ip = netip.AddrFrom16(ip.As16())
			}
		case "old":
			at = now.Add(-31*24*time.Hour - time.Duration(rng.Int64N(int64(3*24*time.Hour)/100))*100)
			c.Old = true
		case "logon":
			table, port = "DeviceLogonEvents", uint16(49152+rng.IntN(16000))
		case "identity":
			table, port = "IdentityLogonEvents", 0
		case "cloudapp":
			table, port = "CloudAppEvents", 0
		}
		*reportID++
		w.Events = append(w.Events, Event{Table: table, Time: at, IP: ip, ReportID: *reportID, Device: dev, Port: port, Process: proc})
		c.Device, c.DeviceID, c.Server, c.ServerIP = d.Name, d.ID, srv, srv.IP.Unmap()
		c.Logged, c.Table, c.Column, c.Time, c.Port = ip.String(), table, ipColumnOf(table), at, int(port)
		c.Account, c.ReportID = d.Domain+`\`+d.Account, *reportID
		if table == "DeviceNetworkEvents" || table == "DeviceLogonEvents" {
			c.Process, c.CommandLine = processes[proc].file, processes[proc].cmd
		}
		w.Contacts = append(w.Contacts, c)
	}
}

func randomAddrIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		if rng.IntN(2) == 1 {
			b[i/8] |= 1 << (7 - i%8)
		}
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
		// Avoid network and broadcast-looking addresses.
		if v := a.As4(); v[3] == 0 || v[3] == 255 {
			v[3] = 7
			a = netip.AddrFrom4(v)
		}
	}
	return a
}

func guidFrom(rng *rand.Rand) string {
	var g [16]byte
	for i := range g {
		g[i] = byte(rng.UintN(256))
	}
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:16])
}

// Hits is the ground truth of a query: the events of table whose column
// holds, as a string, exactly one of ips (so 1.2.3.4 does not match a row
// logged "::ffff:1.2.3.4"; pass the Is4In6 form for that), with start <=
// Time < end, oldest first. Only the table's remote IP column and
// DeviceNetworkEvents' LocalIP hold addresses in the lab.
func (w *World) Hits(table, column string, ips []netip.Addr, start, end time.Time) []Event {
	want := map[netip.Addr]bool{}
	for _, ip := range ips {
		want[ip] = true
	}
	var out []Event
	for i := range w.Events {
		e := &w.Events[i]
		if e.Table != table || e.Time.Before(start) || !e.Time.Before(end) {
			continue
		}
		if a, ok := w.ipValue(e, column); ok && want[a] {
			out = append(out, *e)
		}
	}
	return out
}

// ipValue is the address an IP column of an event holds.
func (w *World) ipValue(e *Event, column string) (netip.Addr, bool) {
	switch {
	case column == ipColumnOf(e.Table):
		return e.IP, true
	case column == "LocalIP" && e.Table == "DeviceNetworkEvents":
		return w.Devices[e.Device].LocalIP, true
	}
	return netip.Addr{}, false
}

// genBeacons plants what a real implant does: many contacts of one device
// with one server across days, and a second server of the same device.
// It draws from its own stream so that the contacts stay the same.
func genBeacons(w *World, reportID *int64) {
	n := w.Config.Beacons
	var hunted []*Server
	for _, s := range w.Servers {
		if !s.Stale && s.Framework == "Cobalt Strike" {
			hunted = append(hunted, s)
		}
	}
	if n <= 0 || len(hunted) < 2 || len(w.Devices) <= len(hostileDevices) {
		return
	}
	rng := rand.New(rand.NewPCG(uint64(w.Config.Seed), 0xbeac0))
	now := w.Config.Now.Truncate(100)
	dev := int32(len(hostileDevices) + rng.IntN(len(w.Devices)-len(hostileDevices)))
	a := rng.IntN(len(hunted))
	b := (a + 1 + rng.IntN(len(hunted)-1)) % len(hunted)
	proc := uint8(firstPlanted + 1) // powershell.exe
	plant := func(srv *Server, at time.Time, port uint16) {
		d := &w.Devices[dev]
		*reportID++
		ip := srv.IP.Unmap()
		w.Events = append(w.Events, Event{Table: "DeviceNetworkEvents", Time: at, IP: ip, ReportID: *reportID, Device: dev, Port: port, Process: proc})
		w.Contacts = append(w.Contacts, Contact{Device: d.Name, DeviceID: d.ID, Server: srv, ServerIP: ip, Logged: ip.String(),
			Table: "DeviceNetworkEvents", Column: "RemoteIP", Time: at, Port: int(port), Process: processes[proc].file,
			CommandLine: processes[proc].cmd, Account: d.Domain + `\` + d.Account, ReportID: *reportID})
	}
	// Evenly over three days ending two hours ago, with jitter under a minute.
	step := 3 * 24 * time.Hour / time.Duration(n)
	start := now.Add(-3*24*time.Hour - 2*time.Hour)
	for i := range n {
		plant(hunted[a], start.Add(time.Duration(i)*step+time.Duration(rng.Int64N(int64(time.Minute)/100))*100), 443)
	}
	for i := range 2 {
		plant(hunted[b], now.Add(-time.Duration(30+i*90)*time.Minute), 8443)
	}
}
