// Package feodo reads Feodo Tracker's JSON blocklist into sightings.
package feodo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/source"
)

// Name is the registry name of the kind.
const Name = "feodo"

// DefaultURL is Feodo Tracker's JSON blocklist.
const DefaultURL = "https://feodotracker.abuse.ch/downloads/ipblocklist.json"

// hostURL links a sighting back to the address's page on Feodo Tracker.
const hostURL = "https://feodotracker.abuse.ch/browse/host/"

// ErrShape is wrapped when the body is not a JSON list of entries (an HTML
// page, the CSV, an error object).
var ErrShape = errors.New("feodo blocklist is not a JSON list")

// Entry is one blocklist entry as Feodo Tracker writes it.
type Entry struct {
	IPAddress  source.Text `json:"ip_address"`
	Port       json.Number `json:"port"`
	Status     source.Text `json:"status"` // online or offline
	Hostname   source.Text `json:"hostname"`
	ASNumber   json.Number `json:"as_number"`
	ASName     source.Text `json:"as_name"`
	Country    source.Text `json:"country"`
	FirstSeen  source.Text `json:"first_seen"`
	LastOnline source.Text `json:"last_online"`
	Malware    source.Text `json:"malware"`
}

// Parse reads the JSON blocklist. Freshness is last_online, a date only,
// read as the start of that day UTC (the oldest time it can mean); an entry
// without it falls back to first_seen. An entry with a bad address, port or
// time is skipped and counted; a body that is not a JSON list wraps
// ErrShape. An empty list is no error (the list can be empty or frozen).
func Parse(r io.Reader, hunt string) ([]source.Sighting, source.Stats, error) {
	var st source.Stats
	var items []json.RawMessage
	if err := json.NewDecoder(r).Decode(&items); err != nil {
		return nil, st, fmt.Errorf("%w: %v", ErrShape, err)
	}
	var out []source.Sighting
	for _, raw := range items {
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			st.Skip(source.SkipBadItem)
			continue
		}
		sg, reason := e.sighting(hunt)
		if reason != "" {
			st.Skip(reason)
			continue
		}
		st.Keep()
		out = append(out, sg)
	}
	return out, st, nil
}

// timeLayouts are the forms of first_seen and last_online.
var timeLayouts = []string{time.DateOnly, time.DateTime, "2006-01-02 15:04:05 UTC"}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (e *Entry) sighting(hunt string) (source.Sighting, string) {
	ip, err := indicator.ParseIP(string(e.IPAddress))
	if err != nil {
		return source.Sighting{}, source.SkipInvalidIP
	}
	port := 0
	if e.Port != "" {
		p, err := strconv.Atoi(string(e.Port))
		if err != nil || p < 1 || p > 65535 {
			return source.Sighting{}, source.SkipBadItem
		}
		port = p
	}
	seen := string(e.LastOnline)
	if seen == "" {
		seen = string(e.FirstSeen)
	}
	t, ok := parseTime(seen)
	if !ok {
		return source.Sighting{}, source.SkipBadTime
	}
	sg := source.Sighting{
		IP: ip,
		Sighting: indicator.Sighting{
			Hunt: hunt, Source: Name, Port: port, LastSeen: t,
			Org: string(e.ASName), Country: string(e.Country),
		},
		Malware:   string(e.Malware),
		Reference: hostURL + ip.String() + "/",
	}
	if n, err := strconv.ParseUint(string(e.ASNumber), 10, 32); err == nil && n > 0 {
		sg.ASN = "AS" + strconv.FormatUint(n, 10)
	}
	if e.Hostname != "" {
		sg.Hostnames = []string{string(e.Hostname)}
	}
	if e.Status != "" {
		sg.Tags = []string{string(e.Status)}
	}
	return sg, ""
}
