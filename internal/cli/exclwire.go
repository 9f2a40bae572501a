package cli

import (
	"path/filepath"

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

// rangesDir is where `exclusions update` writes the refreshed ranges:
// dir, else ranges/ beside the state database. The same function as on
// the exclusions branch; one copy goes at merge.
func (g *Globals) rangesDir(dir string, cfg *config.Config) (string, error) {
	if dir != "" {
		return dir, nil
	}
	p, err := g.statePath(cfg)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), "ranges"), nil
}
