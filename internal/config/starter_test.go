package config

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestStarterConfigLoadsAsDefault(t *testing.T) {
	t.Setenv("SHODAN_API_URL", "")
	cfg, warns, err := Parse("c2sweep.yaml", []byte(StarterConfig()))
	if err != nil || len(warns) != 0 {
		t.Fatalf("starter config: %v %v", err, warns)
	}
	def := Default()
	// The built-ins, then the starter's catalog picks (when the catalog
	// is linked: the external test in catalog_test.go checks them).
	n := len(def.Hunts)
	if len(cfg.Hunts) < n || !reflect.DeepEqual(cfg.Hunts[:n], def.Hunts) {
		t.Errorf("hunts differ:\n%+v\n%+v", cfg.Hunts, def.Hunts)
	}
	for _, h := range cfg.Hunts[n:] {
		if !strings.HasPrefix(h.Origin, "catalog") {
			t.Errorf("hunt %s is neither built-in nor from the catalog", h.Name)
		}
	}
	if len(cfg.Hunts) == n && cfg.Fingerprint() != def.Fingerprint() {
		t.Error("fingerprint differs from Default()")
	}
	if !reflect.DeepEqual(cfg.Defaults, def.Defaults) || cfg.Sweep != def.Sweep || cfg.State != def.State || cfg.Serve != def.Serve ||
		cfg.Shodan.APIURL != def.Shodan.APIURL || cfg.Shodan.CreditBudget != def.Shodan.CreditBudget ||
		cfg.Shodan.APIKey.Source() != def.Shodan.APIKey.Source() || cfg.Azure.Auth != def.Azure.Auth || len(cfg.Notify) != 0 {
		t.Errorf("settings differ from Default():\n%+v\n%+v", cfg, def)
	}
}

// Every key the file accepts is explained in the starter config.
func TestStarterConfigExplainsEveryKey(t *testing.T) {
	text := StarterConfig()
	keys := keyHomes()
	for _, k := range []string{"env", "file", "command", "shell", "timeout", "table", "column"} {
		keys[k] = nil
	}
	for key := range keys {
		if !regexp.MustCompile(`(?m)[\s{,]` + regexp.QuoteMeta(key) + `:`).MatchString(text) {
			t.Errorf("starter config does not mention %s", key)
		}
	}
	for _, b := range Builtins() {
		if !strings.Contains(text, "# - name: "+b.Name+"\n") || !strings.Contains(text, b.Query) {
			t.Errorf("built-in %s is not listed as an example", b.Name)
		}
	}
	for _, form := range []string{"{env: SHODAN_API_KEY}", "{file: ", "{command: "} {
		if !strings.Contains(text, "api_key: "+form) {
			t.Errorf("starter does not show api_key: %s", form)
		}
	}
}

// The commented examples work when a hunter removes the #.
func TestStarterConfigExamplesWork(t *testing.T) {
	text := StarterConfig()
	text = regexp.MustCompile(`(?m)^  # ((?:- |  )[a-z_]+:)`).ReplaceAllString(text, "  $1")
	text = regexp.MustCompile(`(?m)^#(  (?:- |  )[a-z_]+:)`).ReplaceAllString(text, "$1")
	cfg, warns, err := Parse("c2sweep.yaml", []byte(text))
	if err != nil || len(warns) != 0 {
		t.Fatalf("uncommented starter: %v %v\n%s", err, warns, text)
	}
	want := []string{"CobaltStrikeJARM", "CobaltStrikeProductName", "EmpireC2", "DeimosC2", "SliverHTTP",
		"ThreatFoxC2", "Feodo", "CommunityC2", "Downloaded"}
	var configured []Hunt // the catalog's picks come after them
	for _, h := range cfg.EnabledHunts() {
		if !strings.HasPrefix(h.Origin, "catalog") {
			configured = append(configured, h)
		}
	}
	if got := names(configured); !slices.Equal(got, want) {
		t.Errorf("enabled hunts %v, want %v", got, want)
	}
	if h, _ := cfg.Hunt("DeimosC2"); h.MaxAge.String() != "14d" {
		t.Errorf("DeimosC2 %+v", h)
	}
	if h, _ := cfg.Hunt("ThreatFoxC2"); h.Source != "threatfox" || h.Days != 3 || h.MinConfidence != 75 || len(h.Malware) != 2 {
		t.Errorf("ThreatFoxC2 %+v", h)
	}
	if h, _ := cfg.Hunt("CommunityC2"); h.Source != "feed" || h.Format != "csv" || h.Column != "ip" || h.URL == "" {
		t.Errorf("CommunityC2 %+v", h)
	}
	if len(cfg.Notify) != 2 || cfg.Notify[0].URL.Source() != "env:TEAMS_WEBHOOK_URL" {
		t.Errorf("notify %+v", cfg.Notify)
	}
}
