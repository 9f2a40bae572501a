package lab

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
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
	HangRate     float64
	Trickle      time.Duration
	Huge         int64
	CPUQuotaRate float64
	EchoRate     float64
	// ShodanTotal, when set, replaces the total of every search answer.
	ShodanTotal *int
	ShodanLoop  bool
	// CDNEmpty names the CDN range list served emptied ("all": every one).
	CDNEmpty string
	Only     string
}

// CPUQuotaMessage is the refusal of the cpuquota fault: the services'
// over-limits text, saying it is the tenant's CPU quota that is spent.
const CPUQuotaMessage = "Query execution has exceeded the allowed limits. The tenant has exceeded its CPU quota for the current cycle. Please try again later."

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
	{"hang", "P", "never answer a fraction P of requests (until the client gives up or the lab stops)",
		func(f *Faults, v string) (err error) { f.HangRate, err = parseRate(v); return }},
	{"trickle", "D", "write every answer one byte at a time, D apart",
		func(f *Faults, v string) (err error) { f.Trickle, err = parseDuration(v); return }},
	{"huge", "SIZE", "answer every request with status 200 and a JSON body of SIZE bytes (e.g. 1g, 64m, 512k) of hunting-style rows, never held in memory",
		func(f *Faults, v string) (err error) { f.Huge, err = parseSize(v); return }},
	{"cpuquota", "P", `hunting: refuse a fraction P of queries with the services' 400 "exceeded the allowed limits" envelope, saying the tenant is over its CPU quota`,
		func(f *Faults, v string) (err error) { f.CPUQuotaRate, err = parseRate(v); return }},
	{"echo", "P", "answer a fraction P of requests with 400 and a plain-text body echoing the request line and headers, Authorization included (a broken proxy)",
		func(f *Faults, v string) (err error) { f.EchoRate, err = parseRate(v); return }},
	{"total", "N", "Shodan: searches report N as their total (a lie: N may be negative or far more than there is)",
		func(f *Faults, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not a whole number", v)
			}
			f.ShodanTotal = &n
			return nil
		}},
	{"loop", "BOOL", "Shodan: every search page is answered as page 1, so pages never run out",
		func(f *Faults, v string) (err error) {
			if f.ShodanLoop, err = strconv.ParseBool(v); err != nil {
				err = fmt.Errorf("%q is not true or false", v)
			}
			return
		}},
	{"cdnempty", "LIST", "CDN ranges: serve LIST (cloudflare, fastly, amazon-cloudfront, akamai, azure-frontdoor, google-services, or all) with no prefixes, in its usual format",
		func(f *Faults, v string) error {
			switch v {
			case "all", "cloudflare", "fastly", "amazon-cloudfront", "akamai", "azure-frontdoor", "google-services":
				f.CDNEmpty = v
				return nil
			}
			return fmt.Errorf("unknown CDN list %q (cloudflare, fastly, amazon-cloudfront, akamai, azure-frontdoor, google-services, all)", v)
		}},
	{"only", "S", "restrict 5xx, drop, latency, hang, trickle, huge, cpuquota and echo to one service (shodan, entra, graph, mde, threatfox, feodo, feed)",
		func(f *Faults, v string) error {
			switch v {
			case "shodan", "entra", "graph", "mde", "threatfox", "feodo", "feed":
				f.Only = v
				return nil
			}
			return fmt.Errorf("unknown service %q (shodan, entra, graph, mde, threatfox, feodo, feed)", v)
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

// parseSize reads a byte count with an optional k, m or g (binary) suffix.
func parseSize(v string) (int64, error) {
	mult := int64(1)
	num := strings.ToLower(strings.TrimSpace(v))
	switch {
	case strings.HasSuffix(num, "k"):
		mult, num = 1<<10, strings.TrimSuffix(num, "k")
	case strings.HasSuffix(num, "m"):
		mult, num = 1<<20, strings.TrimSuffix(num, "m")
	case strings.HasSuffix(num, "g"):
		mult, num = 1<<30, strings.TrimSuffix(num, "g")
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > 1<<40/mult {
		return 0, fmt.Errorf("%q is not a size such as 512k, 64m or 1g", v)
	}
	return n * mult, nil
}

func parseRate(v string) (float64, error) {
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || !(p >= 0 && p <= 1) { // NaN too
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

// apply injects the transport-level faults; it reports whether it
// answered. It may also wrap w (trickle, Shodan's total) for the service
// to answer through; the caller then uses the returned writer and r.
func (f *faulter) apply(w http.ResponseWriter, r *http.Request, svc string) bool {
	if svc == "shodan" && r.URL.Path == "/shodan/host/search" {
		f.shodanLies(r)
	}
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
	if f.chance(f.HangRate) {
		// Read the request first: an HTTP/1.1 server notices a client
		// that gave up only once the body is read.
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		<-r.Context().Done() // the client gave up, or the lab stopped
		return true
	}
	if f.chance(f.Rate5xx) {
		code := http.StatusBadGateway
		if f.chance(0.5) {
			code = http.StatusServiceUnavailable
		}
		nginxError(w, code) // the gateway's page, whatever the service
		return true
	}
	if f.Huge > 0 {
		writeHuge(w, r, f.Huge)
		return true
	}
	if f.chance(f.EchoRate) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "400 bad request\n%s %s %s\n", r.Method, r.URL.RequestURI(), r.Proto)
		r.Header.Write(w)
		return true
	}
	if (svc == "graph" || svc == "mde") && r.Method == http.MethodPost && f.chance(f.CPUQuotaRate) {
		overQuota(w, svc)
		return true
	}
	return false
}

// writer wraps w for the faults that change how or what a service writes.
func (f *faulter) writer(w http.ResponseWriter, r *http.Request, svc string) http.ResponseWriter {
	if svc == "shodan" && r.URL.Path == "/shodan/host/search" && f.ShodanTotal != nil {
		w = &totalWriter{ResponseWriter: w, total: *f.ShodanTotal}
	}
	if f.Trickle > 0 && (f.Only == "" || f.Only == svc) {
		w = &trickleWriter{ResponseWriter: w, every: f.Trickle, done: r.Context().Done()}
	}
	return w
}

// shodanLies makes every search page page 1 under loop=1.
func (f *faulter) shodanLies(r *http.Request) {
	if !f.ShodanLoop {
		return
	}
	q := r.URL.Query()
	q.Del("page")
	r.URL.RawQuery = q.Encode()
}

// writeHuge answers with a body of size bytes of hunting-style rows,
// from one small buffer: the lab never holds the body.
func writeHuge(w http.ResponseWriter, r *http.Request, size int64) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	head := []byte(`{"schema":[{"name":"Pad","type":"String"}],"results":[`)
	row := []byte(`{"Pad":"` + strings.Repeat("x", 1000) + `"},`)
	buf := make([]byte, 0, 64<<10)
	for len(buf)+len(row) <= cap(buf) {
		buf = append(buf, row...)
	}
	left := size
	put := func(b []byte) bool {
		b = b[:min(int64(len(b)), left)]
		n, err := w.Write(b)
		left -= int64(n)
		return err == nil && r.Context().Err() == nil
	}
	if !put(head) {
		return
	}
	for left > 0 && put(buf) {
	}
}

// overQuota answers as Graph or MDE do when the tenant's CPU is spent.
func overQuota(w http.ResponseWriter, svc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	id := RandomGUID()
	if svc == "graph" {
		fmt.Fprintf(w, `{"error":{"code":"BadRequest","message":%q,"innerError":{"date":%q,"request-id":%q,"client-request-id":%q}}}`,
			CPUQuotaMessage, time.Now().UTC().Format("2006-01-02T15:04:05"), id, id)
		return
	}
	fmt.Fprintf(w, `{"error":{"code":"BadRequest","message":%q,"target":%q}}`, CPUQuotaMessage, id)
}

// trickleWriter sends what it is given one byte at a time.
type trickleWriter struct {
	http.ResponseWriter
	every time.Duration
	done  <-chan struct{}
}

func (t *trickleWriter) Write(p []byte) (int, error) {
	rc := http.NewResponseController(t.ResponseWriter)
	for i := range p {
		select {
		case <-time.After(t.every):
		case <-t.done:
			return i, http.ErrHandlerTimeout
		}
		if _, err := t.ResponseWriter.Write(p[i : i+1]); err != nil {
			return i, err
		}
		rc.Flush()
	}
	return len(p), nil
}

func (t *trickleWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// totalWriter replaces the total of a Shodan search answer.
type totalWriter struct {
	http.ResponseWriter
	total int
}

var shodanTotal = regexp.MustCompile(`"total":\s*-?\d+`)

// WriteHeader drops the length: the lie may be longer than the truth.
func (t *totalWriter) WriteHeader(status int) {
	t.Header().Del("Content-Length")
	t.ResponseWriter.WriteHeader(status)
}

// Write replaces the last "total" of the answer (the envelope's: the
// banners come before it); the answer is written in one piece.
func (t *totalWriter) Write(p []byte) (int, error) {
	q := p
	if m := shodanTotal.FindAllIndex(p, -1); len(m) > 0 {
		last := m[len(m)-1]
		q = slices.Concat(p[:last[0]], fmt.Appendf(nil, `"total": %d`, t.total), p[last[1]:])
	}
	if _, err := t.ResponseWriter.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (t *totalWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
