package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"7d", 7 * day, "7d"},
		{"30d", 30 * day, "30d"},
		{"36h", 36 * time.Hour, "1d12h"},
		{"2w", 14 * day, "14d"},
		{"1w2d", 9 * day, "9d"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"1.5d", 36 * time.Hour, "1d12h"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"1h30m15s", time.Hour + 30*time.Minute + 15*time.Second, "1h30m15s"},
		{"1500ms", 1500 * time.Millisecond, "1.5s"},
		{"250ms", 250 * time.Millisecond, "250ms"},
		{"0", 0, "0s"},
		{"0s", 0, "0s"},
		{" 7d ", 7 * day, "7d"},
		{"+3h", 3 * time.Hour, "3h"},
		{"10us", 10 * time.Microsecond, "10µs"},
	}
	for _, g := range good {
		d, err := ParseDuration(g.in)
		if err != nil || d.Std() != g.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", g.in, d.Std(), err, g.want)
			continue
		}
		if d.String() != g.str {
			t.Errorf("String(%q) = %q, want %q", g.in, d.String(), g.str)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("round trip of %q: %v %v", d.String(), back, err)
		}
	}
	bad := []struct{ in, msg string }{
		{"7x", `"7x" is not a duration (use 7d, 36h)`},
		{"", "empty duration"},
		{"7", `"7" has no unit (use 7d or 7h)`},
		{"d", `"d" is not a duration`},
		{"7dd", `"7dd" is not a duration`},
		{"1.2.3d", `"1.2.3d" is not a duration`},
		{"-1d", "negative"},
		{"7 d", "is not a duration"},
		{"99999999999999d", "too long"},
		{"2000000h2000000h", "too long"},
		{"P7D", "is not a duration"},
	}
	for _, b := range bad {
		_, err := ParseDuration(b.in)
		if err == nil || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("ParseDuration(%q) error %v, want %q", b.in, err, b.msg)
		}
	}
}

func TestDurationEncodings(t *testing.T) {
	var v struct {
		D Duration `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"d":"2w"}`), &v); err != nil || v.D != Duration(14*day) {
		t.Fatalf("json: %v %v", v.D, err)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"d":"14d"}` {
		t.Errorf("json %s", b)
	}
	if err := json.Unmarshal([]byte(`{"d":"7x"}`), &v); err == nil {
		t.Error("json accepted 7x")
	}
	y, _ := yaml.Marshal(map[string]Duration{"lookback": Duration(30 * day)})
	if strings.TrimSpace(string(y)) != "lookback: 30d" {
		t.Errorf("yaml %q", y)
	}
	var m map[string]Duration
	if err := yaml.Unmarshal([]byte("a: 36h\n"), &m); err != nil || m["a"] != Duration(36*time.Hour) {
		t.Errorf("yaml: %v %v", m, err)
	}
	if Duration(-36*time.Hour).String() != "-1d12h" {
		t.Errorf("negative: %s", Duration(-36*time.Hour))
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"7d", "1d12h", "1.5w", "90m", "0", "1e3h", "..d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("%q parsed negative: %d", s, d)
		}
		back, err := ParseDuration(d.String())
		if err != nil {
			t.Fatalf("String %q of %q does not parse: %v", d.String(), s, err)
		}
		// Fractions of days may round by a nanosecond; the printed form is exact.
		if back.String() != d.String() {
			t.Fatalf("round trip %q -> %q -> %q", s, d, back)
		}
	})
}
