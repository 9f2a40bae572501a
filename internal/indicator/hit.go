package indicator

import (
	"net/netip"
	"time"
)

// Hit is one telemetry row that matched an indicator, attributed locally to
// the hunts that named the IP.
type Hit struct {
	// Target is the sweep target (tenant, workspace) whose telemetry holds
	// the row: DefaultTarget when the config lists no targets.
	Target    string         `json:"target"`
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
	return h.Target + "|" + h.Table + "|" + h.DeviceID + "|" + h.ReportID + "|" + h.Timestamp.UTC().Format(time.RFC3339Nano) + "|" + h.IP.String()
}

// DefaultTarget names the one sweep target of a config that lists none
// (sweep: and azure: at the top level). State written before targets
// existed belongs to it.
const DefaultTarget = "default"

// WindowKey is the state's key for the incremental windows of one
// table.column in one sweep target: "target/Table.Column". Target names
// cannot hold "/".
func WindowKey(target, tableColumn string) string {
	if target == "" {
		target = DefaultTarget
	}
	return target + "/" + tableColumn
}
