// Package lab emulates, on loopback, the services a sweep talks to: the
// Shodan REST API, Microsoft Entra ID's token endpoints, and the two
// advanced hunting APIs (Microsoft Graph runHuntingQuery and Defender for
// Endpoint advancedqueries). It follows ../../shared/docs/api-contracts.md,
// quirks included. Every test in the project that needs a service uses it;
// so do the `lab` and `demo` commands.
//
// All services share one HTTPS listener; their paths do not collide:
//
//	/api-info, /shodan/...            Shodan
//	/v1.0/security/runHuntingQuery    Microsoft Graph
//	/api/advancedqueries/run,
//	/api/advancedhunting/run          Defender for Endpoint / Microsoft 365 Defender
//	/{tenant}/...                     Entra ID (everything else)
//
// The hunting APIs answer from the world's telemetry through a documented
// matcher, not a KQL engine: the table, the time window, the quoted IP
// literals and a few operators (see hunting_query.go); anything else is a
// 400 that says so.
package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configures a lab.
type Options struct {
	Listen string      // default 127.0.0.1:0
	World  WorldConfig // the deterministic world to serve
	Faults Faults
	// TokenLifetime is how long issued access tokens live (default 1h, as
	// Entra's 3599 s). Shorten it to test renewal.
	TokenLifetime time.Duration
	// Now is the lab's clock (default time.Now).
	Now func() time.Time
	// Log receives one line a request (default: discard).
	Log *slog.Logger
	// ShodanCredits is the query credit balance (default 100000).
	ShodanCredits int
	// ShodanRate is the minimum gap between two requests of one key
	// (default 1s, Shodan's limit). Tests may shorten it.
	ShodanRate time.Duration
	// HuntingPerMinute is the hunting APIs' call limit (default 45).
	HuntingPerMinute int
}

// Credentials are the secrets and identifiers the lab accepts.
type Credentials struct {
	ShodanKey    string
	TenantID     string
	ClientID     string
	ClientSecret string
	// CertClientID is an app registered with a certificate instead of a
	// secret; CertFile holds its PEM certificate and private key.
	CertClientID string
	CertFile     string
}

// Lab is a running lab. Close stops it.
type Lab struct {
	opts  Options
	URL   string // https://127.0.0.1:PORT, the root of every service
	Creds Credentials
	World *World
	// CAFile is a PEM file with the lab's CA certificate (for SSL_CERT_FILE,
	// REQUESTS_CA_BUNDLE); CAPool holds the same for in-process clients.
	CAFile string
	CAPool *x509.CertPool

	dir    string
	ca     *authority
	srv    *http.Server
	ln     net.Listener
	shodan *shodanService
	entra  *entraService
	hunt   *huntingService
	faults *faulter

	closeOnce sync.Once
	mu        sync.Mutex
	calls     map[string]int // per service, for tests and benchmarks
}

// Start builds the world and serves it until ctx ends or Close is called.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.ShodanCredits == 0 {
		opts.ShodanCredits = 100000
	}
	if opts.ShodanRate == 0 {
		opts.ShodanRate = time.Second
	}
	if opts.HuntingPerMinute == 0 {
		opts.HuntingPerMinute = 45
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("lab: listen address %q: %w", opts.Listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("lab: listen address %q is not loopback; the lab serves loopback only", opts.Listen)
	}
	dir, err := os.MkdirTemp("", "c2sweep-lab-")
	if err != nil {
		return nil, err
	}
	l := &Lab{opts: opts, dir: dir, calls: map[string]int{}, faults: &faulter{Faults: opts.Faults, seed: opts.World.Seed}}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if l.ca, err = newAuthority(); err != nil {
		return nil, err
	}
	if l.CAFile, err = l.ca.writeCA(dir); err != nil {
		return nil, err
	}
	l.CAPool = x509.NewCertPool()
	l.CAPool.AddCert(l.ca.cert)
	l.Creds = newCredentials(opts.World.Seed)
	if opts.World.Now.IsZero() {
		opts.World.Now = opts.Now()
	}
	l.World = NewWorld(opts.World)
	if err := l.setup(); err != nil {
		return nil, err
	}
	cert, err := l.ca.serverCert()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("lab: %w\nhint: another program holds %s; choose another port (--listen 127.0.0.1:PORT, or port 0 for any free one)", err, opts.Listen)
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	l.ln = ln
	l.URL = "https://" + ln.Addr().String()
	l.srv = &http.Server{
		Handler:           l.logged(http.HandlerFunc(l.route)),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelDebug),
	}
	go l.srv.ServeTLS(ln, "", "")
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	ok = true
	return l, nil
}

