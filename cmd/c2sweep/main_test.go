package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"c2sweep/internal/stix/stixtest"
)

// The command line's behaviour is specified by the scripts in
// testdata/script: each runs the real c2sweep as a process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"c2sweep": main})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("..", "..", "testdata", "script"),
		Setup: func(e *testscript.Env) error {
			// A home of its own: no key file or state of the developer's.
			e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
			e.Setenv("XDG_STATE_HOME", filepath.Join(e.WorkDir, "home", "state"))
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, "home", "config"))
			e.Setenv("TERM", "dumb")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":  cmdExitCode,
			"waitfile":  cmdWaitFile,
			"envfile":   cmdEnvFile,
			"stixvalid": cmdStixValid,
		},
	})
}

// exitcode N CMD [ARGS...] runs CMD and fails unless it exits with N: the
// exit codes are part of c2sweep's interface (README, --help).
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// waitfile FILE waits (up to a minute) for a background command to write
// FILE.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within a minute", args[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var exportLine = regexp.MustCompile(`^export ([A-Z_][A-Z0-9_]*)='(.*)'$`)

// envfile FILE sets the variables of the "export KEY='VALUE'" lines that
// `c2sweep lab --write-env` writes, as `. FILE` does in a shell.
func cmdEnvFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: envfile FILE")
	}
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := exportLine.FindStringSubmatch(line)
		if m == nil {
			ts.Fatalf("%s: not an export line: %q", args[0], line)
		}
		ts.Setenv(m[1], strings.ReplaceAll(m[2], `'\''`, `'`))
	}
	ts.Check(sc.Err())
}

// stixvalid FILE fails unless FILE is a valid STIX 2.1 bundle: the OASIS
// schemas and the rules they skip (internal/stix/stixtest).
func cmdStixValid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: stixvalid FILE")
	}
	if err := stixtest.Validate([]byte(ts.ReadFile(args[0]))); err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
}
