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
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
