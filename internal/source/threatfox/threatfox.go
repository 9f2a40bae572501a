// Package threatfox reads ThreatFox API answers (get_iocs) into sightings.
package threatfox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/source"
)

// Name is the registry name of the kind.
const Name = "threatfox"

// DefaultAPIURL is the ThreatFox API endpoint; THREATFOX_API_URL or the
// source's api_url overrides it.
const DefaultAPIURL = "https://threatfox-api.abuse.ch/api/v1/"

// TimeLayout is how ThreatFox writes first_seen and last_seen.
const TimeLayout = "2006-01-02 15:04:05 UTC"

// recordURL links a sighting back to its IOC on ThreatFox.
const recordURL = "https://threatfox.abuse.ch/ioc/"

// ErrAuth is wrapped by the errors of an answer that refuses the Auth-Key:
// a missing key (HTTP 401) or one abuse.ch does not know (unknown_auth_key).
var ErrAuth = errors.New("threatfox refused the auth key")

// ErrShape is wrapped when the answer is not a get_iocs envelope.
var ErrShape = errors.New("threatfox answer is not a get_iocs response")

// APIError is an answer whose query_status is neither ok nor no_result
// (illegal_days, ...), or a non-200 status. It never holds the key.
type APIError struct {
	HTTPStatus  int    // 0 when the body was read as a 200 answer
	QueryStatus string // "" when the body had none
}

func (e *APIError) Error() string {
	var parts []string
	if e.HTTPStatus != 0 {
		parts = append(parts, fmt.Sprintf("HTTP %d", e.HTTPStatus))
	}
	if e.QueryStatus != "" {
		parts = append(parts, "query_status "+strconv.Quote(e.QueryStatus))
	}
	if len(parts) == 0 {
		parts = append(parts, "no query_status")
	}
	return "threatfox answered " + strings.Join(parts, ", ")
}

// ResponseError classifies a non-200 answer by its status and (capped)
// body: 401 or query_status unknown_auth_key wrap ErrAuth; anything else is
// an *APIError.
func ResponseError(status int, body []byte) error {
	var env struct {
		QueryStatus string `json:"query_status"`
	}
	_ = json.Unmarshal(body, &env)
	e := &APIError{HTTPStatus: status, QueryStatus: clip(env.QueryStatus)}
	if status == http.StatusUnauthorized || env.QueryStatus == "unknown_auth_key" {
		return fmt.Errorf("%w: %w", ErrAuth, e)
	}
	return e
}

// Filter is what a hunt keeps of the answer.
type Filter struct {
	Hunt          string
	MinConfidence int
	// Malware lists Malpedia ids (win.cobalt_strike) or printable names
	// (Cobalt Strike), compared case-insensitively; empty keeps all.
	Malware []string
}

// IOC is one get_iocs item, as ThreatFox writes it. Nullable strings
// (JSON null or the literal "None") decode to "".
type IOC struct {
	ID               source.Text `json:"id"`
	IOC              source.Text `json:"ioc"`
	IOCType          source.Text `json:"ioc_type"`
	ThreatType       source.Text `json:"threat_type"`
	Malware          source.Text `json:"malware"`
	MalwarePrintable source.Text `json:"malware_printable"`
	MalwareAlias     source.Text `json:"malware_alias"`
	ConfidenceLevel  json.Number `json:"confidence_level"`
	FirstSeen        source.Text `json:"first_seen"`
	LastSeen         source.Text `json:"last_seen"`
	Reference        source.Text `json:"reference"`
	Tags             tags        `json:"tags"`
}

