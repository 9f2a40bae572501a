package cli

import (
	"c2sweep/internal/config"
	"c2sweep/internal/pipeline"
)

// exclusions are the IPs run, collect and serve never sweep: the CDN
// ranges that `exclusions update` wrote beside the state database (else
// the embedded snapshot) and the config's exclude: list.
func (g *Globals) exclusions(cfg *config.Config) (*pipeline.Exclusions, error) {
	dir, err := g.rangesDir("", cfg)
	if err != nil {
		return nil, err
	}
	return pipeline.LoadExclusions(cfg, dir)
}
