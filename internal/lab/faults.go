package lab

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are failures the lab injects on demand. The zero value injects none.
// As a --faults SPEC they are comma-separated key=value pairs; FaultKeys
// lists the keys and FaultHelp documents them.
type Faults struct {
	Rate5xx      float64
	Latency      time.Duration
	DropRate     float64
	TokenExpiry  time.Duration
	Error200Rate float64
	TooLarge     int
	Only         string
}

// FaultKey is one key of a --faults SPEC. FaultKeys is the one list of
// them: the parser, its errors and `c2sweep lab --help` all read it.
type FaultKey struct {
	Key  string // e.g. "5xx"
	Arg  string // its value, e.g. "P" (a fraction), "D" (a duration)
	Help string
	set  func(f *Faults, v string) error
}

// FaultKeys are the keys of a --faults SPEC, in the order help shows them.
var FaultKeys = []FaultKey{
	{"5xx", "P", "answer a fraction P of requests with 502/503",
		func(f *Faults, v string) (err error) { f.Rate5xx, err = parseRate(v); return }},
	{"latency", "D", "delay every request by D",
		func(f *Faults, v string) (err error) { f.Latency, err = parseDuration(v); return }},
	{"drop", "P", "close the connection without answering for a fraction P",
		func(f *Faults, v string) (err error) { f.DropRate, err = parseRate(v); return }},
	{"expire", "D", "issue tokens that expire after D (early expiry)",
		func(f *Faults, v string) (err error) { f.TokenExpiry, err = parseDuration(v); return }},
	{"error200", "P", `Shodan: answer a fraction P of searches with status 200 and a JSON "error" body`,
		func(f *Faults, v string) (err error) { f.Error200Rate, err = parseRate(v); return }},
	{"toolarge", "N", "hunting: reject queries longer than N bytes as over limits",
		func(f *Faults, v string) (err error) {
			if f.TooLarge, err = strconv.Atoi(v); err == nil && f.TooLarge < 1 {
				err = fmt.Errorf("%q is not a query length in bytes (1 or more)", v)
			}
			return
		}},
	{"only", "S", "restrict 5xx, drop and latency to one service (shodan, entra, graph, mde)",
		func(f *Faults, v string) error {
			switch v {
			case "shodan", "entra", "graph", "mde":
				f.Only = v
				return nil
			}
			return fmt.Errorf("unknown service %q (shodan, entra, graph, mde)", v)
		}},
}

// FaultHelp documents every key of FaultKeys, one per line.
func FaultHelp() string {
	var b strings.Builder
	for _, k := range FaultKeys {
		fmt.Fprintf(&b, "  %-12s %s\n", k.Key+"="+k.Arg, k.Help)
	}
	return strings.TrimRight(b.String(), "\n")
}

func faultKeyNames() string {
	names := make([]string, len(FaultKeys))
	for i, k := range FaultKeys {
		names[i] = k.Key
	}
	return strings.Join(names, ", ")
}

// faulter draws the lab's faults from the world's seed, so runs repeat.
type faulter struct {
	Faults
	seed int64
	mu   sync.Mutex
	rng  *rand.Rand
}

// ParseFaults reads a --faults SPEC.
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return f, fmt.Errorf("fault %q: want key=value", part)
		}
		i := slices.IndexFunc(FaultKeys, func(fk FaultKey) bool { return fk.Key == k })
		if i < 0 {
			return f, fmt.Errorf("unknown fault %q (%s)", k, faultKeyNames())
		}
		if err := FaultKeys[i].set(&f, v); err != nil {
			return f, fmt.Errorf("fault %s: %w", k, err)
		}
	}
	return f, nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 200ms or 30s", v)
	}
	return d, nil
}

func parseRate(v string) (float64, error) {
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || p < 0 || p > 1 {
		return 0, fmt.Errorf("%q is not a fraction between 0 and 1", v)
	}
	return p, nil
}

// chance reports true with probability p.
func (f *faulter) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng == nil {
		// ChaCha8 keyed by a hash of the seed: PCG with small seeds starts
		// with long runs (the first dozen draws at 0.2 all missed, so
		// `demo --faults 5xx=0.2` injected nothing).
		f.rng = rand.New(rand.NewChaCha8(sha256.Sum256(fmt.Appendf(nil, "c2sweep lab faults %d", f.seed))))
	}
	return f.rng.Float64() < p
}

// apply injects the transport-level faults; it reports whether it answered.
func (f *faulter) apply(w http.ResponseWriter, r *http.Request, svc string) bool {
	if f.Only != "" && f.Only != svc {
		return false
	}
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return true
		}
	}
	if f.chance(f.DropRate) {
		// Aborting the handler closes the connection (HTTP/1.1) or resets
		// the stream (HTTP/2) without an answer.
		panic(http.ErrAbortHandler)
	}
	if f.chance(f.Rate5xx) {
		code := http.StatusBadGateway
		if f.chance(0.5) {
			code = http.StatusServiceUnavailable
		}
		nginxError(w, code) // the gateway's page, whatever the service
		return true
	}
	return false
}
