package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"c2sweep/internal/cli"
	"c2sweep/internal/config"
)

// The command line's help, usage errors and config errors are specified by
// the scripts in testdata/script (run by cmd/c2sweep's tests).

func TestInit(t *testing.T) {
	isolate(t)
	r := mustCode(t, 0, "init")
	cfg, warnings, err := config.Parse("init-output.yaml", []byte(r.stdout))
	if err != nil {
		t.Fatalf("init output does not load: %v\n%s", err, r.stdout)
	}
	if len(warnings) > 0 {
		t.Errorf("init output loads with warnings: %q", warnings)
	}
	// The 5 built-ins, then the catalog's default picks.
	hunts := cfg.EnabledHunts()
	if len(hunts) <= 5 || hunts[4].Name != "DeimosC2" || !strings.HasPrefix(hunts[5].Origin, "catalog") {
		t.Errorf("init output enables %d hunts, want the 5 built-ins and catalog picks", len(hunts))
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "c2sweep.yaml")
	mustCode(t, 0, "init", "-o", path)
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != r.stdout {
		t.Errorf("init -o wrote something else than init prints")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("init -o file mode %v is readable by others", fi.Mode().Perm())
	}
	mustCode(t, 0, "--config", path, "hunts")

	// Never overwrites: an existing file, whatever it holds, stays as it is.
	mine := []byte("# my config\nbuiltin_hunts: false\n")
	if err := os.WriteFile(path, mine, 0o600); err != nil {
		t.Fatal(err)
	}
	r = mustCode(t, cli.ExitCannotRun, "init", "-o", path)
	if !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("refusal does not name the file or give a hint:\n%s", r)
	}
	if b, _ := os.ReadFile(path); string(b) != string(mine) {
		t.Errorf("init -o overwrote an existing file:\n%s", b)
	}
}

func TestHuntsListsBuiltins(t *testing.T) {
	isolate(t)
	builtins := map[string]string{
		"CobaltStrikeJARM":        "ssl.jarm:07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2",
		"CobaltStrikeProductName": `product:"Cobalt Strike Beacon"`,
		"PoshC2":                  `ssl:"P18055077"`,
		"EmpireC2":                `product:"Empire C2"`,
		"DeimosC2":                "http.html_hash:-14029177",
	}
	r := mustCode(t, 0, "hunts", "--config-only")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1+len(builtins) {
		t.Fatalf("want a header and %d hunts:\n%s", len(builtins), r.stdout)
	}
	for name, query := range builtins {
		found := false
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) > 0 && f[0] == name {
				found = true
				if !strings.Contains(l, query) || !strings.Contains(l, "yes") || !strings.Contains(l, "built-in") {
					t.Errorf("hunt line %q lacks its query, enabled or origin", l)
				}
			}
		}
		if !found {
			t.Errorf("hunts does not list %s:\n%s", name, r.stdout)
		}
	}

	r = mustCode(t, 0, "hunts", "--config-only", "--json")
	var hunts []config.Hunt
	if err := json.Unmarshal([]byte(r.stdout), &hunts); err != nil {
		t.Fatalf("hunts --json: %v\n%s", err, r.stdout)
	}
	if len(hunts) != len(builtins) {
		t.Fatalf("hunts --json lists %d hunts", len(hunts))
	}
	for _, h := range hunts {
		if builtins[h.Name] != h.Query || !h.Enabled {
			t.Errorf("hunts --json: %+v", h)
		}
	}

	// A config changes what is listed.
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("hunts:\n  - name: PoshC2\n    enabled: false\n  - name: SliverJARM\n    query: 'ssl.jarm:\"00000000000000000041d00000041d9535d5979f591ae8e547c5e5743e5b64\"'\n"), 0o600)
	r = mustCode(t, 0, "--config", path, "hunts", "--config-only")
	if !regexp.MustCompile(`(?m)^PoshC2\s+no\s`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^SliverJARM\s+yes\s.*c\.yaml:4`).MatchString(r.stdout) {
		t.Errorf("hunts with a config:\n%s", r.stdout)
	}
}

func TestStateCommandsWithoutState(t *testing.T) {
	home := isolate(t)
	// A read-only command on a state that does not exist says so and
	// creates nothing.
	for _, cmd := range []string{"hits", "runs", "indicators"} {
		r := mustCode(t, cli.ExitCannotRun, cmd)
		if r.stderr == "" {
			t.Errorf("%s: no error message", cmd)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "state", "c2sweep", "state.db")); err == nil {
		t.Errorf("a read-only command created the default state database")
	}
}

// http:// is refused for every API root, and the error says where the
// value came from: the file's line and key, the variable, the flag.
func TestPlainHTTPRefusedFromEveryPlace(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "c2sweep.yaml")
	if err := os.WriteFile(path, []byte("sweep:\n  api_url: http://graph.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env   [2]string
		args  []string
		where string
	}{
		{args: []string{"--config", path, "run"}, where: path + ":2: sweep.api_url"},
		{env: [2]string{"SHODAN_API_URL", "http://shodan.example"}, args: []string{"run"}, where: "environment: SHODAN_API_URL"},
		{env: [2]string{"AZURE_AUTHORITY_HOST", "http://login.example"}, args: []string{"run"}, where: "environment: AZURE_AUTHORITY_HOST"},
		{args: []string{"run", "--api-url", "http://graph.example"}, where: "--api-url"},
		{env: [2]string{"C2SWEEP_API_URL", "http://graph.example"}, args: []string{"run"}, where: "C2SWEEP_API_URL"},
	} {
		if tc.env[0] != "" {
			t.Setenv(tc.env[0], tc.env[1])
		}
		r := c2sweep(t, tc.args...)
		if r.code != cli.ExitCannotRun || !strings.Contains(r.stderr, tc.where) || !strings.Contains(r.stderr, "is not https") {
			t.Errorf("%v %v: want exit 3 naming %s, got %s", tc.env, tc.args, tc.where, r)
		}
		if tc.env[0] != "" {
			os.Unsetenv(tc.env[0])
		}
	}
}
