// Package sourcetest is the one test suite every source kind passes
// against the lab (the way restic tests its backends): a normal
// collection, pagination or none, a bad item skipped and counted, an
// unreachable or 5xx endpoint retried then failed for that hunt only,
// freshness (UTC last-seen times; stale data handled), dedupe through
// indicator.Set, and no secret in any error.
//
// A kind joins by adding a Case to the list in kinds_test.go (the
// `shodan` kind adds one when its Source exists). Only tests import this
// package.
package sourcetest

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/indicator"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
	"c2sweep/internal/retry"
	"c2sweep/internal/source"
)

// WorldNow anchors the suite's world and its fake clock.
var WorldNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// Attempts is how many calls the suite lets a download make.
const Attempts = 3

// Env is one lab the suite started, with what a case needs of it.
type Env struct {
	Lab   *lab.Lab
	Clock *clock.Fake
	Dir   string // a temporary directory of the test
}

// Case is one kind's run of the suite.
type Case struct {
	// Kind is the registry name.
	Kind string
	// Settings are the kind's own settings over the lab (URL, key); the
	// suite adds the lab's client, the fake clock, the retry policy and a
	// cache directory.
	Settings func(e *Env) source.Settings
	// Hunt is a normal hunt of the kind.
	Hunt func(e *Env) source.Hunt
	// Want are the addresses the normal hunt must emit, exactly.
	Want func(e *Env) []netip.Addr
	// Skipped are the skip reasons the normal hunt must count (at least
	// one item each): the lab's bad items.
	Skipped []string
	// Requests is how many requests (or files) the normal hunt makes:
	// 1 for a kind without pagination.
	Requests int
	// Service is the lab service name the 5xx fault is restricted to; ""
	// for a kind that makes no request (banner files).
	Service string
	// Broken points the kind at an endpoint that cannot be reached (its
	// settings and hunt); nil for a kind with no endpoint.
	Broken func(e *Env) (source.Settings, source.Hunt)
	// Stale is a hunt whose data is older than its MaxAge: it must fail
	// with source.ErrStale and emit nothing. nil when the kind's items
	// carry their own times (the caller's max_age drops them).
	Stale func(e *Env) source.Hunt
	// Old are addresses the normal hunt emits with a last-seen time older
	// than 7 days (the caller's max_age drops them); nil: none expected.
	Old func(e *Env) []netip.Addr
	// Secrets are what must never appear in an error.
	Secrets func(e *Env) []string
}

// Start starts a lab with faults for one test.
func Start(t *testing.T, f lab.Faults) *Env {
	t.Helper()
	l := labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 8, Now: WorldNow}, Faults: f})
	return &Env{Lab: l, Clock: clock.NewFake(WorldNow.Add(time.Minute)), Dir: t.TempDir()}
}

func (c Case) settings(e *Env, s source.Settings) source.Settings {
	s.HTTPClient = labtest.Client(e.Lab)
	s.Clock = e.Clock
	s.Retry = retry.Policy{Attempts: Attempts, Base: time.Second, Max: 4 * time.Second, PerAttempt: 10 * time.Second}
	s.CacheDir = e.Dir + "/cache"
	return s
}

// Collect runs one hunt of the case's kind and returns what it emitted.
func (c Case) Collect(t *testing.T, e *Env, s source.Settings, h source.Hunt) ([]source.Sighting, source.Stats, error) {
	t.Helper()
	k, err := source.Lookup(c.Kind)
	if err != nil {
		t.Fatal(err)
	}
	src, err := k.New(c.settings(e, s))
	if err != nil {
		t.Fatalf("%s: New: %v", c.Kind, err)
	}
	if src.Name() != c.Kind {
		t.Errorf("Name() = %q, want %q", src.Name(), c.Kind)
	}
	var got []source.Sighting
	st, err := src.Collect(context.Background(), h, func(sg source.Sighting) error {
		got = append(got, sg)
		return nil
	})
	if st.Read != st.Kept+st.Skipped.Total() {
		t.Errorf("stats do not add up: read %d, kept %d, skipped %d", st.Read, st.Kept, st.Skipped.Total())
	}
	if err == nil && len(got) != st.Kept {
		t.Errorf("emitted %d sightings, stats say %d kept", len(got), st.Kept)
	}
	if err != nil && c.Secrets != nil {
		for _, sec := range c.Secrets(e) {
			if sec != "" && strings.Contains(err.Error(), sec) {
				t.Errorf("error shows a secret: %v", err)
			}
		}
	}
	return got, st, err
}

