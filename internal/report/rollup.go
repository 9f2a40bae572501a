// Package report turns what the state remembers into what a person reads:
// the roll-up of hits (one row per device and C2 server) and a
// self-contained HTML report built from a neutral Model.
package report

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/store"
)

// Rolled is one device's contact with one C2 server in one sweep target:
// every stored event of that pair folded into a row. The same device name
// and server in two tenants are two rows.
type Rolled struct {
	Target    string     `json:"target"`              // the sweep target (tenant, workspace)
	Device    string     `json:"device"`              // as stored; the newest non-empty name
	DeviceID  string     `json:"device_id,omitempty"` // Defender's device id when known
	IP        netip.Addr `json:"ip"`
	Ports     []int      `json:"ports"`     // remote ports, ascending
	Users     []string   `json:"users"`     // accounts, sorted
	Processes []string   `json:"processes"` // process names, sorted
	Commands  []string   `json:"command_lines"`
	Hunts     []string   `json:"hunts"`
	Tables    []string   `json:"tables"`
	First     time.Time  `json:"first_contact"`
	Last      time.Time  `json:"last_contact"`
	Events    int        `json:"events"`
	// Suppressed says why, when every event of the pair was suppressed;
	// one unsuppressed event makes the pair live.
	Suppressed string `json:"suppressed,omitempty"`
	// Status is the pair's triage status: the one its newest triaged hit
	// was given (investigating, benign, malicious, closed), else
	// "suppressed" or "new". Every listing and the report show this one.
	Status string  `json:"status"`
	HitIDs []int64 `json:"hit_ids"` // ascending
}

// rollKey groups events: per sweep target (ignoring case, as the state
// compares target names), a device is its Defender id when the event has
// one (names change and repeat), else its name, case-insensitively.
type rollKey struct {
	target string
	device string
	ip     netip.Addr
}

// targetOf is the sweep target of a hit: DefaultTarget when it names none.
func targetOf(h *store.StoredHit) string {
	if h.Target == "" {
		return indicator.DefaultTarget
	}
	return h.Target
}

func keyOf(h *store.StoredHit) rollKey {
	d := h.DeviceID
	if d == "" {
		d = "name:" + strings.ToLower(h.Device)
		if h.Device == "" {
			d = "account:" + strings.ToLower(h.Account) // a sign-in without a device
		}
	}
	return rollKey{strings.ToLower(targetOf(h)), d, h.IP.Unmap()}
}

// Rollup groups hits by (device, C2 IP). Rows come newest last contact
// first, then by device name and IP, so that the same hits always give
// the same rows.
func Rollup(hits []store.StoredHit) []Rolled {
	idx := map[rollKey]int{}
	var rows []Rolled
	var newest []time.Time // per row: the time of the event its Device name came from
	live := map[int]bool{}
	triaged := map[int]int64{} // per row: the id of the hit its Status came from
	for i := range hits {
		h := &hits[i]
		k := keyOf(h)
		n, ok := idx[k]
		if !ok {
			n = len(rows)
			idx[k] = n
			rows = append(rows, Rolled{Target: targetOf(h), DeviceID: h.DeviceID, IP: k.ip, First: h.Timestamp, Last: h.Timestamp})
			newest = append(newest, time.Time{})
		}
		r := &rows[n]
		if h.Device != "" && !h.Timestamp.Before(newest[n]) {
			r.Device, newest[n] = h.Device, h.Timestamp
		}
		if h.Timestamp.Before(r.First) {
			r.First = h.Timestamp
		}
		if h.Timestamp.After(r.Last) {
			r.Last = h.Timestamp
		}
		r.Events++
		r.HitIDs = append(r.HitIDs, h.ID)
		if h.Port != 0 {
			r.Ports = append(r.Ports, h.Port)
		}
		r.Users = appendNonEmpty(r.Users, h.Account)
		r.Processes = appendNonEmpty(r.Processes, h.Process)
		r.Commands = appendNonEmpty(r.Commands, h.Command)
		r.Tables = appendNonEmpty(r.Tables, h.Table)
		r.Hunts = append(r.Hunts, h.Hunts...)
		if h.Triage != "" && h.ID >= triaged[n] {
			r.Status, triaged[n] = h.Triage, h.ID
		}
		if h.Suppressed == "" {
			live[n] = true
		} else if r.Suppressed == "" {
			r.Suppressed = h.Suppressed
		}
	}
	for i := range rows {
		r := &rows[i]
		if live[i] {
			r.Suppressed = ""
		}
		r.Status = Status(r.Status, r.Suppressed)
		r.Ports = sortedSet(r.Ports)
		r.Users = sortedSet(r.Users)
		r.Processes = sortedSet(r.Processes)
		r.Commands = sortedSet(r.Commands)
		r.Tables = sortedSet(r.Tables)
		r.Hunts = sortedSet(r.Hunts)
		r.HitIDs = sortedSet(r.HitIDs)
		if r.Ports == nil {
			r.Ports = []int{}
		}
		for _, s := range []*[]string{&r.Users, &r.Processes, &r.Commands, &r.Hunts, &r.Tables} {
			if *s == nil {
				*s = []string{}
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b Rolled) int {
		return cmp.Or(b.Last.Compare(a.Last), strings.Compare(strings.ToLower(a.Device), strings.ToLower(b.Device)),
			a.IP.Compare(b.IP), strings.Compare(a.DeviceID, b.DeviceID), strings.Compare(a.Target, b.Target))
	})
	return rows
}

// Statuses are every status a hit or a pair can show: untriaged (new,
// suppressed) or what `c2sweep triage` gave it.
var Statuses = append([]string{"new"}, append(slices.Clone(store.TriageStatuses), "suppressed")...)

// Status is the status shown for a triage status and a suppression: the
// triage when there is one, else suppressed or new.
func Status(triage, suppressed string) string {
	switch {
	case triage != "":
		return triage
	case suppressed != "":
		return "suppressed"
	}
	return "new"
}

func appendNonEmpty(s []string, v string) []string {
	if v == "" {
		return s
	}
	return append(s, v)
}

func sortedSet[T cmp.Ordered](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}