// Parse reads a get_iocs answer (a 200 body) and returns the sightings of
// ip:port IOCs (plain IPs too) that pass f, with every item counted in the
// Stats. no_result is an empty answer. Any other query_status is an
// *APIError (unknown_auth_key wraps ErrAuth); a body that is no envelope
// wraps ErrShape.
func Parse(r io.Reader, f Filter) ([]source.Sighting, source.Stats, error) {
	var st source.Stats
	var env struct {
		QueryStatus *string         `json:"query_status"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(r).Decode(&env); err != nil {
		return nil, st, fmt.Errorf("%w: %v", ErrShape, err)
	}
	if env.QueryStatus == nil {
		return nil, st, fmt.Errorf("%w: no query_status", ErrShape)
	}
	switch qs := *env.QueryStatus; qs {
	case "ok":
	case "no_result":
		// data is then a sentence, not a list.
		return nil, st, nil
	case "unknown_auth_key":
		return nil, st, fmt.Errorf("%w: %w", ErrAuth, &APIError{QueryStatus: qs})
	default:
		return nil, st, &APIError{QueryStatus: clip(qs)}
	}
	var items []json.RawMessage
	if d := bytes.TrimSpace(env.Data); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		if err := json.Unmarshal(d, &items); err != nil {
			return nil, st, fmt.Errorf("%w: data is not a list", ErrShape)
		}
	}
	want := make(map[string]bool, len(f.Malware))
	for _, m := range f.Malware {
		want[strings.ToLower(strings.TrimSpace(m))] = true
	}
	var out []source.Sighting
	for _, raw := range items {
		var ioc IOC
		if err := json.Unmarshal(raw, &ioc); err != nil {
			st.Skip(source.SkipBadItem)
			continue
		}
		sg, reason := ioc.sighting(f, want)
		if reason != "" {
			st.Skip(reason)
			continue
		}
		st.Keep()
		out = append(out, sg)
	}
	return out, st, nil
}

// sighting converts one IOC, or says why it is skipped.
func (ioc *IOC) sighting(f Filter, want map[string]bool) (source.Sighting, string) {
	switch strings.ToLower(string(ioc.IOCType)) {
	case "ip:port", "ip":
	default:
		return source.Sighting{}, source.SkipNotIP
	}
	ip, port, ok := source.ParseAddrPort(string(ioc.IOC))
	if !ok {
		return source.Sighting{}, source.SkipInvalidIP
	}
	conf, err := ioc.ConfidenceLevel.Int64()
	if ioc.ConfidenceLevel == "" {
		conf, err = 0, nil
	}
	if err != nil || conf < 0 || conf > 100 {
		return source.Sighting{}, source.SkipBadItem
	}
	if int(conf) < f.MinConfidence {
		return source.Sighting{}, source.SkipConfidence
	}
	if len(want) > 0 && !want[strings.ToLower(string(ioc.Malware))] && !want[strings.ToLower(string(ioc.MalwarePrintable))] {
		return source.Sighting{}, source.SkipMalware
	}
	seen := string(ioc.LastSeen)
	if seen == "" {
		seen = string(ioc.FirstSeen)
	}
	t, err := time.ParseInLocation(TimeLayout, seen, time.UTC)
	if err != nil {
		return source.Sighting{}, source.SkipBadTime
	}
	sg := source.Sighting{
		IP: ip,
		Sighting: indicator.Sighting{
			Hunt: f.Hunt, Source: Name, Port: port, LastSeen: t.UTC(),
		},
		Malware:    string(ioc.MalwarePrintable),
		MalwareID:  string(ioc.Malware),
		Confidence: int(conf),
		Tags:       ioc.Tags,
	}
	if sg.Malware == "" {
		sg.Malware = sg.MalwareID
	}
	if id := string(ioc.ID); id != "" && strings.Trim(id, "0123456789") == "" && len(id) <= 20 {
		sg.Reference = recordURL + id + "/"
	}
	return sg, ""
}

// tags is a list of tags: a JSON list (the API), a comma-joined string (the
// JSON export), or null/"None".
type tags []string

func (t *tags) UnmarshalJSON(b []byte) error {
	*t = nil
	var list []*string
	if json.Unmarshal(b, &list) == nil {
		for _, s := range list {
			if s != nil && strings.TrimSpace(*s) != "" {
				*t = append(*t, strings.TrimSpace(*s))
			}
		}
		return nil
	}
	var s source.Text
	_ = s.UnmarshalJSON(b)
	for p := range strings.SplitSeq(string(s), ",") {
		if p = strings.TrimSpace(p); p != "" {
			*t = append(*t, p)
		}
	}
	return nil
}

// clip keeps an untrusted status short in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
