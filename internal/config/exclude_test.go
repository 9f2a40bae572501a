package config

import (
	"os"
	"path/filepath"
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

// The README's exclusions example is copied by people: it loads as it is.
func TestReadmeExclusionsExampleLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### False positives: CDN ranges, your allowlist, suppressions")
	if !ok {
		t.Fatal("README has no false-positives section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in the false-positives section")
	}
	cfg, warns, err := Parse("c2sweep.yaml", []byte(block))
	if err != nil || len(warns) != 0 {
		t.Fatalf("README example: %v %v\n%s", err, warns, block)
	}
	if !cfg.Exclusions.CDN || len(cfg.Exclude) != 2 {
		t.Errorf("README example: exclusions %+v, exclude %v", cfg.Exclusions, cfg.Exclude)
	}
	// The error the comment promises.
	bad := strings.Replace(block, "198.51.100.0/24", "198.51.100.7/24", 1)
	if _, _, err := Parse("c2sweep.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "198.51.100.0/24") {
		t.Errorf("host bits: %v", err)
	}
}
