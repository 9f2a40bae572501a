package indicator

import (
	"net/netip"
	"time"
)

// Hit is one telemetry row that matched an indicator, attributed locally to
// the hunts that named the IP.
type Hit struct {
	Table     string         `json:"table"`
	Column    string         `json:"column"`    // the IP column that matched
	IP        netip.Addr     `json:"ip"`        // unmapped
	Timestamp time.Time      `json:"timestamp"` // of the event
	DeviceID  string         `json:"device_id,omitempty"`
	Device    string         `json:"device,omitempty"`
	Account   string         `json:"account,omitempty"`
	Port      int            `json:"port,omitempty"` // remote port, when the table has one
	Action    string         `json:"action,omitempty"`
	Process   string         `json:"process,omitempty"`
	Command   string         `json:"command_line,omitempty"`
	ReportID  string         `json:"report_id,omitempty"`
	Hunts     []string       `json:"hunts"`
	Row       map[string]any `json:"row"` // the row as the API returned it
}

// Key identifies the event behind a hit, so that the same event is never
// reported twice: Defender's ReportId is unique per device and table, and
// the rest disambiguates rows that lack one.
func (h *Hit) Key() string {
	return h.Table + "|" + h.DeviceID + "|" + h.ReportID + "|" + h.Timestamp.UTC().Format(time.RFC3339Nano) + "|" + h.IP.String()
}
