package report

import (
	"net/netip"
	"time"

	"c2sweep/internal/kql"
)

// Hit is a rolled-up hit as `hits --json`, its CSV and a run's hits.json
// give it: the pair, what the device did, and what the sources said of the
// server, every text whole.
type Hit struct {
	Target    string     `json:"target"` // the sweep target (tenant, workspace)
	Device    string     `json:"device"`
	DeviceID  string     `json:"device_id,omitempty"`
	Users     []string   `json:"users"`
	Processes []string   `json:"processes"`
	Commands  []string   `json:"command_lines"`
	IP        netip.Addr `json:"ip"`
	Ports     []int      `json:"ports"`
	Families  []string   `json:"families"`
	Hunts     []string   `json:"hunts"`
	First     time.Time  `json:"first_contact"`
	Last      time.Time  `json:"last_contact"`
	Events    int        `json:"events"`
	Status    string     `json:"status"`
	// Suppressed says why the pair is not alerted, when it is not.
	Suppressed string    `json:"suppressed,omitempty"`
	HitIDs     []int64   `json:"hit_ids"`
	Server     HitServer `json:"server"`
	Links      HitLinks  `json:"links"`
	Pivot      kql.Pivot `json:"pivot"`
}

// HitServer is the server's context from the sources; empty fields are
// what no source said.
type HitServer struct {
	Org      string    `json:"org"`
	ASN      string    `json:"asn"`
	Country  string    `json:"country"`
	Product  string    `json:"product"`
	JARM     string    `json:"jarm"`
	Ports    []int     `json:"ports"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	Sources  []string  `json:"sources"`
}

// HitLinks are the pages a hunter opens next; "" when there is none.
type HitLinks struct {
	Shodan   string `json:"shodan,omitempty"`
	Defender string `json:"defender,omitempty"`
}

// Hits are the rows of m in the shape of Hit, in m's order; [] when none.
func Hits(m Model) []Hit {
	out := []Hit{}
	for _, r := range m.Rows {
		h := Hit{Target: r.Target, Device: r.Device, DeviceID: r.DeviceID, Users: r.Users, Processes: r.Processes, Commands: r.Rolled.Commands,
			IP: r.IP, Ports: r.Ports, Families: r.Families, Hunts: r.Hunts, First: r.First.UTC(), Last: r.Last.UTC(),
			Events: r.Events, Status: r.Status, Suppressed: r.Suppressed, HitIDs: r.HitIDs,
			Server: HitServer{Org: r.Server.Org, ASN: r.Server.ASN, Country: r.Server.Country, Product: r.Server.Product,
				JARM: r.Server.JARM, Ports: r.Server.Ports, LastSeen: r.Server.LastSeen, Sources: r.Server.Sources},
			Links: HitLinks{Shodan: r.ShodanURL, Defender: r.DefenderURL}, Pivot: r.Pivot}
		if h.Families == nil {
			h.Families = []string{}
		}
		if h.Server.Ports == nil {
			h.Server.Ports = []int{}
		}
		if h.Server.Sources == nil {
			h.Server.Sources = []string{}
		}
		out = append(out, h)
	}
	return out
}
