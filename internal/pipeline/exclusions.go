package pipeline

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/exclude"
)

// Exclusions are the IPs a run never sweeps: the CDN ranges of the
// current snapshot (unless the config turns them off) and the config's
// own exclude: list. A nil *Exclusions excludes nothing.
type Exclusions struct {
	set  *exclude.Set
	snap *exclude.Snapshot // nil: CDN ranges not used
}

// LoadExclusions builds the exclusions of cfg: the snapshot that
// `c2sweep exclusions update` wrote to dir when there is one, else the
// embedded one. `run`, `collect` and `serve` all build them here.
func LoadExclusions(cfg *config.Config, dir string) (*Exclusions, error) {
	user, err := exclude.ParseUser(cfg.Exclude)
	if err != nil {
		return nil, err // config.Load has said where; this is a config built in code
	}
	e := &Exclusions{}
	var lists []*exclude.List
	if cfg.Exclusions.CDN {
		snap, err := exclude.Current(dir)
		if err != nil {
			return nil, err
		}
		lists, e.snap = snap.Lists, snap
	}
	e.set = exclude.NewSet(lists, user)
	return e, nil
}

// stale is the snapshot's age warning at now, said once per run; nil when
// the snapshot is fresh or CDN ranges are not used.
func (e *Exclusions) stale(now time.Time) *exclude.StaleWarning {
	if e == nil || e.snap == nil {
		return nil
	}
	return e.snap.Stale(now)
}

// Reasons an indicator is excluded, as summary.json and /metrics name them.
const (
	ExcludedCDN    = "cdn"
	ExcludedConfig = "config"
)

// lookup returns why ip is excluded ("" when it is not) and the name of
// the range's list.
func (e *Exclusions) lookup(ip netip.Addr) (reason, list string) {
	if e == nil || e.set == nil {
		return "", ""
	}
	r := e.set.Lookup(ip)
	if r == nil {
		return "", ""
	}
	if r.Operator == exclude.UserOperator {
		return ExcludedConfig, r.Name
	}
	return ExcludedCDN, r.Name
}

// Excluded counts the indicators dropped by the exclusions, by reason and
// by the range list that held them.
type Excluded struct {
	CDN    int            `json:"cdn"`
	Config int            `json:"config"`
	Lists  map[string]int `json:"cdn_lists,omitempty"` // by CDN list: "cloudflare": 3
}

func (x *Excluded) add(reason, list string) {
	switch reason {
	case ExcludedCDN:
		x.CDN++
	case ExcludedConfig:
		x.Config++
	}
	if reason != ExcludedCDN {
		return
	}
	if x.Lists == nil {
		x.Lists = map[string]int{}
	}
	x.Lists[list]++
}

// Total is how many indicators were excluded.
func (x Excluded) Total() int { return x.CDN + x.Config }

// describe says what was excluded: "3 in CDN ranges (cloudflare 2,
// fastly 1), 1 in the config's exclude list".
func (x Excluded) describe() string {
	var parts []string
	if x.CDN > 0 {
		parts = append(parts, fmt.Sprintf("%d in CDN ranges%s", x.CDN, skipReasons(x.Lists)))
	}
	if x.Config > 0 {
		parts = append(parts, fmt.Sprintf("%d in the config's exclude list", x.Config))
	}
	return strings.Join(parts, ", ")
}

// exclude counts ip as excluded for hunt, once per hunt and run; the
// totals count each address once.
func (r *run) exclude(hunt string, ip netip.Addr, reason, list string) {
	hs, ok := r.hunts[hunt]
	if !ok {
		return
	}
	if r.excluded == nil {
		r.excluded = map[string]map[netip.Addr]bool{}
	}
	if r.excluded[hunt][ip] {
		return
	}
	first := true
	for _, ips := range r.excluded {
		if ips[ip] {
			first = false
			break
		}
	}
	if r.excluded[hunt] == nil {
		r.excluded[hunt] = map[netip.Addr]bool{}
	}
	r.excluded[hunt][ip] = true
	hs.Excluded.add(reason, list)
	if first {
		r.s.Totals.Excluded.add(reason, list)
	}
}
