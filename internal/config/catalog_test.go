package config_test

import (
	"strings"
	"testing"

	_ "c2sweep/internal/catalog" // sets config.Selector
	"c2sweep/internal/config"
)

// catalog: picks hunts of the built-in catalog by family, kind or name, in
// addition to the configured ones (the built-ins stay, not added twice).
func TestCatalogChoice(t *testing.T) {
	src := "catalog:\n  include: [Sliver, PoshC2]\n  exclude: [SliverHTTP404, PoshC2]\n"
	cfg, _, err := config.Parse("c2sweep.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]config.Hunt{}
	for _, h := range cfg.EnabledHunts() {
		names[h.Name] = h
	}
	for _, want := range []string{"CobaltStrikeJARM", "DeimosC2", "SliverMultiplayer", "SliverProduct"} {
		if _, ok := names[want]; !ok {
			t.Errorf("%s not among the hunts %v", want, cfg.EnabledHunts())
		}
	}
	if _, ok := names["SliverHTTP404"]; ok {
		t.Errorf("an excluded hunt runs")
	}
	if h := names["SliverProduct"]; h.Query != `product:"Sliver C2"` || h.Source != "shodan" || len(h.Sweep) == 0 || !strings.HasPrefix(h.Origin, "catalog") {
		t.Errorf("catalog hunt %+v", h)
	}
	// The built-in PoshC2 is a configured hunt: exclude only drops catalog picks.
	if _, ok := names["PoshC2"]; !ok {
		t.Errorf("exclude dropped the built-in PoshC2")
	}
}

// An unknown word is an error at its own line and key, with did you mean.
func TestCatalogChoiceUnknownWord(t *testing.T) {
	src := "catalog:\n  include:\n    - c2\n    - Slivr\n  exclude: [stealr]\n"
	_, _, err := config.Parse("c2sweep.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"c2sweep.yaml:4", "catalog.include[1]", `did you mean "Sliver"`, "c2sweep.yaml:5", "catalog.exclude[0]", `did you mean "stealer"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// The starter config (c2sweep init) picks a default set from the catalog,
// and says how to widen it.
func TestStarterPicksFromTheCatalog(t *testing.T) {
	text := config.StarterConfig()
	cfg, _, err := config.Parse("c2sweep.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var picked []string
	for _, h := range cfg.EnabledHunts() {
		if strings.HasPrefix(h.Origin, "catalog") {
			picked = append(picked, h.Name)
		}
	}
	if len(picked) < 8 || strings.Contains(strings.Join(picked, " "), "SliverHTTP404") {
		t.Errorf("starter picks %v", picked)
	}
	for _, want := range []string{"To widen it", "include: [c2, rat]", "c2sweep hunts"} {
		if !strings.Contains(text, want) {
			t.Errorf("starter does not say %q", want)
		}
	}
}
