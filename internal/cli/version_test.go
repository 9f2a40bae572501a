package cli

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	goLine := "go: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, c := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "c2sweep (devel)\ncommit: unknown\n" + goLine},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "c2sweep (devel)\ncommit: unknown\n" + goLine},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "7b1e0705d2b0c7f1e2a3b4c5d6e7f8091a2b3c4d"},
			{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, "c2sweep v1.4.0\ncommit: 7b1e0705d2b0c7f1e2a3b4c5d6e7f8091a2b3c4d (2026-11-30T10:00:00Z), with uncommitted changes\n" + goLine},
	} {
		if got := versionText(c.bi); got != c.want {
			t.Errorf("versionText:\n%s\nwant:\n%s", got, c.want)
		}
	}
	if !strings.Contains(versionText(nil), runtime.Version()) {
		t.Error("no Go version")
	}
}
