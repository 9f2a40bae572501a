package feodo

import (
	"bytes"
	"context"
	"fmt"

	"c2sweep/internal/source"
)

// Source downloads Feodo Tracker's JSON blocklist, conditionally (ETag,
// If-Modified-Since) when Settings.CacheDir is set. Freshness is each
// entry's last_online: the caller's max_age drops the old ones.
type Source struct {
	s   source.Settings
	url string
}

// New returns the source of settings s. The blocklist needs no key; an
// Auth-Key, when set, is sent and kept out of errors (abuse.ch may ask
// for one on downloads too).
func New(s source.Settings) (*Source, error) {
	u := s.URL
	if u == "" {
		u = DefaultURL
	}
	if _, err := source.CheckHTTPS(Name, u); err != nil {
		return nil, err
	}
	return &Source{s: s, url: u}, nil
}

// Name implements source.Source.
func (*Source) Name() string { return Name }

// Collect implements source.Source.
func (f *Source) Collect(ctx context.Context, h source.Hunt, emit func(source.Sighting) error) (source.Stats, error) {
	var st source.Stats
	req := source.Request{Kind: Name, URL: f.url, Conditional: true}
	if f.s.AuthKey != "" {
		req.Header = map[string][]string{"Auth-Key": {f.s.AuthKey}}
		req.Secrets = []string{f.s.AuthKey}
	}
	resp, err := source.Fetch(ctx, f.s, req)
	if resp != nil {
		st.Requests = resp.Requests
	}
	if err != nil {
		return st, fmt.Errorf("feodo hunt %q: %w", h.Name, err)
	}
	sgs, pst, err := Parse(bytes.NewReader(resp.Body), h.Name)
	pst.Requests = st.Requests
	if err != nil {
		return pst, fmt.Errorf("feodo hunt %q: %w", h.Name, err)
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
		Name: Name,
		Doc:  "abuse.ch Feodo Tracker JSON blocklist (botnet C2 servers)",
		New:  func(s source.Settings) (source.Source, error) { return New(s) },
	})
}
