package labtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNotInBinary: the test-only half of the lab (this package, with the
// webhook sink) is not linked into c2sweep, while the services are.
func TestNotInBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the binary's packages")
	}
	out, err := exec.Command(goTool, "list", "-deps", "c2sweep/cmd/c2sweep").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, pkg := range []string{"c2sweep/internal/lab/labtest", "c2sweep/internal/report/browsertest", "testing"} {
		if slices.Contains(deps, pkg) {
			t.Errorf("c2sweep links %s", pkg)
		}
	}
	for _, pkg := range []string{"c2sweep/internal/lab/emulator", "c2sweep/internal/lab/shodanlab", "c2sweep/internal/lab/entralab", "c2sweep/internal/lab/huntinglab", "c2sweep/internal/lab/threatfoxlab", "c2sweep/internal/lab/feodolab", "c2sweep/internal/lab/feedlab"} {
		if !slices.Contains(deps, pkg) {
			t.Errorf("c2sweep does not link %s: the list is not the binary's", pkg)
		}
	}
}
