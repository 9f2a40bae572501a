package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's sources example is copied by people: it loads as it is.
func TestReadmeSourcesExampleLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Sources: where indicators come from")
	if !ok {
		t.Fatal("README has no sources section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in the sources section")
	}
	dir := t.TempDir()
	cfg, warns, err := Parse(filepath.Join(dir, "c2sweep.yaml"), []byte(block))
	if err != nil || len(warns) != 0 {
		t.Fatalf("README example: %v %v\n%s", err, warns, block)
	}
	want := map[string]string{"ThreatFoxC2": "threatfox", "Feodo": "feodo", "CommunityC2": "feed", "Downloaded": "shodan-file"}
	for name, src := range want {
		h, ok := cfg.Hunt(name)
		if !ok || h.Source != src || !h.Enabled {
			t.Errorf("%s: %+v", name, h)
		}
	}
	if h, _ := cfg.Hunt("Downloaded"); h.Path != filepath.Join(dir, "downloads", "*.json.gz") {
		t.Errorf("path %q not resolved against the config's directory", h.Path)
	}
	if cfg.Sources.ThreatFox.AuthKey.Source() != "env:ABUSECH_AUTH_KEY" {
		t.Errorf("threatfox auth key %q", cfg.Sources.ThreatFox.AuthKey.Source())
	}
}

// The README's catalog example loads as it is and picks catalog hunts.
func TestReadmeCatalogExampleLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Choosing hunts from the catalog")
	_, rest, ok1 := strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok1 || !ok2 {
		t.Fatal("no yaml block in the catalog section")
	}
	cfg, warns, err := Parse("c2sweep.yaml", []byte(block))
	if err != nil || len(warns) != 0 {
		t.Fatalf("README example: %v %v\n%s", err, warns, block)
	}
	if _, ok := cfg.Hunt("SliverProduct"); !ok {
		t.Errorf("the example does not pick SliverProduct: %v", names(cfg.Hunts))
	}
	if _, ok := cfg.Hunt("SliverHTTP404"); ok {
		t.Error("the example's exclude did not apply")
	}
}

// The README's health example loads as it is.
func TestReadmeHealthExampleLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Hunt health")
	_, rest, ok1 := strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok1 || !ok2 {
		t.Fatal("no yaml block in the health section")
	}
	cfg, warns, err := Parse("c2sweep.yaml", []byte(block))
	if err != nil || len(warns) != 0 || cfg.Health.SilentRuns != 7 {
		t.Fatalf("README example: %v %v %+v\n%s", err, warns, cfg, block)
	}
	if _, _, err := Parse("c2sweep.yaml", []byte("health:\n  silent_runs: 0\n")); err == nil || !strings.Contains(err.Error(), "health.silent_runs") {
		t.Errorf("silent_runs 0: %v", err)
	}
}
