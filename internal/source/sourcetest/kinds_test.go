package sourcetest

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/feedlab"
	"c2sweep/internal/shodan"
	"c2sweep/internal/source"
	"c2sweep/internal/source/feed"
	_ "c2sweep/internal/source/feodo"
	_ "c2sweep/internal/source/shodan"
	_ "c2sweep/internal/source/shodanfile"
	"c2sweep/internal/source/threatfox"
)

// Cases are every kind's run of the suite. The shodan kind runs the
// collection part (its client has its own retry and pace, tested in
// internal/shodan and the pipeline).
func Cases() []Case {
	abuseKey := func(e *Env) []string { return []string{e.Lab.Creds.AbuseCHKey} }
	unreachable := "https://127.0.0.1:1/"
	feedURL := func(e *Env, name string) string { return e.Lab.URL + lab.FeedsPath + name }
	shodanQuery := `product:"Cobalt Strike Beacon"`
	return []Case{
		{
			Kind: "shodan",
			Settings: func(e *Env) source.Settings {
				return source.Settings{AuthKey: e.Lab.Creds.ShodanKey, URL: e.Lab.URL}
			},
			Hunt: func(*Env) source.Hunt { return source.Hunt{Name: "CobaltStrikeProductName", Query: shodanQuery} },
			Want: func(e *Env) []netip.Addr {
				bs, err := e.Lab.World.Search(shodanQuery)
				if err != nil {
					panic(err)
				}
				var out []netip.Addr
				for _, b := range bs {
					if ip, err := indicator.ParseIP(b.IPStr); err == nil {
						out = append(out, ip)
					}
				}
				return out
			},
			Requests: 1, // one page
			Secrets:  func(e *Env) []string { return []string{e.Lab.Creds.ShodanKey} },
		},
		{
			Kind: threatfox.Name,
			Settings: func(e *Env) source.Settings {
				return source.Settings{AuthKey: e.Lab.Creds.AbuseCHKey, URL: e.Lab.URL + lab.ThreatFoxPath}
			},
			Hunt: func(*Env) source.Hunt { return source.Hunt{Name: "ThreatFoxC2", Days: 7} },
			Want: func(e *Env) []netip.Addr {
				var out []netip.Addr
				for _, ioc := range e.Lab.World.Intel.ThreatFox {
					if ioc.Server != nil {
						out = append(out, ioc.Server.IP.Unmap())
					}
				}
				return out
			},
			Skipped:  []string{source.SkipInvalidIP, source.SkipNotIP},
			Requests: 1,
			Service:  "threatfox",
			Broken: func(e *Env) (source.Settings, source.Hunt) {
				return source.Settings{AuthKey: e.Lab.Creds.AbuseCHKey, URL: unreachable}, source.Hunt{Name: "Down", Days: 3}
			},
			Secrets: abuseKey,
		},
		{
			Kind: "feodo",
			Settings: func(e *Env) source.Settings {
				// The key is sent though the download needs none: it must
				// stay out of errors all the same.
				return source.Settings{AuthKey: e.Lab.Creds.AbuseCHKey, URL: e.Lab.URL + lab.FeodoPath}
			},
			Hunt: func(*Env) source.Hunt { return source.Hunt{Name: "Feodo"} },
			Want: func(e *Env) []netip.Addr {
				var out []netip.Addr
				for _, f := range e.Lab.World.Intel.Feodo {
					if f.Server != nil {
						out = append(out, f.Server.IP.Unmap())
					}
				}
				return out
			},
			Skipped:  []string{source.SkipInvalidIP},
			Requests: 1,
			Service:  "feodo",
			Broken: func(e *Env) (source.Settings, source.Hunt) {
				return source.Settings{AuthKey: e.Lab.Creds.AbuseCHKey, URL: unreachable}, source.Hunt{Name: "Down"}
			},
			Old: func(e *Env) []netip.Addr {
				var out []netip.Addr
				for _, f := range e.Lab.World.Intel.Feodo {
					if f.Server != nil && f.Server.Stale {
						out = append(out, f.Server.IP.Unmap())
					}
				}
				return out
			},
			Secrets: abuseKey,
		},
		feedCase(func(e *Env) source.Hunt {
			return source.Hunt{Name: "TextFeed", URL: feedURL(e, feedlab.TextFeed), MaxAge: 7 * 24 * time.Hour}
		}, func(e *Env) []netip.Addr { return e.Lab.World.Intel.TextFeedIPs }),
		feedCase(func(e *Env) source.Hunt {
			return source.Hunt{Name: "CSVFeed", URL: feedURL(e, feedlab.CSVFeed), Column: "ip", LabelColumn: "ioc", MaxAge: 7 * 24 * time.Hour}
		}, func(e *Env) []netip.Addr { return e.Lab.World.Intel.CSVFeedIPs }),
		{
			Kind:     feed.Name,
			Settings: func(*Env) source.Settings { return source.Settings{} },
			Hunt: func(e *Env) source.Hunt {
				p := filepath.Join(e.Dir, "c2.txt")
				if err := os.WriteFile(p, e.Lab.World.Intel.TextFeed, 0o600); err != nil {
					panic(err)
				}
				mod := e.Lab.World.Intel.FeedModified
				if err := os.Chtimes(p, mod, mod); err != nil {
					panic(err)
				}
				return source.Hunt{Name: "LocalFeed", Path: p, MaxAge: 7 * 24 * time.Hour}
			},
			Want:     func(e *Env) []netip.Addr { return e.Lab.World.Intel.TextFeedIPs },
			Skipped:  []string{source.SkipInvalidIP},
			Requests: 1,
			Stale: func(e *Env) source.Hunt {
				p := filepath.Join(e.Dir, "frozen.txt")
				if err := os.WriteFile(p, e.Lab.World.Intel.StaleFeed, 0o600); err != nil {
					panic(err)
				}
				old := e.Lab.World.Intel.StaleFeedModified
				if err := os.Chtimes(p, old, old); err != nil {
					panic(err)
				}
				return source.Hunt{Name: "FrozenLocal", Path: p, MaxAge: 7 * 24 * time.Hour}
			},
		},
		{
			Kind:     "shodan-file",
			Settings: func(*Env) source.Settings { return source.Settings{} },
			Hunt: func(e *Env) source.Hunt {
				p := filepath.Join(e.Dir, "download.json.gz")
				if err := os.WriteFile(p, e.Lab.World.BannerFile(), 0o600); err != nil {
					panic(err)
				}
				return source.Hunt{Name: "Downloaded", Path: filepath.Join(e.Dir, "*.json.gz")}
			},
			Want: func(e *Env) []netip.Addr {
				var out []netip.Addr
				for _, s := range e.Lab.World.Intel.BannerServers {
					out = append(out, s.IP.Unmap())
				}
				return out
			},
			Skipped:  []string{shodan.SkipInvalidIP},
			Requests: 1,
		},
	}
}

func feedCase(hunt func(*Env) source.Hunt, want func(*Env) []netip.Addr) Case {
	return Case{
		Kind:     feed.Name,
		Settings: func(*Env) source.Settings { return source.Settings{} },
		Hunt:     hunt,
		Want:     want,
		Skipped:  []string{source.SkipInvalidIP},
		Requests: 1,
		Service:  "feed",
		Broken: func(e *Env) (source.Settings, source.Hunt) {
			return source.Settings{}, source.Hunt{Name: "Down", URL: "https://127.0.0.1:1/c2.txt"}
		},
		Stale: func(e *Env) source.Hunt {
			return source.Hunt{Name: "Frozen", URL: e.Lab.URL + lab.FeedsPath + feedlab.StaleFeed, MaxAge: 7 * 24 * time.Hour}
		},
	}
}

func TestSources(t *testing.T) {
	for _, c := range Cases() {
		name := c.Kind
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			Run(t, c)
		})
	}
}
