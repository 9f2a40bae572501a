// Package threatfoxlab emulates the ThreatFox API (get_iocs) at
// lab.ThreatFoxPath, serving the world's Intel.ThreatFox items with
// ThreatFox's ugly parts (api-contracts.md, "Intelligence sources"): the
// Auth-Key refused with 401 (missing) or 403 unknown_auth_key (wrong),
// illegal_days outside 1-7, no_result with a string data (days=1: every
// item is older than a day), null and "None" nulls, and an ip:port IOC
// with a bad address beside domain and URL IOCs.
package threatfoxlab

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"time"

	"c2sweep/internal/lab"
)

// Service is the ThreatFox emulator.
type Service struct{ l *lab.Lab }

// New builds the service over l.
func New(l *lab.Lab) (*Service, error) { return &Service{l: l}, nil }

// Routes implements lab.Service.
func (s *Service) Routes() []lab.Route {
	return []lab.Route{{Path: lab.ThreatFoxPath, Name: "threatfox", Handler: s}}
}

const timeLayout = "2006-01-02 15:04:05 UTC"

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	key := r.Header.Get("Auth-Key")
	if key == "" {
		// What abuse.ch answers an anonymous call.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("Unauthorized: you must provide an Auth-Key (https://auth.abuse.ch/)\n"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.l.Creds.AbuseCHKey)) != 1 {
		writeJSON(w, http.StatusForbidden, map[string]any{"query_status": "unknown_auth_key"})
		return
	}
	var q struct {
		Query string          `json:"query"`
		Days  json.RawMessage `json:"days"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&q); err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"query_status": "illegal_query"})
		return
	}
	if q.Query != "get_iocs" {
		writeJSON(w, http.StatusOK, map[string]any{"query_status": "unknown_query"})
		return
	}
	days := 3
	if len(q.Days) > 0 {
		if err := json.Unmarshal(q.Days, &days); err != nil || days < 1 || days > 7 {
			writeJSON(w, http.StatusOK, map[string]any{"query_status": "illegal_days"})
			return
		}
	}
	since := s.l.World.Config.Now.Add(-time.Duration(days) * 24 * time.Hour)
	var data []map[string]any
	for i, ioc := range s.l.World.Intel.ThreatFox {
		if ioc.FirstSeen.Before(since) {
			continue
		}
		data = append(data, item(i, ioc))
	}
	if len(data) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"query_status": "no_result", "data": "Your search did not yield any results"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"query_status": "ok", "data": data})
}

func item(i int, ioc lab.ThreatFoxIOC) map[string]any {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	m := map[string]any{
		"id": ioc.ID, "ioc": ioc.IOC, "ioc_type": ioc.IOCType, "ioc_type_desc": desc[ioc.IOCType],
		"threat_type": ioc.ThreatType, "threat_type_desc": desc[ioc.ThreatType],
		"malware": ioc.Malware, "malware_printable": ioc.MalwarePrintable,
		"malware_malpedia": "https://malpedia.caad.fkie.fraunhofer.de/details/" + ioc.Malware,
		"confidence_level": ioc.Confidence, "first_seen": ioc.FirstSeen.UTC().Format(timeLayout),
		"last_seen": nil, "reporter": ioc.Reporter, "reference": null(ioc.Reference), "tags": nil,
		"malware_alias": nil,
	}
	if ioc.MalwareAlias != "" {
		m["malware_alias"] = ioc.MalwareAlias
	} else if i%2 == 1 {
		m["malware_alias"] = "None" // abuse.ch's other null
	}
	if !ioc.LastSeen.IsZero() {
		m["last_seen"] = ioc.LastSeen.UTC().Format(timeLayout)
	}
	if len(ioc.Tags) > 0 {
		m["tags"] = ioc.Tags
	}
	return m
}

var desc = map[string]string{
	"ip:port":          "ip:port combination that is used for botnet Command&control (C&C)",
	"domain":           "Domain that is used for botnet Command&control (C&C)",
	"url":              "URL that is used for botnet Command&control (C&C)",
	"botnet_cc":        "Indicator that identifies a botnet command&control server (C&C)",
	"payload_delivery": "Indicator that identifies a malware distribution server (payload delivery)",
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.MarshalIndent(v, "", "    ")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}
