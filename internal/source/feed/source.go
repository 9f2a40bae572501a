package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/redact"
	"c2sweep/internal/retry"
	"c2sweep/internal/source"
)

// MaxFile bounds a local feed file, as source.DefaultMaxBody bounds a
// download.
const MaxFile = source.DefaultMaxBody

// ErrNoLocation: a hunt names neither url nor path, or both.
var ErrNoLocation = errors.New("a feed hunt needs exactly one of url or path")

// Source reads a hunt's feed from its URL (https, conditional GET when
// Settings.CacheDir is set) or its local path. The items are as fresh as
// the file: HTTP Last-Modified (a local file's modification time), else
// the fetch time. A file older than the hunt's MaxAge fails the hunt with
// a *source.StaleError and its items are counted as source.SkipStale; a
// feed that is gone (404), empty or changed shape fails the hunt too.
type Source struct{ s source.Settings }

// New returns the feed source of settings s.
func New(s source.Settings) (*Source, error) { return &Source{s: s}, nil }

// Name implements source.Source.
func (*Source) Name() string { return Name }

// Collect implements source.Source.
func (f *Source) Collect(ctx context.Context, h source.Hunt, emit func(source.Sighting) error) (source.Stats, error) {
	var st source.Stats
	if (h.URL == "") == (h.Path == "") {
		return st, fmt.Errorf("feed hunt %q: %w", h.Name, ErrNoLocation)
	}
	now := clock.Or(f.s.Clock).Now().UTC()
	var body []byte
	var modified time.Time
	name := h.URL
	if h.URL != "" {
		resp, err := source.Fetch(ctx, f.s, source.Request{Kind: Name, URL: h.URL, Conditional: true})
		if resp != nil {
			st.Requests = resp.Requests
		}
		if err != nil {
			return st, fmt.Errorf("feed hunt %q: %w", h.Name, err)
		}
		body, modified, now = resp.Body, resp.Modified, resp.Fetched
	} else {
		name = h.Path
		fh, err := os.Open(h.Path)
		if err != nil {
			return st, fmt.Errorf("feed hunt %q: %w", h.Name, err)
		}
		defer fh.Close()
		fi, err := fh.Stat()
		if err != nil {
			return st, fmt.Errorf("feed hunt %q: %w", h.Name, err)
		}
		if body, err = retry.ReadAll(fh, MaxFile); err != nil {
			return st, fmt.Errorf("feed hunt %q: %s: %w", h.Name, h.Path, err)
		}
		st.Requests = 1
		modified = fi.ModTime().UTC()
	}
	seen := modified
	if seen.IsZero() || seen.After(now) {
		// No date, or one ahead of ours (a skewed server, a file copied
		// from elsewhere): the fetch time.
		seen = now
	}
	sgs, pst, err := Parse(bytes.NewReader(body), Options{
		Hunt: h.Name, Format: h.Format, Name: name, Column: h.Column, LabelColumn: h.LabelColumn, Seen: seen,
	})
	pst.Requests = st.Requests
	if err != nil {
		return pst, fmt.Errorf("feed hunt %q: %s: %w", h.Name, shown(name), err)
	}
	if h.MaxAge > 0 && !modified.IsZero() && now.Sub(modified) > h.MaxAge {
		// Dropped, counted, and the hunt reported stale: never used.
		stale := source.Stats{Requests: pst.Requests, Skipped: pst.Skipped}
		stale.Read = pst.Read - pst.Kept
		for range pst.Kept {
			stale.Skip(source.SkipStale)
		}
		return stale, &source.StaleError{Kind: Name, Hunt: h.Name, Modified: modified, MaxAge: h.MaxAge}
	}
	for _, sg := range sgs {
		if err := emit(sg); err != nil {
			return pst, err
		}
	}
	return pst, nil
}

// shown is the feed's name as errors give it: a URL without its key.
func shown(name string) string {
	if u, err := source.CheckHTTPS(Name, name); err == nil {
		return redact.URL(u)
	}
	return name
}

func init() {
	source.Register(source.Kind{
		Name:   Name,
		Doc:    "a C2 IP feed, text or CSV, from an https URL or a local path",
		Fields: []string{"url", "path", "format", "column", "label"},
		New:    func(s source.Settings) (source.Source, error) { return New(s) },
	})
}
