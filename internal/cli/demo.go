package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"c2sweep/internal/config"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/emulator"
	"c2sweep/internal/pipeline"
)

// DemoCmd runs a real sweep against an in-process lab.
type DemoCmd struct {
	Seed   int64  `help:"Seed of the lab's world." default:"1"`
	Faults string `help:"Failures for the lab to inject (see 'c2sweep lab --help')." placeholder:"SPEC"`
}

func (c *DemoCmd) Help() string {
	return `Starts the lab (emulated Shodan, ThreatFox, Feodo Tracker, Entra ID and
Defender on loopback) and runs the same sweep 'c2sweep run' does against it,
with the built-in Shodan hunts and the free ThreatFox and Feodo sources:
HTTPS, tokens, rate limits and all. Shodan's 1 request/second applies, so it
takes a few seconds.

Examples:
  c2sweep demo
  c2sweep demo --seed 7 --faults 5xx=0.2`
}

func (c *DemoCmd) Run(g *Globals) error {
	faults, err := lab.ParseFaults(c.Faults)
	if err != nil {
		return fmt.Errorf("--faults: %w", err)
	}
	l, err := emulator.Start(g.ctx, lab.Options{World: lab.WorldConfig{Seed: c.Seed}, Faults: faults})
	if err != nil {
		return err
	}
	defer l.Close()
	dir, err := os.MkdirTemp("", "c2sweep-demo-")
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "c2sweep demo: lab at %s, world seed %d (%d C2 servers, %d devices, %d telemetry events)\n\n",
		l.URL, c.Seed, len(l.World.Servers), len(l.World.Devices), len(l.World.Events))

	// The demo's config is the default one pointed at the lab, whatever
	// the environment says, so it never touches a real tenant.
	cfg := config.Default()
	cfg.Shodan.APIKey = config.LiteralSecret(l.Creds.ShodanKey)
	cfg.Shodan.APIURL = l.URL
	cfg.Sweep.APIURL = l.URL
	cfg.Azure = config.Azure{
		Auth:          "client-secret",
		TenantID:      l.Creds.TenantID,
		ClientID:      l.Creds.ClientID,
		ClientSecret:  config.LiteralSecret(l.Creds.ClientSecret),
		AuthorityHost: l.URL + "/",
	}
	// Free sources beside Shodan: the lab's ThreatFox and Feodo Tracker.
	cfg.Sources = config.Sources{
		ThreatFox: config.ThreatFox{AuthKey: config.LiteralSecret(l.Creds.AbuseCHKey), APIURL: l.URL + lab.ThreatFoxPath},
		Feodo:     config.Feodo{URL: l.URL + lab.FeodoPath},
	}
	for _, h := range []config.Hunt{{Name: "ThreatFoxC2", Source: "threatfox", Days: 7}, {Name: "Feodo", Source: "feodo"}} {
		h.MaxAge, h.Enabled, h.Sweep = cfg.Defaults.MaxAge, true, slices.Clone(cfg.Defaults.Sweep)
		cfg.Hunts = append(cfg.Hunts, h)
	}
	cfg.Notify = nil
	cfg.State.Path = filepath.Join(dir, "state.db")
	g.State = ""
	err = g.sweep(cfg, &SweepFlags{}, l.HTTPClient(), runOutput{dir: filepath.Join(dir, "results")}, "demo")
	if oe, ok := err.(outcomeError); ok {
		fmt.Fprintln(g.stdout)
		fmt.Fprintf(g.stdout, "state: %s (try: c2sweep --state %s hits --new)\n", cfg.State.Path, cfg.State.Path)
		fmt.Fprintf(g.stdout, "The demo's files stay for a look; remove them with: rm -r %s\n", dir)
		fmt.Fprintln(g.stdout, "Next: 'c2sweep lab --write-env lab.env' serves this world for 'c2sweep run';")
		fmt.Fprintln(g.stdout, "      'c2sweep init > c2sweep.yaml' starts a config for your own tenant.")
		if oe.o == pipeline.OutcomeFailed || oe.o == pipeline.OutcomeAborted {
			return err
		}
		return nil // hits are what a demo is for: exit 0
	}
	return err
}
