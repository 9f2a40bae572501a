package lab

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are failures the lab injects on demand. The zero value injects none.
//
// As a --faults SPEC they are comma-separated key=value pairs, e.g.
// "5xx=0.1,latency=200ms,drop=0.05,expire=30s,error200=0.1,toolarge=5000":
//
//	5xx=P        answer a fraction P of requests with 502/503
//	latency=D    delay every request by D
//	drop=P       close the connection without answering for a fraction P
//	expire=D     issue tokens that expire after D (early expiry)
//	error200=P   Shodan: answer a fraction P of searches with status 200
//	             and a JSON "error" body
//	toolarge=N   hunting: reject queries longer than N bytes as over limits
//	only=S       restrict 5xx, drop and latency to one service
//	             (shodan, entra, graph, mde)
type Faults struct {
	Rate5xx      float64
	Latency      time.Duration
	DropRate     float64
	TokenExpiry  time.Duration
	Error200Rate float64
	TooLarge     int
	Only         string
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
		var err error
		switch k {
		case "5xx":
			f.Rate5xx, err = parseRate(v)
		case "latency":
			f.Latency, err = parseDuration(v)
		case "drop":
			f.DropRate, err = parseRate(v)
		case "expire":
			f.TokenExpiry, err = parseDuration(v)
		case "error200":
			f.Error200Rate, err = parseRate(v)
		case "toolarge":
			if f.TooLarge, err = strconv.Atoi(v); err == nil && f.TooLarge < 1 {
				err = fmt.Errorf("%q is not a query length in bytes (1 or more)", v)
			}
		case "only":
			switch v {
			case "shodan", "entra", "graph", "mde":
				f.Only = v
			default:
				err = fmt.Errorf("unknown service %q (shodan, entra, graph, mde)", v)
			}
		default:
			return f, fmt.Errorf("unknown fault %q (5xx, latency, drop, expire, error200, toolarge, only)", k)
		}
		if err != nil {
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
