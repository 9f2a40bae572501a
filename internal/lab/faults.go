package lab

import (
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

// faulter draws the lab's faults from a fixed seed, so runs repeat.
type faulter struct {
	Faults
	mu  sync.Mutex
	rng *rand.Rand
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
			f.Latency, err = time.ParseDuration(v)
		case "drop":
			f.DropRate, err = parseRate(v)
		case "expire":
			f.TokenExpiry, err = time.ParseDuration(v)
		case "error200":
			f.Error200Rate, err = parseRate(v)
		case "toolarge":
			f.TooLarge, err = strconv.Atoi(v)
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
		f.rng = rand.New(rand.NewPCG(1, 2))
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
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	}
	if f.chance(f.Rate5xx) {
		code := http.StatusBadGateway
		if f.chance(0.5) {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
			code, http.StatusText(code), code, http.StatusText(code))
		return true
	}
	return false
}
