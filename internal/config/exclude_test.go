package config

import (
	"strings"
	"testing"
)

// exclude: is strict: a bad entry is an error naming its line and key, and
// a CIDR with host bits names the network it probably means.
func TestExcludeEntriesStrict(t *testing.T) {
	cfg, _, err := Parse("c.yaml", []byte("exclude:\n  - 203.0.113.7\n  - 2001:db8::/32\nexclusions: {cdn: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Exclusions.CDN || len(cfg.Exclude) != 2 {
		t.Errorf("exclusions %+v, exclude %v", cfg.Exclusions, cfg.Exclude)
	}
	if !Default().Exclusions.CDN {
		t.Error("CDN ranges are not excluded by default")
	}
	_, _, err = Parse("c.yaml", []byte("exclude:\n  - 203.0.113.7\n  - 10.1.2.3/8\n  - example.com\n"))
	if err == nil {
		t.Fatal("bad entries accepted")
	}
	msg := err.Error()
	for _, want := range []string{"c.yaml:3: exclude[1]", "did you mean 10.0.0.0/8", "c.yaml:4: exclude[2]", `"example.com": not an IP or CIDR`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}
