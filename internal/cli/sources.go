package cli

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"c2sweep/internal/config"
	"c2sweep/internal/source"
	_ "c2sweep/internal/source/all" // every kind in the registry
)

// newSources sets up, through the registry, one source for each kind the
// hunts use, with its keys and endpoint from cfg. Only those kinds' keys
// are read: a config of free sources needs no Shodan key at all.
func (g *Globals) newSources(ctx context.Context, cfg *config.Config, hunts []config.Hunt, httpClient *http.Client) (map[string]source.Source, error) {
	out := map[string]source.Source{}
	for _, h := range hunts {
		if _, ok := out[h.Source]; ok {
			continue
		}
		k, err := source.Lookup(h.Source)
		if err != nil {
			return nil, err
		}
		st := source.Settings{HTTPClient: httpClient, Log: g.log, CacheDir: g.sourceCache(cfg)}
		var key config.Secret
		switch h.Source {
		case config.DefaultSource:
			k, err := shodanKey(ctx, cfg)
			if err != nil {
				if slices.ContainsFunc(hunts, func(h config.Hunt) bool { return h.Source != config.DefaultSource }) {
					// The built-in hunts are Shodan searches: a config of free
					// sources must say it wants only its own hunts.
					err = &hinted{err: err, hint: "set SHODAN_API_KEY, or add 'builtin_hunts: false' to the config to run only its own (free) hunts"}
				}
				return nil, err
			}
			st.AuthKey, st.URL = k, cfg.Shodan.APIURL
		case "threatfox":
			key, st.URL = cfg.Sources.ThreatFox.AuthKey, cfg.Sources.ThreatFox.APIURL
		case "feodo":
			key, st.URL = cfg.Sources.Feodo.AuthKey, cfg.Sources.Feodo.URL
		}
		if key.IsSet() {
			if st.AuthKey, err = key.Reveal(ctx); err != nil {
				return nil, withHint(fmt.Errorf("%s auth key: %w", h.Source, err), "set ABUSECH_AUTH_KEY, or sources."+h.Source+".auth_key in the config")
			}
		}
		s, err := k.New(st)
		if err != nil {
			if !strings.HasPrefix(err.Error(), h.Source) {
				err = fmt.Errorf("%s: %w", h.Source, err)
			}
			if (h.Source == "threatfox" || h.Source == "feodo") && !key.IsSet() {
				// Name only the credential the enabled hunts need.
				err = withHint(err, "set ABUSECH_AUTH_KEY, or sources."+h.Source+".auth_key in the config (hunt "+h.Name+")")
			}
			return nil, err
		}
		out[h.Source] = s
	}
	return out, nil
}

// sourceCache is where downloaded feeds are kept for conditional GET: the
// state directory's sources/ ("" when there is no state path: fetch in full).
func (g *Globals) sourceCache(cfg *config.Config) string {
	p, err := g.statePath(cfg)
	if err != nil || p == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(p), "sources")
}
