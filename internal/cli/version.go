package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/alecthomas/kong"
)

// VersionCmd prints the build's version.
type VersionCmd struct{}

func (VersionCmd) Help() string {
	return `Prints the version, the commit it was built from and the Go version;
'c2sweep --version' prints the same.

Examples:
  c2sweep version`
}

func (VersionCmd) Run(g *Globals) error {
	writeVersion(g.stdout)
	return nil
}

// versionFlag is --version: the version command as a flag.
type versionFlag bool

// BeforeReset prints before anything else is checked, as --help does.
func (versionFlag) BeforeReset(app *kong.Kong) error {
	writeVersion(app.Stdout)
	app.Exit(ExitNoHits)
	return nil
}

// writeVersion prints what a bug report needs: the version (a module
// version, or "(devel)" for a build from a source tree), the VCS commit
// and whether the tree had changes, and the Go toolchain.
func writeVersion(w io.Writer) {
	bi, _ := debug.ReadBuildInfo()
	io.WriteString(w, versionText(bi))
}

func versionText(bi *debug.BuildInfo) string {
	version, commit, modified, when := "(devel)", "unknown", false, ""
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				when = s.Value
			}
		}
	}
	if when != "" {
		commit += " (" + when + ")"
	}
	if modified {
		commit += ", with uncommitted changes"
	}
	return fmt.Sprintf("c2sweep %s\ncommit: %s\ngo: %s %s/%s\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
