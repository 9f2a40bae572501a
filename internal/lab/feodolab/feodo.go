// Package feodolab emulates Feodo Tracker's JSON blocklist at
// lab.FeodoPath: the world's Intel.Feodo entries (last_online a date,
// hostname null, one bad address, one long-offline entry), with an ETag
// and Last-Modified, answering 304 to a matching conditional GET.
package feodolab

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"c2sweep/internal/lab"
)

// Service is the Feodo Tracker emulator.
type Service struct {
	body     []byte
	etag     string
	modified time.Time
}

// New builds the service over l.
func New(l *lab.Lab) (*Service, error) {
	type entry struct {
		IPAddress  string  `json:"ip_address"`
		Port       int     `json:"port"`
		Status     string  `json:"status"`
		Hostname   *string `json:"hostname"`
		ASNumber   int     `json:"as_number"`
		ASName     string  `json:"as_name"`
		Country    string  `json:"country"`
		FirstSeen  string  `json:"first_seen"`
		LastOnline string  `json:"last_online"`
		Malware    string  `json:"malware"`
	}
	list := []entry{}
	for _, e := range l.World.Intel.Feodo {
		list = append(list, entry{e.IPAddress, e.Port, e.Status, nil, e.ASNumber, e.ASName, e.Country,
			e.FirstSeen.UTC().Format(time.DateTime), e.LastOnline.UTC().Format(time.DateOnly), e.Malware})
	}
	body, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, err
	}
	return &Service{body: body, etag: ETag(body), modified: l.World.Intel.FeedModified}, nil
}

// ETag is the strong validator the lab's downloads carry.
func ETag(body []byte) string {
	h := sha256.Sum256(body)
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

// Routes implements lab.Service.
func (s *Service) Routes() []lab.Route {
	return []lab.Route{{Path: lab.FeodoPath, Name: "feodo", Handler: s}}
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", s.etag)
	// ServeContent answers 304 to If-None-Match / If-Modified-Since.
	http.ServeContent(w, r, "ipblocklist.json", s.modified, bytes.NewReader(s.body))
}
