package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"c2sweep/internal/hunting"
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

// The README's push: example loads as it is, every key read.
func TestReadmePushExampleLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### After every sweep: `push:` in the config")
	if !ok {
		t.Fatal("README has no push: section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in the push: section")
	}
	t.Setenv("C2SWEEP_DEFENDER_API_URL", "")
	cfg, warns, err := Parse(filepath.Join(t.TempDir(), "c2sweep.yaml"), []byte(block))
	if err != nil || len(warns) != 0 {
		t.Fatalf("README example: %v %v\n%s", err, warns, block)
	}
	p := cfg.Push
	if !p.Enabled || p.Action != "Audit" || p.Severity != "Medium" || p.OnlyHits || len(p.Hunts) != 2 || len(p.RBACGroupNames) != 1 || p.APIURL != "" {
		t.Errorf("push: %+v", p)
	}
}

// The README's stix: example loads as it is.
func TestReadmeStixExampleLoads(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Export to a threat-intelligence platform (STIX 2.1)")
	if !ok {
		t.Fatal("README has no STIX section")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in the STIX section")
	}
	t.Setenv("C2SWEEP_ORG", "")
	cfg, warns, err := Parse(filepath.Join(t.TempDir(), "c2sweep.yaml"), []byte(block))
	if err != nil || len(warns) != 0 {
		t.Fatalf("README example: %v %v\n%s", err, warns, block)
	}
	if cfg.Stix.File != "/var/lib/c2sweep/c2sweep.stix.json" || cfg.Stix.Org != "Contoso" {
		t.Errorf("stix: %+v", cfg.Stix)
	}
	// Without an organisation the file is refused: its sightings need one.
	if _, _, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte("stix:\n  file: x.json\n")); err == nil || !strings.Contains(err.Error(), "stix.file") {
		t.Errorf("stix.file without org: %v", err)
	}
}

// The README's targets: example loads as it is, and its cloud table is
// the one in package hunting.
func TestReadmeTargetsExampleLoads(t *testing.T) {
	clearAzureEnv(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Sweep targets")
	if !ok {
		t.Fatal("README has no Sweep targets section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, rest, ok := strings.Cut(section, "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in the Sweep targets section")
	}
	dir := t.TempDir()
	cfg, warns, err := Parse(filepath.Join(dir, "c2sweep.yaml"), []byte(block))
	if err != nil || len(warns) != 0 {
		t.Fatalf("README example: %v %v\n%s", err, warns, block)
	}
	var got []string
	for _, x := range cfg.SweepTargets() {
		base, _, err := x.Endpoint()
		if err != nil {
			t.Error(err)
		}
		got = append(got, x.Name+" "+x.Backend+" "+x.Cloud+" "+base+" "+x.Azure.Method()+" "+x.WorkspaceID+" "+fmt.Sprint(len(x.Sweep)))
	}
	want := []string{
		"contoso graph public https://graph.microsoft.com client-secret  0",
		"contoso-sentinel sentinel public https://api.loganalytics.io certificate 00000000-0000-0000-0000-000000000000 2",
		"agency graph usgov https://graph.microsoft.us client-secret  0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("targets\n%q\nwant\n%q", got, want)
	}
	if p := cfg.SweepTargets()[1].Azure.CertificatePath; p != filepath.Join(dir, "contoso.pem") {
		t.Errorf("certificate path %q not resolved against the config's directory", p)
	}
	for _, c := range hunting.Clouds() {
		mde := "`" + c.MDE + "`"
		if c.MDE == "" {
			mde = "none"
		}
		row := fmt.Sprintf("| `%s` | `%s` | `%s` | %s | `%s` |", c.Name, c.Login, c.Graph, mde, c.LogAnalytics)
		if !strings.Contains(section, row+"\n") {
			t.Errorf("README's cloud table lacks\n%s", row)
		}
	}
	for _, s := range []string{"named `default`", "name the tenant's\ntarget `default`"} {
		if !strings.Contains(section, s) {
			t.Errorf("README does not say %q", s)
		}
	}
}
