// Package cli is c2sweep's command line: one file per command, one switch
// that maps outcomes to the documented exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/alecthomas/kong"

	"c2sweep/internal/pipeline"
	"c2sweep/internal/textsafe"
)

// Exit codes, documented in README.md and `c2sweep --help`.
const (
	ExitNoHits      = 0   // the sweep ran and found nothing new
	ExitHits        = 1   // the sweep ran and found new hits
	ExitPartial     = 2   // some hunts or queries failed; results are incomplete
	ExitCannotRun   = 3   // bad config, refused credentials, no credits, state locked ...
	ExitInterrupted = 130 // stopped by Ctrl-C or SIGTERM
)

// Globals are the flags every command takes.
type Globals struct {
	Config    string `help:"YAML config file (see 'c2sweep init')." type:"path" placeholder:"FILE"`
	State     string `help:"State database (default: $XDG_STATE_HOME/c2sweep/state.db)." type:"path" placeholder:"FILE"`
	LogLevel  string `help:"Log level: debug, info, warn, error (default: warn; info for serve)." default:"" enum:",debug,info,warn,error"`
	LogFormat string `help:"Log format: text or json." default:"text" enum:"text,json"`
	Quiet     bool   `short:"q" help:"No progress display, even on a terminal."`

	ShowVersion versionFlag `name:"version" env:"-" help:"Print the version, commit and Go version, and exit."`

	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// CLI is the command tree.
type CLI struct {
	Globals

	Run        RunCmd        `cmd:"" help:"Run the hunts and sweep Defender telemetry for their servers."`
	Collect    CollectCmd    `cmd:"" help:"Run the sources only and print the fresh indicators (a blocklist)."`
	Demo       DemoCmd       `cmd:"" help:"Sweep a local lab world end to end: no accounts needed."`
	Hunts      HuntsCmd      `cmd:"" help:"List the hunt catalog and what the config selects."`
	Targets    TargetsCmd    `cmd:"" help:"List the sweep targets: tenants, Sentinel workspaces, clouds, sign-in."`
	Init       InitCmd       `cmd:"" help:"Write a commented starter config."`
	Hits       HitsCmd       `cmd:"" help:"Show hits remembered in the state database."`
	Runs       RunsCmd       `cmd:"" help:"Show recent runs."`
	Indicators IndicatorsCmd `cmd:"" help:"Show what is being swept and why, or push it to Defender."`
	Report     ReportCmd     `cmd:"" help:"Write an HTML report of a run's hits for a person to read."`
	Suppress   SuppressCmd   `cmd:"" help:"Mark an IP, CIDR, device or hunt as benign."`
	Unsuppress UnsuppressCmd `cmd:"" help:"Remove a suppression."`
	Triage     TriageCmd     `cmd:"" help:"Mark hits investigating, benign, malicious or closed, with a note; --history shows the changes."`
	Export     ExportCmd     `cmd:"" help:"Export C2 servers and sightings for other tools (STIX 2.1)."`
	Exclusions ExclusionsCmd `cmd:"" help:"Check IPs against the CDN ranges c2sweep does not sweep, or refresh them."`
	Serve      ServeCmd      `cmd:"" help:"Run sweeps on a schedule, with /healthz and /metrics."`
	Lab        LabCmd        `cmd:"" help:"Serve emulated Shodan, Entra ID and Defender APIs on loopback."`
	Version    VersionCmd    `cmd:"" help:"Print the version."`
}

const description = `Find the devices that talked to C2 servers Shodan fingerprinted.

c2sweep runs Shodan hunts (queries that fingerprint Cobalt Strike, Sliver,
PoshC2, Empire, Deimos ... servers), keeps the servers seen recently, sweeps
Microsoft Defender advanced hunting for connections to them, and reports each
device that talked to one, remembering what it already reported.

Examples:
  c2sweep demo                          # try it against a local lab, no accounts
  c2sweep init > c2sweep.yaml           # a commented starter config
  c2sweep run                           # sweep with the built-in hunts
  c2sweep run --dry-run                 # print the Shodan credit plan; spend nothing
  c2sweep collect > blocklist.txt       # the sources' fresh IPs only, no Defender
  c2sweep hits                          # the new hits of the latest run
  c2sweep hits --since 7d --json        # every hit with an event this week
  c2sweep serve --schedule "0 6 * * *"  # daily, as a service

Exit codes: 0 no new hits, 1 new hits found, 2 partial failure,
3 could not run, 130 interrupted.

Every flag can also be set as C2SWEEP_<FLAG>, e.g. C2SWEEP_API_URL.`

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c CLI
	exited := -1
	parser, err := kong.New(&c,
		kong.Name("c2sweep"),
		kong.Description(description),
		kong.DefaultEnvars("C2SWEEP"),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exited = code }),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintf(stderr, "c2sweep: %s\n", textsafe.Terminal(err.Error()))
		return ExitCannotRun
	}
	if len(args) == 0 {
		// Bare c2sweep asks what it can do: the usage, exit 0 as --help.
		// Not 2 or 3: those say "partial failure" and "could not run" to
		// the scripts and monitors that read c2sweep's exit codes.
		args = []string{"--help"}
	}
	kctx, err := parser.Parse(args)
	if exited >= 0 {
		return exited // --help, --version
	}
	if err != nil {
		if cmd := bareCommand(err, args); cmd != nil {
			// A command given alone, without what it needs: its usage and
			// examples, then what is missing.
			cmd.Stdout = stderr
			if cmd.PrintUsage(false) == nil {
				fmt.Fprintln(stderr)
				printError(stderr, err)
				return ExitCannotRun
			}
		}
		printError(stderr, withHint(err, "c2sweep --help shows commands, flags and examples"))
		return ExitCannotRun
	}
	g := &c.Globals
	g.ctx, g.stdout, g.stderr = ctx, stdout, stderr
	g.log = newLogger(stderr, g.LogLevel, g.LogFormat)
	err = kctx.Run(g)
	return exitCode(ctx, err, stderr)
}

// outcomeError carries a finished run's outcome to the exit code.
type outcomeError struct{ o pipeline.Outcome }

func (e outcomeError) Error() string { return string(e.o) }

func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	var oe outcomeError
	switch {
	case err == nil:
		return ExitNoHits
	case errors.As(err, &oe):
		switch oe.o {
		case pipeline.OutcomeHits:
			return ExitHits
		case pipeline.OutcomePartial:
			return ExitPartial
		case pipeline.OutcomeAborted:
			return ExitInterrupted
		case pipeline.OutcomeFailed:
			return ExitCannotRun
		}
		return ExitNoHits
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "c2sweep: interrupted")
		return ExitInterrupted
	}
	printError(stderr, err)
	return ExitCannotRun
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	if level == "" {
		level = "warn"
	}
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// isTerminal reports whether w is an interactive terminal: progress is
// drawn there and nowhere else (cron, pipes, files stay quiet).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// bareCommand returns the parse context of a command the command line
// names and nothing more (c2sweep triage), when parsing it failed.
func bareCommand(err error, args []string) *kong.Context {
	var pe *kong.ParseError
	if !errors.As(err, &pe) || pe.Context == nil {
		return nil
	}
	sel := pe.Context.Selected()
	if sel == nil || sel.Path() != strings.Join(args, " ") {
		return nil
	}
	return pe.Context
}
