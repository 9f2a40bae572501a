package retry

import (
	"testing"
	"time"
)

// Retry-After comes from the server: whatever it says, the wait is a
// duration from 0 to the cap the caller applies, never negative.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "1", "120", "-3", "99999999999999999999", "Wed, 21 Oct 2026 07:28:00 GMT", " 5 ", "1.5", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 10, 21, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := ParseRetryAfter(v, now); d < 0 {
			t.Fatalf("%q: negative wait %v", v, d)
		}
	})
}
