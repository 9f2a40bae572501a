package daemon

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	utc := func(s string) time.Time {
		tt, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	for _, tc := range []struct {
		spec, from, want string
		interval         time.Duration
	}{
		{"0 6 * * *", "2026-11-27T05:59:59Z", "2026-11-27T06:00:00Z", 24 * time.Hour},
		{"0 6 * * *", "2026-11-27T06:00:00Z", "2026-11-28T06:00:00Z", 24 * time.Hour}, // strictly after
		{"*/15 * * * *", "2026-11-27T06:07:00Z", "2026-11-27T06:15:00Z", 15 * time.Minute},
		{"30 2 * * 1-5", "2026-11-27T03:00:00Z", "2026-11-30T02:30:00Z", 24 * time.Hour}, // Friday -> Monday
		{"@daily", "2026-11-27T13:00:00Z", "2026-11-28T00:00:00Z", 24 * time.Hour},
		{"@hourly", "2026-11-27T13:20:00Z", "2026-11-27T14:00:00Z", time.Hour},
		{"@every 6h", "2026-11-27T13:20:00Z", "2026-11-27T19:20:00Z", 6 * time.Hour},
		{"  0 0 1 * *  ", "2026-11-27T13:20:00Z", "2026-12-01T00:00:00Z", 31 * 24 * time.Hour},
	} {
		s, err := ParseSchedule(tc.spec)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tc.spec, err)
			continue
		}
		if got := s.Next(utc(tc.from)); !got.Equal(utc(tc.want)) {
			t.Errorf("%q.Next(%s) = %s, want %s", tc.spec, tc.from, got, tc.want)
		}
		if got := s.Interval(utc(tc.from)); got != tc.interval {
			t.Errorf("%q.Interval(%s) = %s, want %s", tc.spec, tc.from, got, tc.interval)
		}
	}
}

func TestParseScheduleTimeZone(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	s, err := ParseSchedule("CRON_TZ=Europe/Paris 0 6 * * *")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Next(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 11, 27, 6, 0, 0, 0, paris); !got.Equal(want) {
		t.Errorf("Next = %s, want %s", got, want)
	}
}

func TestParseScheduleRejects(t *testing.T) {
	for spec, want := range map[string]string{
		"":                         "empty",
		"61 * * * *":               "above maximum",
		"* * *":                    "expected exactly 5 fields",
		"0 0 30 2 *":               "never fires",
		"@fortnightly":             "unrecognized descriptor",
		"0 6 * * * *":              "expected exactly 5 fields",
		"CRON_TZ=Nope/X 0 6 * * *": "provided bad location",
	} {
		_, err := ParseSchedule(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSchedule(%q) = %v, want error with %q", spec, err, want)
		}
	}
}

func TestEvery(t *testing.T) {
	s, err := Every(24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 27, 7, 31, 12, 5, time.UTC)
	if got := s.Next(from); !got.Equal(from.Add(24 * time.Hour)) {
		t.Errorf("Next = %s", got)
	}
	if s.String() != "every 24h0m0s" || s.Interval(from) != 24*time.Hour {
		t.Errorf("String %q Interval %s", s, s.Interval(from))
	}
	for _, d := range []time.Duration{0, -time.Hour, time.Millisecond} {
		if _, err := Every(d); err == nil {
			t.Errorf("Every(%s) accepted", d)
		}
	}
	if !(Schedule{}).IsZero() || s.IsZero() {
		t.Error("IsZero")
	}
}
