package cli

import (
	"fmt"
	"runtime/debug"
)

// VersionCmd prints the build's version.
type VersionCmd struct{}

func (VersionCmd) Help() string {
	return `Examples:
  c2sweep version`
}

func (VersionCmd) Run(g *Globals) error {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintf(g.stdout, "c2sweep %s\n", v)
	return nil
}
