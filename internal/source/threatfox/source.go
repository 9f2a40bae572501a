package threatfox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"c2sweep/internal/source"
)

// DefaultDays is the get_iocs window when a hunt names none.
const DefaultDays = 3

// ErrNoKey is returned by New without an Auth-Key: every abuse.ch API
// needs one since 2025.
var ErrNoKey = errors.New("threatfox needs an abuse.ch Auth-Key (ABUSECH_AUTH_KEY)")

// Source asks the ThreatFox API for a hunt's IOCs: one POST of get_iocs
// (there is no pagination), with the Auth-Key header.
type Source struct {
	s   source.Settings
	url string
}

// New returns the source of settings s; s.AuthKey is required.
func New(s source.Settings) (*Source, error) {
	if s.AuthKey == "" {
		return nil, ErrNoKey
	}
	u := s.URL
	if u == "" {
		u = DefaultAPIURL
	}
	if _, err := source.CheckHTTPS(Name, u); err != nil {
		return nil, err
	}
	return &Source{s: s, url: u}, nil
}

// Name implements source.Source.
func (*Source) Name() string { return Name }

// Collect implements source.Source. A refused key wraps both ErrAuth and
// source.ErrCredentials, with the real HTTP status in the message.
func (t *Source) Collect(ctx context.Context, h source.Hunt, emit func(source.Sighting) error) (source.Stats, error) {
	var st source.Stats
	days := h.Days
	if days == 0 {
		days = DefaultDays
	}
	if days < 1 || days > 7 {
		return st, fmt.Errorf("threatfox hunt %q: days %d is out of range: use 1 to 7", h.Name, days)
	}
	body, _ := json.Marshal(map[string]any{"query": "get_iocs", "days": days})
	resp, err := source.Fetch(ctx, t.s, source.Request{
		Kind: Name, Method: http.MethodPost, URL: t.url, Body: body,
		Header:  http.Header{"Auth-Key": {t.s.AuthKey}, "Accept": {"application/json"}},
		Secrets: []string{t.s.AuthKey},
	})
	if resp != nil {
		st.Requests = resp.Requests
	}
	if err != nil {
		var he *source.HTTPError
		if errors.As(err, &he) && he.Body != nil {
			if rerr := ResponseError(he.Status, he.Body); errors.Is(rerr, ErrAuth) || he.Status == http.StatusForbidden {
				return st, fmt.Errorf("threatfox hunt %q: %w: %w", h.Name, ErrAuth, err)
			}
		}
		return st, fmt.Errorf("threatfox hunt %q: %w", h.Name, err)
	}
	sgs, pst, err := Parse(bytes.NewReader(resp.Body), Filter{Hunt: h.Name, MinConfidence: h.MinConfidence, Malware: h.Malware})
	pst.Requests = st.Requests
	if err != nil {
		if errors.Is(err, ErrAuth) {
			err = fmt.Errorf("%w: %w", source.ErrCredentials, err)
		}
		return pst, fmt.Errorf("threatfox hunt %q: %w", h.Name, err)
	}
	for _, sg := range sgs {
		if err := emit(sg); err != nil {
			return pst, err
		}
	}
	return pst, nil
}

func init() {
	source.Register(source.Kind{
		Name:   Name,
		Doc:    "abuse.ch ThreatFox API: ip:port IOCs of the last days (needs ABUSECH_AUTH_KEY)",
		Fields: []string{"days", "min_confidence", "malware"},
		New:    func(s source.Settings) (source.Source, error) { return New(s) },
	})
}
