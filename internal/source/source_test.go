package source

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"c2sweep/internal/indicator"
)

type fakeSource struct{ name string }

func (f fakeSource) Name() string { return f.name }
func (f fakeSource) Collect(context.Context, Hunt, func(Sighting) error) (Stats, error) {
	return Stats{}, nil
}

func TestRegistry(t *testing.T) {
	Register(Kind{Name: "test-b", New: func(Settings) (Source, error) { return fakeSource{"test-b"}, nil }})
	Register(Kind{Name: "test-a", New: func(Settings) (Source, error) { return fakeSource{"test-a"}, nil }})
	names := Names()
	if i, j := slices.Index(names, "test-a"), slices.Index(names, "test-b"); i < 0 || j != i+1 {
		t.Fatalf("Names() = %v, want sorted with test-a, test-b", names)
	}
	k, err := Lookup("test-b")
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.New(Settings{})
	if err != nil || s.Name() != "test-b" {
		t.Fatalf("New = %v, %v", s, err)
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("Lookup(nope) = %v, want ErrUnknownKind", err)
	}
	for _, bad := range []Kind{{Name: "test-a", New: k.New}, {Name: "", New: k.New}, {Name: "x"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", bad.Name)
				}
			}()
			Register(bad)
		}()
	}
}

func TestStats(t *testing.T) {
	var a Stats
	a.Keep()
	a.Skip(SkipInvalidIP)
	a.Skip(SkipInvalidIP)
	b := Stats{Requests: 2, Cost: 1}
	b.Skip(SkipBadTime)
	b.Keep()
	a.Add(b)
	want := Stats{Requests: 2, Read: 5, Kept: 2, Cost: 1, Skipped: indicator.Skips{SkipInvalidIP: 2, SkipBadTime: 1}}
	if a.Requests != want.Requests || a.Read != want.Read || a.Kept != want.Kept || a.Cost != want.Cost ||
		a.Skipped[SkipInvalidIP] != 2 || a.Skipped[SkipBadTime] != 1 || len(a.Skipped) != 2 {
		t.Fatalf("got %+v, want %+v", a, want)
	}
	if a.Read != a.Kept+a.Skipped.Total() {
		t.Fatalf("read %d != kept %d + skipped %d", a.Read, a.Kept, a.Skipped.Total())
	}
}
func TestParseAddrPort(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4:443": "1.2.3.4:443", "[2001:db8::1]:443": "[2001:db8::1]:443", "1.2.3.4": "1.2.3.4:0",
		" 1.2.3.4:80 ": "1.2.3.4:80", "[::ffff:1.2.3.4]:80": "1.2.3.4:80",
		"1.2.3.4:0": "", "1.2.3.4:70000": "", "[fe80::1%eth0]:80": "", "0.0.0.0:80": "", "1.2.3:80": "", "": "",
		"1.2.3.4:443/path": "", "http://1.2.3.4:80": "",
	} {
		ip, port, ok := ParseAddrPort(in)
		got := ""
		if ok {
			got = netip.AddrPortFrom(ip, uint16(port)).String()
		}
		if got != want {
			t.Errorf("ParseAddrPort(%q) = %q, want %q", in, got, want)
		}
	}
}
