package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

const secretValue = "s3cr3t-VALUE-9f2c"

func reveal(t *testing.T, s Secret) (string, error) {
	t.Helper()
	v, err := s.Reveal(t.Context())
	if err != nil && strings.Contains(err.Error(), secretValue) {
		t.Fatalf("error shows the secret: %v", err)
	}
	return v, err
}

func TestSecretEnv(t *testing.T) {
	s := EnvSecret("C2SWEEP_TEST_SECRET")
	s.key = "shodan.api_key"
	t.Setenv("C2SWEEP_TEST_SECRET", " "+secretValue+"\n")
	if v, err := reveal(t, s); err != nil || v != secretValue {
		t.Fatalf("%q %v", v, err)
	}
	t.Setenv("C2SWEEP_TEST_SECRET", "")
	if _, err := reveal(t, s); err == nil || err.Error() != "shodan.api_key: environment variable C2SWEEP_TEST_SECRET is empty" {
		t.Errorf("empty: %v", err)
	}
	os.Unsetenv("C2SWEEP_TEST_SECRET")
	if _, err := reveal(t, s); err == nil || !strings.Contains(err.Error(), "shodan.api_key: environment variable C2SWEEP_TEST_SECRET is not set") {
		t.Errorf("unset: %v", err)
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	os.WriteFile(p, []byte("\n"+secretValue+"\n\n"), 0o600)
	if v, err := reveal(t, FileSecret(p)); err != nil || v != secretValue {
		t.Fatalf("%q %v", v, err)
	}
	if _, err := reveal(t, FileSecret(filepath.Join(dir, "missing"))); err == nil || !strings.Contains(err.Error(), "missing does not exist") {
		t.Errorf("missing: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	if _, err := reveal(t, FileSecret(empty)); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty: %v", err)
	}
	if _, err := reveal(t, FileSecret(dir)); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, bytes.Repeat([]byte("x"), maxSecretFile+1), 0o600)
	if _, err := reveal(t, FileSecret(big)); err == nil || !strings.Contains(err.Error(), "right file") {
		t.Errorf("big: %v", err)
	}
	if os.Getuid() != 0 {
		locked := filepath.Join(dir, "locked")
		os.WriteFile(locked, []byte(secretValue), 0o000)
		if _, err := reveal(t, FileSecret(locked)); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("locked: %v", err)
		}
	}
}

// script writes an executable shell script, so that tests need no helper
// programs beyond /bin/sh.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "helper")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecretCommand(t *testing.T) {
	ok := script(t, `echo "  $1-$2  "`)
	if v, err := reveal(t, CommandSecret(ok, "a b", secretValue)); err != nil || v != "a b-"+secretValue {
		t.Fatalf("%q %v", v, err)
	}

	// The helper prints the secret on stderr and fails: the error must say
	// it failed, with the status, and show neither stream.
	failing := script(t, `echo "`+secretValue+`"; echo "bad `+secretValue+`" >&2; exit 3`)
	_, err := reveal(t, CommandSecret(failing))
	if err == nil || !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(err.Error(), "not shown") {
		t.Errorf("failing: %v", err)
	}
	if !strings.Contains(err.Error(), "command:helper") {
		t.Errorf("failing: error does not name the command: %v", err)
	}

	silent := script(t, `exit 0`)
	if _, err := reveal(t, CommandSecret(silent)); err == nil || !strings.Contains(err.Error(), "printed nothing") {
		t.Errorf("silent: %v", err)
	}

	if _, err := reveal(t, CommandSecret("c2sweep-no-such-program-xyz")); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing program: %v", err)
	}

	// A helper that hangs (a password prompt nobody answers) is cut off.
	hang := script(t, `sleep 30`)
	s := CommandSecret(hang)
	s.sources[0].timeout = 50 * time.Millisecond
	start := time.Now()
	_, err = reveal(t, s)
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}

	// A cancelled context stops it too.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := CommandSecret(ok, "x").Reveal(ctx); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestSecretCommandFromFile(t *testing.T) {
	helper := script(t, `echo "$#:$1"`)
	cfg, warns := mustParse(t, "azure:\n  client_secret: {command: \""+helper+" 'two words'\"}\n  certificate_password: {command: \"echo $HOME | tr a-z A-Z\", shell: true}\n")
	if len(warns) != 0 {
		t.Errorf("warnings %v", warns)
	}
	if v, err := reveal(t, cfg.Azure.ClientSecret); err != nil || v != "1:two words" {
		t.Errorf("no-shell split: %q %v", v, err)
	}
	t.Setenv("HOME", "/home/x")
	if v, err := reveal(t, cfg.Azure.CertificatePassword); err != nil || v != "/HOME/X" {
		t.Errorf("shell: %q %v", v, err)
	}
	if cfg.Azure.CertificatePassword.Source() != "command:sh" || cfg.Azure.ClientSecret.Source() != "command:helper" {
		t.Errorf("sources %q %q", cfg.Azure.CertificatePassword.Source(), cfg.Azure.ClientSecret.Source())
	}
	// Without shell: true, nothing is expanded.
	cfg, _ = mustParse(t, "azure:\n  client_secret: {command: \"echo $HOME\"}\n")
	if v, _ := reveal(t, cfg.Azure.ClientSecret); v != "$HOME" {
		t.Errorf("expanded without a shell: %q", v)
	}
}

