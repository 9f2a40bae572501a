package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Duration is a span of time as hunters write it: Go durations plus days
// ("7d") and weeks ("2w"), since max ages and lookbacks are counted in days.
type Duration time.Duration

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String prints the compact form that ParseDuration reads back: "7d",
// "1d12h", "90m" is "1h30m", "0s".
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0s"
	}
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		if v == math.MinInt64 {
			return time.Duration(v).String()
		}
		v = -v
	}
	if days := v / day; days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		v -= days * day
	}
	if h := v / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		v -= h * time.Hour
	}
	if m := v / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		v -= m * time.Minute
	}
	if v > 0 {
		b.WriteString(v.String()) // "30s", "1.5s", "250ms"
	}
	return b.String()
}

// errDuration is the message every bad duration gets, so the CLI and the
// config file say the same thing.
func errDuration(s string) error {
	return fmt.Errorf("%q is not a duration (use 7d, 36h)", s)
}

// ParseDuration reads a duration such as "7d", "36h", "2w", "1d12h" or
// "90m". Units: ns, us, µs, ms, s, m, h, d (24h), w (7d). Negative values
// are refused: every duration c2sweep takes is a span or an age.
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("empty duration (use 7d, 36h)")
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("%q is negative; a duration here must be 0 or more", s)
	}
	in = strings.TrimPrefix(in, "+")
	if in == "0" {
		return 0, nil
	}
	var total time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		num := rest[:i]
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		unit := rest[i:j]
		rest = rest[j:]
		if num == "" || num == "." {
			return 0, errDuration(s)
		}
		if unit == "" {
			if _, err := strconv.ParseFloat(num, 64); err == nil {
				return 0, fmt.Errorf("%q has no unit (use %sd or %sh)", s, num, num)
			}
			return 0, errDuration(s)
		}
		var part time.Duration
		switch unit {
		case "d", "w":
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, errDuration(s)
			}
			mult := day
			if unit == "w" {
				mult = week
			}
			x := f * float64(mult)
			if x >= math.MaxInt64 {
				return 0, fmt.Errorf("%q is too long", s)
			}
			part = time.Duration(x)
		default:
			p, err := time.ParseDuration(num + unit)
			if err != nil {
				if strings.Contains(err.Error(), "overflow") {
					return 0, fmt.Errorf("%q is too long", s)
				}
				return 0, errDuration(s)
			}
			part = p
		}
		if total > math.MaxInt64-part {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total += part
	}
	return Duration(total), nil
}

// MarshalText writes the compact form, so JSON and flags show "7d".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText lets flag parsers (kong) and encoding/json read "7d".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the compact form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a scalar duration. A bare number other than 0 is
// refused: "7" could mean days or hours.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 7d or 36h, got %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
