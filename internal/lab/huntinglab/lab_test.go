package huntinglab

import (
	"context"
	"testing"
	"time"

	"c2sweep/internal/lab"
)

// newService builds the hunting APIs over a world, for tests of their
// internals; the tests over HTTP (api_test.go) use labtest.Start, which
// this package's own tests cannot import.
func newService(tb testing.TB, world lab.WorldConfig) *Service {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := lab.Start(ctx, lab.Options{World: world, Now: func() time.Time { return world.Now }},
		func(*lab.Lab) ([]lab.Service, error) { return nil, nil })
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cancel(); l.Close() })
	h, err := New(l, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}