func TestSplitWords(t *testing.T) {
	tests := map[string][]string{
		`pass show shodan`:          {"pass", "show", "shodan"},
		`  a   b  `:                 {"a", "b"},
		`op read "op://v/Shodan/x"`: {"op", "read", "op://v/Shodan/x"},
		`a 'b c' "d \" e" f\ g`:     {"a", "b c", `d " e`, "f g"},
		`a '' b`:                    {"a", "", "b"},
		`a'b'c`:                     {"abc"},
	}
	for in, want := range tests {
		got, err := splitWords(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{``, `   `, `a 'b`, `a "b`, `a\`} {
		if _, err := splitWords(in); err == nil {
			t.Errorf("splitWords(%q): no error", in)
		}
	}
}

func TestDefaultShodanKeyChain(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.Unsetenv("SHODAN_API_KEY")
	t.Setenv("SHODAN_API_KEY", "")
	os.Unsetenv("SHODAN_API_KEY")

	cfg := Default()
	_, err := reveal(t, cfg.Shodan.APIKey)
	want := "shodan.api_key: not found (tried env:SHODAN_API_KEY, file:" + home + "/.config/shodan/api_key, file:" + home + "/.shodan/api_key)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}

	os.MkdirAll(filepath.Join(home, ".shodan"), 0o700)
	os.WriteFile(filepath.Join(home, ".shodan", "api_key"), []byte("old-location\n"), 0o600)
	if v, err := reveal(t, Default().Shodan.APIKey); err != nil || v != "old-location" {
		t.Errorf("old CLI location: %q %v", v, err)
	}
	os.MkdirAll(filepath.Join(home, ".config", "shodan"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "shodan", "api_key"), []byte("new-location\n"), 0o600)
	if v, err := reveal(t, Default().Shodan.APIKey); err != nil || v != "new-location" {
		t.Errorf("new CLI location: %q %v", v, err)
	}
	t.Setenv("SHODAN_API_KEY", "from-env")
	if v, err := reveal(t, Default().Shodan.APIKey); err != nil || v != "from-env" {
		t.Errorf("env first: %q %v", v, err)
	}
	// A key file that exists but cannot be used is an error, not skipped.
	os.Unsetenv("SHODAN_API_KEY")
	os.WriteFile(filepath.Join(home, ".config", "shodan", "api_key"), nil, 0o600)
	if _, err := reveal(t, Default().Shodan.APIKey); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty key file: %v", err)
	}
	// A key named explicitly in the file has no fallback.
	t.Setenv("SHODAN_API_KEY", "from-env")
	cfg, _ = mustParse(t, "shodan: {api_key: {env: MY_SHODAN_KEY}}\n")
	if _, err := reveal(t, cfg.Shodan.APIKey); err == nil || !strings.Contains(err.Error(), "shodan.api_key: environment variable MY_SHODAN_KEY is not set") {
		t.Errorf("explicit env: %v", err)
	}
}

func TestUnsetSecret(t *testing.T) {
	var s Secret
	if s.IsSet() || s.String() != "(unset)" {
		t.Errorf("%v", s)
	}
	if _, err := reveal(t, s); err == nil {
		t.Error("no error")
	}
}

// secretConfig has every secret field written inline, the worst case.
func secretConfig(t *testing.T) *Config {
	t.Helper()
	cfg, warns := mustParse(t, fmt.Sprintf(`
shodan:
  api_key: %[1]s-shodan
azure:
  client_secret: "%[1]s-azure"
  certificate_password: '%[1]s-cert'
notify:
  - name: soc
    type: teams
    url: https://example.webhook.office.com/%[1]s-hook
`, secretValue))
	if len(warns) != 4 {
		t.Fatalf("want a warning per inline secret, got %q", warns)
	}
	for _, w := range warns {
		if strings.Contains(w.Error()+w.Hint, secretValue) {
			t.Fatalf("warning shows the secret: %s", w)
		}
	}
	return cfg
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg := secretConfig(t)
	if v, _ := reveal(t, cfg.Azure.ClientSecret); v != secretValue+"-azure" {
		t.Fatalf("reveal: %q", v)
	}
	s := cfg.Shodan.APIKey
	outputs := map[string]string{
		"String":   s.String(),
		"GoString": s.GoString(),
		"verbs":    fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%10.3s|%T", s, s, s, s, s, s, s, s, s, s),
		"pointer":  fmt.Sprintf("%v %+v %#v", &s, &s, &s),
		"config":   fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg),
		"value":    fmt.Sprintf("%v %+v %#v", *cfg, *cfg, *cfg),
		"sections": fmt.Sprintf("%v %+v %#v %v %#v", cfg.Shodan, cfg.Azure, cfg.Notify, cfg.Notify[0], []Secret{s}),
		"println":  fmt.Sprintln(cfg, s, cfg.Azure),
	}
	if s.String() != "**redacted** (inline)" || fmt.Sprintf("%q", s) != `"**redacted** (inline)"` {
		t.Errorf("redacted form: %s / %q", s, s)
	}
	if got := EnvSecret("SHODAN_API_KEY").String(); got != "**redacted** (env:SHODAN_API_KEY)" {
		t.Errorf("env form: %s", got)
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)
	var jb, tb bytes.Buffer
	slog.New(slog.NewJSONHandler(&jb, nil)).Info("loaded", "cfg", cfg, "key", s, "azure", cfg.Azure)
	slog.New(slog.NewTextHandler(&tb, nil)).Info("loaded", "cfg", cfg, "key", s, "azure", cfg.Azure, slog.Group("g", "n", cfg.Notify))
	outputs["slog json"] = jb.String()
	outputs["slog text"] = tb.String()
	if lv := s.LogValue(); lv.String() != "**redacted** (inline)" {
		t.Errorf("LogValue %v", lv)
	}
	mj, _ := s.MarshalJSON()
	my, _ := s.MarshalYAML()
	mt, _ := s.MarshalText()
	outputs["marshalers"] = string(mj) + fmt.Sprint(my) + string(mt)
	for name, out := range outputs {
		if strings.Contains(out, secretValue) || strings.Contains(out, "9f2c") {
			t.Errorf("%s shows the secret: %s", name, out)
		}
		if !strings.Contains(out, "redacted") && name != "pointer" {
			t.Errorf("%s has no redacted marker: %s", name, out)
		}
	}
	if !strings.Contains(outputs["yaml"], "api_key: '**redacted** (inline)'") {
		t.Errorf("yaml form:\n%s", outputs["yaml"])
	}
}

// Command arguments can hold tokens; only the program name is shown.
func TestCommandArgumentsNotPrinted(t *testing.T) {
	s := CommandSecret("curl", "-H", "Authorization: Bearer "+secretValue, "https://vault")
	out := fmt.Sprintf("%v %+v %#v %s", s, s, s, s.Source())
	if strings.Contains(out, secretValue) || !strings.Contains(out, "command:curl") {
		t.Errorf("%s", out)
	}
}