// Run runs the suite for c.
func Run(t *testing.T, c Case) {
	t.Run("collect", func(t *testing.T) {
		e := Start(t, lab.Faults{})
		h := c.Hunt(e)
		got, st, err := c.Collect(t, e, c.Settings(e), h)
		if err != nil {
			t.Fatalf("collect: %v", err)
		}
		var set indicator.Set
		for _, sg := range got {
			if !sg.IP.IsValid() || sg.IP.Is4In6() {
				t.Errorf("invalid or mapped address %v", sg.IP)
			}
			if sg.Hunt != h.Name || sg.Source != c.Kind {
				t.Errorf("%v: hunt %q source %q, want %q %q", sg.IP, sg.Hunt, sg.Source, h.Name, c.Kind)
			}
			// Freshness: every item carries its UTC last-seen time, never
			// in the future.
			if sg.LastSeen.IsZero() || sg.LastSeen.Location() != time.UTC {
				t.Errorf("%v: last seen %v is not a UTC time", sg.IP, sg.LastSeen)
			}
			if sg.LastSeen.After(e.Clock.Now()) {
				t.Errorf("%v: last seen %v is after now %v", sg.IP, sg.LastSeen, e.Clock.Now())
			}
			set.Add(sg.IP, sg.Sighting)
		}
		// Dedupe: the set holds each address once, and exactly the ones
		// the world says the source names.
		want := slices.SortedFunc(slices.Values(c.Want(e)), netip.Addr.Compare)
		want = slices.Compact(want)
		have := slices.SortedFunc(slices.Values(set.IPs(h.Name)), netip.Addr.Compare)
		if !slices.Equal(have, want) {
			t.Errorf("addresses:\n got %v\nwant %v", have, want)
		}
		if set.Len() != len(want) {
			t.Errorf("set holds %d indicators, want %d", set.Len(), len(want))
		}
		for _, r := range c.Skipped {
			if st.Skipped[r] == 0 {
				t.Errorf("no item skipped as %q (skipped: %v)", r, st.Skipped)
			}
		}
		if st.Requests != c.Requests {
			t.Errorf("requests = %d, want %d", st.Requests, c.Requests)
		}
		if c.Old != nil {
			cut := e.Clock.Now().Add(-7 * 24 * time.Hour)
			for _, ip := range c.Old(e) {
				i := slices.IndexFunc(got, func(sg source.Sighting) bool { return sg.IP == ip })
				if i < 0 {
					t.Errorf("old %v not emitted (the caller's max_age drops it, not the source)", ip)
				} else if !got[i].LastSeen.Before(cut) {
					t.Errorf("old %v last seen %v, want before %v", ip, got[i].LastSeen, cut)
				}
			}
		}
	})
	t.Run("emit-stops", func(t *testing.T) {
		// emit's error ends the hunt and comes back unwrapped.
		e := Start(t, lab.Faults{})
		k, _ := source.Lookup(c.Kind)
		src, err := k.New(c.settings(e, c.Settings(e)))
		if err != nil {
			t.Fatal(err)
		}
		stop := errors.New("enough")
		n := 0
		_, err = src.Collect(context.Background(), c.Hunt(e), func(source.Sighting) error { n++; return stop })
		if err != stop || n != 1 {
			t.Errorf("emit called %d times, err %v; want 1 and the emit error itself", n, err)
		}
	})
	if c.Service != "" {
		t.Run("5xx", func(t *testing.T) {
			e := Start(t, lab.Faults{Rate5xx: 1, Only: c.Service})
			got, st, err := c.Collect(t, e, c.Settings(e), c.Hunt(e))
			if !errors.Is(err, source.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if len(got) != 0 || st.Requests != Attempts {
				t.Errorf("emitted %d, requests %d; want 0 and %d", len(got), st.Requests, Attempts)
			}
			if n := len(e.Clock.Slept()); n != Attempts-1 {
				t.Errorf("backed off %d times, want %d", n, Attempts-1)
			}
			if !strings.Contains(err.Error(), "50") {
				t.Errorf("error does not give the status: %v", err)
			}
		})
	}
	if c.Service != "" && c.Secrets != nil {
		t.Run("echo", func(t *testing.T) {
			// A broken proxy echoes the request, headers and all: the
			// error quotes the body, never the secret in it.
			e := Start(t, lab.Faults{EchoRate: 1, Only: c.Service})
			_, _, err := c.Collect(t, e, c.Settings(e), c.Hunt(e))
			if err == nil || !strings.Contains(err.Error(), "400") {
				t.Fatalf("err = %v, want the echoed 400", err)
			}
			if !strings.Contains(err.Error(), "REDACTED") {
				t.Errorf("the echoed secret is not marked redacted: %v", err)
			}
		})
	}
	if c.Broken != nil {
		t.Run("unreachable", func(t *testing.T) {
			e := Start(t, lab.Faults{})
			s, h := c.Broken(e)
			got, st, err := c.Collect(t, e, s, h)
			if err == nil || len(got) != 0 {
				t.Fatalf("err = %v with %d sightings, want a failure", err, len(got))
			}
			if st.Requests != Attempts {
				t.Errorf("requests = %d, want %d (retried)", st.Requests, Attempts)
			}
			// The same source still serves its next hunt: the failure
			// was that hunt's only.
			if _, _, err := c.Collect(t, e, c.Settings(e), c.Hunt(e)); err != nil {
				t.Errorf("next hunt: %v", err)
			}
		})
	}
	if c.Stale != nil {
		t.Run("stale", func(t *testing.T) {
			e := Start(t, lab.Faults{})
			got, st, err := c.Collect(t, e, c.Settings(e), c.Stale(e))
			if !errors.Is(err, source.ErrStale) {
				t.Fatalf("err = %v, want ErrStale", err)
			}
			if len(got) != 0 {
				t.Errorf("a stale source emitted %d sightings", len(got))
			}
			if st.Skipped[source.SkipStale] == 0 {
				t.Errorf("stale items not counted: %+v", st)
			}
		})
	}
}
