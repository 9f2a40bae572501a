package shodan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/indicator"
)

// Banner is the part of a Shodan banner c2sweep uses. Decoding is
// tolerant: nulls, negative hashes, huge serials, booleans as true, "True"
// or 1, and timestamps with or without fractions all decode.
type Banner struct {
	IP        json.Number `json:"ip"`
	IPStr     string      `json:"ip_str"`
	IPv6      string      `json:"ipv6"`
	Port      int         `json:"port"`
	Transport string      `json:"transport"`
	Timestamp Time        `json:"timestamp"`
	Hash      int64       `json:"hash"`
	ASN       string      `json:"asn"`
	Org       string      `json:"org"`
	ISP       string      `json:"isp"`
	OS        string      `json:"os"`
	Product   string      `json:"product"`
	Version   string      `json:"version"`
	Hostnames []string    `json:"hostnames"`
	Domains   []string    `json:"domains"`
	Tags      []string    `json:"tags"`
	Data      string      `json:"data"`
	Location  Location    `json:"location"`
	HTTP      *HTTP       `json:"http"`
	SSL       *SSL        `json:"ssl"`
	Shodan    struct {
		ID      string `json:"id"`
		Module  string `json:"module"`
		Crawler string `json:"crawler"`
	} `json:"_shodan"`
}

// Location is where Shodan places the address.
type Location struct {
	City        string  `json:"city"`
	RegionCode  string  `json:"region_code"`
	CountryCode string  `json:"country_code"`
	CountryName string  `json:"country_name"`
	Latitude    float64 `json:"latitude"`
	Longitude   float64 `json:"longitude"`
}

// HTTP is a web banner's http property.
type HTTP struct {
	Status   int    `json:"status"`
	Title    string `json:"title"` // "" when null
	Server   string `json:"server"`
	Host     string `json:"host"`
	HTMLHash int64  `json:"html_hash"`
	Favicon  *struct {
		Hash int64 `json:"hash"`
	} `json:"favicon"`
}

// SSL is a TLS banner's ssl property.
type SSL struct {
	JARM string `json:"jarm"`
	JA3S string `json:"ja3s"`
	Cert struct {
		SigAlg      string `json:"sig_alg"`
		Issued      string `json:"issued"`
		Expires     string `json:"expires"`
		Expired     Bool   `json:"expired"`
		Serial      Number `json:"serial"`
		Subject     Names  `json:"subject"`
		Issuer      Names  `json:"issuer"`
		Fingerprint struct {
			SHA256 string `json:"sha256"`
			SHA1   string `json:"sha1"`
		} `json:"fingerprint"`
	} `json:"cert"`
}

// Time is a banner timestamp: UTC, with or without fractional seconds, and
// with or without a zone. A value that is not a time decodes to the zero
// Time with Raw kept, so that one bad banner is skipped, not fatal.
type Time struct {
	time.Time
	Raw string
}

// timeLayouts are tried in order; Shodan's own has no zone.
var timeLayouts = []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	*t = Time{}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.Raw = string(b)
		return nil
	}
	t.set(s)
	return nil
}

// set makes t the time s says, or the zero Time with Raw kept.
func (t *Time) set(s string) {
	t.Raw = s
	for _, l := range timeLayouts {
		if v, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			t.Time = v.UTC()
			return
		}
	}
}

// Bool accepts Shodan's booleans: true, "True", 1, "1", "yes".
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	s := strings.ToLower(strings.Trim(string(b), `"`))
	switch s {
	case "true", "1", "yes", "t", "y":
		*v = true
	default:
		*v = false
	}
	return nil
}

// Number keeps a JSON number (or numeric string) as written, so a serial
// like 1.9585926715947384e+37 or a 40-digit integer survives decoding.
type Number string

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			*n = Number(s)
		}
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*n = ""
		return nil
	}
	*n = Number(b)
	return nil
}

// Names is a certificate subject or issuer; a name with several values
// (a JSON array) is joined with ", ".
type Names map[string]string

// UnmarshalJSON implements json.Unmarshaler.
func (n *Names) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		*n = nil
		return nil
	}
	out := make(Names, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case []any:
			var parts []string
			for _, p := range v {
				parts = append(parts, fmt.Sprint(p))
			}
			out[k] = strings.Join(parts, ", ")
		case nil:
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	*n = out
	return nil
}

// Reasons a banner is skipped, for indicator.Skips.
const (
	SkipInvalidIP        = "invalid ip_str"
	SkipBadTimestamp     = "bad timestamp"
	SkipUndecodableMatch = "undecodable banner"
)

// SkipError says why a banner gave no indicator. Reason is one of the
// Skip constants, fit to count in indicator.Skips.
type SkipError struct {
	Reason string
	Detail string
}

func (e *SkipError) Error() string { return e.Reason + ": " + e.Detail }

// Address returns the banner's IP: ip_str, else ipv6, parsed with
// indicator.ParseIP. Anything else is a *SkipError.
func (b *Banner) Address() (netip.Addr, error) {
	s := b.IPStr
	if s == "" {
		s = b.IPv6
	}
	ip, err := indicator.ParseIP(s)
	if err != nil {
		return netip.Addr{}, &SkipError{Reason: SkipInvalidIP, Detail: err.Error()}
	}
	return ip, nil
}

// Sighting converts the banner into the address it names and why, for the
// hunt that returned it. A bad address or timestamp is a *SkipError.
func (b *Banner) Sighting(hunt string) (netip.Addr, indicator.Sighting, error) {
	ip, err := b.Address()
	if err != nil {
		return ip, indicator.Sighting{}, err
	}
	if b.Timestamp.IsZero() {
		return netip.Addr{}, indicator.Sighting{}, &SkipError{Reason: SkipBadTimestamp, Detail: strconv.Quote(b.Timestamp.Raw)}
	}
	sg := indicator.Sighting{
		Hunt: hunt, Source: "shodan", Port: b.Port, Transport: b.Transport,
		Product: b.Product, Version: b.Version, Org: b.Org, ISP: b.ISP, ASN: b.ASN,
		Country: b.Location.CountryCode, Hostnames: b.Hostnames, LastSeen: b.Timestamp.Time,
	}
	if b.SSL != nil {
		sg.JARM = b.SSL.JARM
	}
	return ip, sg, nil
}

// SkipReason returns the reason to count for err in indicator.Skips.
func SkipReason(err error) string {
	var se *SkipError
	if errors.As(err, &se) {
		return se.Reason
	}
	return "other"
}
