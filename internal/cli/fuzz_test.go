package cli

import (
	"testing"
	"time"
)

// --since and --until are typed by a person: a date, a time or a duration
// back from now; read or refused, never a panic, and a duration never
// points the wrong way.
func FuzzWhenFlag(f *testing.F) {
	for _, s := range []string{"7d", "36h", "2026-11-20", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00+05:30", "0", "-1d", "1e400d", "9999999w", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		before := time.Now()
		since, err := whenFlag(s, -1)
		if err != nil {
			return
		}
		if since.Location() != time.UTC {
			t.Fatalf("%q: %v is not UTC", s, since)
		}
		until, err := whenFlag(s, 1)
		if err != nil {
			t.Fatalf("%q reads as --since but not as --until: %v", s, err)
		}
		if since.After(time.Now()) && until.Before(before) {
			t.Fatalf("%q: since %v ahead, until %v back", s, since, until)
		}
	})
}