// setup builds the services over the world.
func (l *Lab) setup() error {
	var err error
	if l.shodan, err = newShodanService(l); err != nil {
		return err
	}
	if l.entra, err = newEntraService(l); err != nil {
		return err
	}
	if l.hunt, err = newHuntingService(l); err != nil {
		return err
	}
	return nil
}

// Close stops the server at once (open keep-alive connections would make
// a graceful shutdown wait) and removes the lab's files.
func (l *Lab) Close() error {
	var err error
	l.closeOnce.Do(func() {
		if l.srv != nil {
			err = l.srv.Close()
		}
		os.RemoveAll(l.dir)
	})
	return err
}

// Dir is a private directory that lives as long as the lab.
func (l *Lab) Dir() string { return l.dir }

// HTTPClient returns a client that trusts the lab's CA.
func (l *Lab) HTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: l.CAPool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}
}

// Env returns the variables that point c2sweep (and other clients) at the lab.
func (l *Lab) Env() map[string]string {
	return map[string]string{
		"SHODAN_API_KEY":       l.Creds.ShodanKey,
		"SHODAN_API_URL":       l.URL,
		"AZURE_TENANT_ID":      l.Creds.TenantID,
		"AZURE_CLIENT_ID":      l.Creds.ClientID,
		"AZURE_CLIENT_SECRET":  l.Creds.ClientSecret,
		"AZURE_AUTHORITY_HOST": l.URL + "/",
		"SSL_CERT_FILE":        l.CAFile,
		"C2SWEEP_API_URL":      l.URL,
	}
}

// WriteEnv writes Env as shell `export KEY='VALUE'` lines, readable by the
// owner only since it holds secrets.
func (l *Lab) WriteEnv(path string) error {
	env := l.Env()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# c2sweep lab: source this file (. FILE) to point c2sweep at the lab.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// Calls reports how many requests each service ("shodan", "entra",
// "graph", "mde") has answered.
func (l *Lab) Calls() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.calls))
	for k, v := range l.calls {
		out[k] = v
	}
	return out
}

func (l *Lab) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	svc := "entra"
	var h http.Handler = l.entra
	switch {
	case p == "/api-info" || strings.HasPrefix(p, "/shodan/") || strings.HasPrefix(p, "/account/"):
		svc, h = "shodan", l.shodan
	case strings.HasPrefix(p, "/v1.0/"):
		svc, h = "graph", l.hunt
	case strings.HasPrefix(p, "/api/"):
		svc, h = "mde", l.hunt
	}
	l.mu.Lock()
	l.calls[svc]++
	l.mu.Unlock()
	if l.faults.apply(w, r, svc) {
		return
	}
	h.ServeHTTP(l.faults.writer(w, r, svc), r)
}

// logged logs one line a request, with the Shodan key redacted.
func (l *Lab) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: 200}
		var status any = "dropped" // until ServeHTTP returns: a drop fault panics
		defer func() {
			q := r.URL.Query()
			if q.Has("key") {
				q.Set("key", "REDACTED")
			}
			target := r.URL.Path
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			l.opts.Log.Info("request", "method", r.Method, "target", target, "status", status,
				"bytes", rw.bytes, "ms", time.Since(start).Milliseconds())
		}()
		next.ServeHTTP(rw, r)
		status = rw.status
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
