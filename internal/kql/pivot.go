package kql

import (
	"net/netip"
	"strings"
	"time"
)

// Pivot is what a hunter runs next about one device's contact with one
// C2 server: the device's timeline around the first contact, and every
// device that talked to the server.
type Pivot struct {
	Timeline string `json:"timeline"`
	Devices  string `json:"devices"`
}

// PivotWindow is how far the timeline reaches either side of the first
// contact; PivotLookback how far back the devices query looks.
const (
	PivotWindow   = time.Hour
	PivotLookback = 30 * 24 * time.Hour
)

// PivotFor builds the pivot queries of a rolled-up hit. The device is its
// Defender id when known (names repeat), else its name; every value is a
// quoted literal. The timeline covers network and other device events
// (DeviceEvents: process, file and registry actions) of the checked schema.
func PivotFor(deviceID, device string, ip netip.Addr, first time.Time) Pivot {
	who := "DeviceId == " + Quote(deviceID)
	if deviceID == "" {
		who = "DeviceName =~ " + Quote(device)
	}
	var tl strings.Builder
	tl.WriteString("union DeviceNetworkEvents, DeviceEvents\n")
	tl.WriteString("| where Timestamp between (" + Datetime(first.Add(-PivotWindow)) + " .. " + Datetime(first.Add(PivotWindow)) + ")\n")
	tl.WriteString("| where " + who + "\n")
	tl.WriteString("| project Timestamp, DeviceName, ActionType, FileName, ProcessCommandLine, InitiatingProcessFileName, InitiatingProcessCommandLine, InitiatingProcessAccountName, RemoteIP, RemotePort, RemoteUrl\n")
	tl.WriteString("| order by Timestamp asc")

	var dv strings.Builder
	dv.WriteString("DeviceNetworkEvents\n")
	dv.WriteString("| where Timestamp > " + Datetime(first.Add(-PivotLookback)) + "\n")
	dv.WriteString("| where RemoteIP == " + QuoteIP(ip.Unmap()) + "\n")
	dv.WriteString("| summarize Events = count(), FirstContact = min(Timestamp), LastContact = max(Timestamp) by DeviceId, DeviceName\n")
	dv.WriteString("| order by LastContact desc")
	return Pivot{Timeline: tl.String(), Devices: dv.String()}
}
