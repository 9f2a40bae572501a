package lab

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// LogRow is one row of a Log Analytics (Microsoft Sentinel) table, its
// values by column name: string, int64, time.Time or nil.
type LogRow struct {
	Table  string
	Values map[string]any
}

// SentinelContact is a planted row that links a device or user to a C2
// server: the ground truth a Sentinel sweep must find.
type SentinelContact struct {
	Table, Column string
	ServerIP      netip.Addr // unmapped
	Logged        string     // the column's value as logged ("[::ffff:a.b.c.d]:port" ...)
	Time          time.Time
	Who           string // host or user the row names
}

// SentinelTables are the Log Analytics tables the lab's workspace holds.
var SentinelTables = []string{
	"CommonSecurityLog", "AZFWNetworkRule", "AZFWApplicationRule", "AZFWThreatIntel",
	"VMConnection", "SigninLogs", "AADNonInteractiveUserSignInLogs", "OfficeActivity",
	"W3CIISLog", "DeviceNetworkEvents",
}

// SentinelRows builds the workspace's rows: ordinary traffic plus, for each
// fresh server of the world's contacts, one planted row per table. It uses
// its own random stream, so the world's other data (and the tests that
// count its hits) do not move. The result is the same for the same world.
func (w *World) SentinelRows() ([]LogRow, []SentinelContact) {
	rng := rand.New(rand.NewPCG(uint64(w.Config.Seed), 0x5e171e1))
	now := w.Config.Now.Truncate(time.Second)
	var servers []*Server
	for _, c := range w.Contacts {
		if !c.Stale && !c.Old && !slices.Contains(servers, c.Server) {
			servers = append(servers, c.Server)
		}
	}
	var rows []LogRow
	var contacts []SentinelContact
	when := func() time.Time {
		return now.Add(-time.Hour - time.Duration(rng.Int64N(int64(20*24*time.Hour)/int64(time.Second)))*time.Second)
	}
	dev := func() *Device { return &w.Devices[rng.IntN(len(w.Devices))] }
	noise := func() netip.Addr {
		return netip.AddrFrom4([4]byte{198, 18 + byte(rng.IntN(2)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
	}
	add := func(table string, at time.Time, v map[string]any) {
		v["TimeGenerated"] = at
		v["_ItemId"] = fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), 0x8000|rng.IntN(1<<14), rng.Uint64()&(1<<48-1))
		rows = append(rows, LogRow{Table: table, Values: v})
	}
	// gen writes one row of table with remote as the peer.
	gen := func(table string, remote netip.Addr, planted bool) {
		at, d := when(), dev()
		r := remote.String()
		port := int64([]int{443, 80, 8443, 8080}[rng.IntN(4)])
		var col, logged, who string
		switch table {
		case "CommonSecurityLog":
			col, logged, who = "DestinationIP", r, d.Name
			add(table, at, map[string]any{"DeviceVendor": "Palo Alto Networks", "DeviceProduct": "PAN-OS", "DeviceAction": "allow",
				"Activity": "TRAFFIC", "SourceIP": d.LocalIP.String(), "SourcePort": int64(49152 + rng.IntN(16000)), "DestinationIP": r,
				"DestinationPort": port, "Protocol": "tcp", "SourceUserName": d.Domain + `\` + d.Account, "SourceHostName": d.Name,
				"Computer": "fw01.corp.example", "Message": ""})
		case "AZFWNetworkRule", "AZFWApplicationRule", "AZFWThreatIntel":
			col, logged, who = "DestinationIp", r, d.LocalIP.String()
			v := map[string]any{"SourceIp": d.LocalIP.String(), "SourcePort": int64(49152 + rng.IntN(16000)), "DestinationIp": r,
				"DestinationPort": port, "Protocol": "TCP", "Action": "Allow", "Policy": "hub-policy", "RuleCollection": "egress", "Rule": "allow-web"}
			switch table {
			case "AZFWApplicationRule":
				v["Fqdn"], v["TargetUrl"] = "cdn-"+strconv.Itoa(rng.IntN(999))+".example.net", ""
			case "AZFWThreatIntel":
				v["Action"], v["Fqdn"], v["ThreatDescription"] = "Alert", "", "Known command and control server"
			}
			add(table, at, v)
		case "VMConnection":
			col, logged, who = "RemoteIp", r, d.Name
			add(table, at, map[string]any{"Computer": d.Name, "Direction": "outbound", "ProcessName": processes[firstPlanted+rng.IntN(len(processes)-firstPlanted)].file,
				"SourceIp": d.LocalIP.String(), "DestinationIp": r, "DestinationPort": port, "RemoteIp": r, "Protocol": "tcp", "LinksEstablished": int64(1 + rng.IntN(5))})
		case "SigninLogs", "AADNonInteractiveUserSignInLogs":
			col, logged, who = "IPAddress", r, d.UPN
			v := map[string]any{"UserPrincipalName": d.UPN, "UserDisplayName": d.DisplayName, "AppDisplayName": "Office 365 Exchange Online",
				"IPAddress": r, "ResultType": "0", "ClientAppUsed": "Browser", "Location": "NL", "UserAgent": "Mozilla/5.0"}
			if table == "AADNonInteractiveUserSignInLogs" {
				v["Status"] = `{"errorCode":0}` // a string in this table, not dynamic
			}
			add(table, at, v)
		case "OfficeActivity":
			// The column holds what the workload logged: bare, with a port,
			// or a bracketed mapped form with a port.
			col, who = "ClientIP", d.UPN
			switch rng.IntN(3) {
			case 0:
				logged = r
			case 1:
				logged = r + ":" + strconv.Itoa(49152+rng.IntN(16000))
				if remote.Is6() {
					logged = "[" + r + "]:" + strconv.Itoa(49152+rng.IntN(16000))
				}
			default:
				logged = "[" + netip.AddrFrom16(remote.As16()).String() + "]:" + strconv.Itoa(49152+rng.IntN(16000))
				if remote.Is6() {
					logged = "[" + r + "]"
				}
			}
			add(table, at, map[string]any{"UserId": d.UPN, "Operation": "MailItemsAccessed", "OfficeWorkload": "Exchange",
				"ClientIP": logged, "ResultStatus": "Succeeded", "UserAgent": "Microsoft Office/16.0"})
		case "W3CIISLog":
			col, logged, who = "cIP", r, "web01.corp.example"
			add(table, at, map[string]any{"Computer": "web01.corp.example", "sSiteName": "W3SVC1", "csMethod": "POST", "csUriStem": "/owa/auth.owa",
				"sIP": "10.20.0.5", "sPort": int64(443), "csUserName": "-", "cIP": r, "csUserAgent": "Mozilla/5.0", "scStatus": "200"})
		case "DeviceNetworkEvents":
			col, logged, who = "RemoteIP", r, d.Name
			p := processes[firstPlanted+rng.IntN(len(processes)-firstPlanted)]
			add(table, at, map[string]any{"DeviceId": d.ID, "DeviceName": d.Name, "ActionType": "ConnectionSuccess", "RemoteIP": r,
				"RemotePort": port, "RemoteUrl": "", "LocalIP": d.LocalIP.String(), "LocalPort": int64(49152 + rng.IntN(16000)), "Protocol": "Tcp",
				"InitiatingProcessFileName": p.file, "InitiatingProcessCommandLine": p.cmd, "InitiatingProcessAccountName": d.Account, "ReportId": int64(rng.IntN(1 << 30))})
		default:
			panic(fmt.Sprintf("lab: no rows for table %s", table))
		}
		if planted {
			contacts = append(contacts, SentinelContact{Table: table, Column: col, ServerIP: remote.Unmap(), Logged: logged, Time: at, Who: who})
		}
	}
	for _, table := range SentinelTables {
		for range 40 {
			gen(table, noise(), false)
		}
		for _, s := range servers {
			gen(table, s.IP.Unmap(), true)
		}
	}
	return rows, contacts
}
