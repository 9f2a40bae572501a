package cli

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/emulator"
	"c2sweep/internal/lab/feedlab"
)

// LabCmd serves the emulators until interrupted.
type LabCmd struct {
	Listen        string        `help:"Loopback address to serve on." default:"127.0.0.1:8443" env:"C2SWEEP_LAB_LISTEN"`
	WriteEnv      string        `help:"Write 'export KEY=VALUE' lines that point c2sweep at the lab." type:"path" placeholder:"FILE"`
	Seed          int64         `help:"Seed of the deterministic world." default:"1"`
	Faults        string        `help:"Failures to inject: comma-separated key=value pairs, e.g. 5xx=0.1,latency=200ms (keys below)." placeholder:"SPEC"`
	Servers       int           `help:"C2 servers in the world." default:"60"`
	Banners       int           `help:"Unrelated banners Shodan also holds." default:"200"`
	Devices       int           `help:"Devices in the organisation." default:"50"`
	Events        int           `help:"Ordinary telemetry events." default:"5000"`
	Contacts      int           `help:"Device-to-C2 contacts planted in the telemetry." default:"12"`
	Tenants       int           `help:"Entra ID tenants, each with its own app and secret; the devices are split across them (--write-env writes tenant i>=1 as C2SWEEP_LAB_TENANT<i>_ID, _CLIENT_ID, _CLIENT_SECRET)." default:"1"`
	TokenLifetime time.Duration `help:"Lifetime of issued access tokens." default:"1h"`
}

func (c *LabCmd) Help() string {
	return `The lab serves, over HTTPS on loopback, a deterministic world: C2 servers
as Shodan sees them, and an organisation whose Defender telemetry holds a few
contacts with them. It follows the services' documented behaviour, limits and
errors (1 request/second for Shodan, 45 calls/minute for hunting, token expiry).
What it serves and where is printed on stderr; stdout stays empty.

Fault keys of --faults (P a fraction 0..1, D a duration such as 200ms, N a
number, S a service):
` + lab.FaultHelp() + `

Examples:
  c2sweep lab --write-env lab.env        # then, in another shell:
  . ./lab.env && c2sweep run
  c2sweep lab --faults 5xx=0.2,latency=100ms --seed 7`
}

func (c *LabCmd) Run(g *Globals) error {
	faults, err := lab.ParseFaults(c.Faults)
	if err != nil {
		return fmt.Errorf("--faults: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(g.stderr, nil))
	l, err := emulator.Start(g.ctx, lab.Options{
		Listen: c.Listen,
		World: lab.WorldConfig{Seed: c.Seed, Servers: c.Servers, Banners: c.Banners, Devices: c.Devices,
			Events: c.Events, Contacts: c.Contacts},
		Faults:        faults,
		TokenLifetime: c.TokenLifetime,
		Tenants:       c.Tenants,
		Log:           logger,
	})
	if err != nil {
		return err
	}
	defer l.Close()
	if c.WriteEnv != "" {
		// Written aside and renamed, so that a script waiting for the
		// file never reads half of it.
		tmp := c.WriteEnv + ".partial"
		if err := l.WriteEnv(tmp); err != nil {
			return fmt.Errorf("--write-env: %w", err)
		}
		if err := os.Rename(tmp, c.WriteEnv); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("--write-env: %w", err)
		}
	}
	// The banner is for the person who started the lab: stderr, so that
	// stdout stays free for whatever a script pipes it to.
	fmt.Fprintf(g.stderr, "c2sweep lab serving %s (seed %d: %d C2 servers, %d devices, %d telemetry events, %d tenants)\n",
		l.URL, c.Seed, len(l.World.Servers), len(l.World.Devices), len(l.World.Events), len(l.Creds.Tenants))
	fmt.Fprintf(g.stderr, "CA certificate: %s\n", l.CAFile)
	fmt.Fprintf(g.stderr, "free sources: ThreatFox %s%s, Feodo %s%s\n", l.URL, lab.ThreatFoxPath, l.URL, lab.FeodoPath)
	fmt.Fprintf(g.stderr, "feeds: %s%s{%s,%s} (%s: stale, %s: 404); banner file: %s%s%s\n", l.URL, lab.FeedsPath,
		feedlab.TextFeed, feedlab.CSVFeed, feedlab.StaleFeed, feedlab.GoneFeed, l.URL, lab.FeedsPath, feedlab.BannerFile)
	if c.WriteEnv != "" {
		fmt.Fprintf(g.stderr, "environment: . %s && c2sweep run\n", c.WriteEnv)
	} else {
		printHint(g.stderr, "--write-env FILE writes the variables that point c2sweep at the lab")
	}
	fmt.Fprintln(g.stderr, "Ctrl-C stops the lab.")
	<-g.ctx.Done()
	fmt.Fprintln(g.stderr, "lab stopped")
	return nil
}
