// Command c2sweep finds the devices of an organisation that talked to C2
// servers that internet scanners fingerprinted: Shodan hunts in, Defender
// advanced hunting sweeps out. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"c2sweep/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks for a clean stop; a second one kills at once.
	context.AfterFunc(ctx, stop)
	os.Exit(cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
