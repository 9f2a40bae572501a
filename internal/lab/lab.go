// Package lab is the shared core of the lab, which emulates on loopback the
// services a sweep talks to. It follows ../../shared/docs/api-contracts.md,
// quirks included. Every test in the project that needs a service uses the
// lab (through labtest.Start); so do the `lab` and `demo` commands (through
// emulator.Start).
//
// This package holds what the services share: Options, the Lab (one HTTPS
// listener on loopback, its throwaway CA, credentials, call counts), the
// deterministic World (Shodan's banners and the organisation's telemetry)
// and the Faults, applied to every service as middleware. Each emulated
// service is one package under internal/lab that imports this one:
//
//	shodanlab   /api-info, /account/..., /shodan/...      Shodan
//	entralab    /{tenant}/... (everything else)          Entra ID (and its
//	            /oidc/..., /msi/token                     workload and managed identity)
//	huntinglab  /v1.0/security/runHuntingQuery            Microsoft Graph
//	            /api/advancedqueries/run,
//	            /api/advancedhunting/run                  Defender for Endpoint / Microsoft 365 Defender
//
// The lab has Options.Tenants Entra ID tenants (Credentials.Tenants); the
// organisation's devices are split across them (World.TenantOf, ground
// truth World.TenantContacts) and each tenant's hunting answers only its
// devices' rows, with its own rate limit. The Log Analytics workspace is
// tenant 0's.
//
// Adding a service (ThreatFox, Feodo, a feed, Log Analytics, Defender
// indicators, ...) is one new package: a New(*lab.Lab) that returns a
// Service listing its Routes (paths that collide with no other service's),
// reading the World and Options it needs, plus one line in
// emulator.Services. The service's data, when it is part of the world,
// goes into World here so that every service serves the same world.
// Test-only code (the fake webhook receivers, the test helper) lives in
// labtest, which the shipped binary never imports.
package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
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
	// HuntingPerMinute is the hunting APIs' call limit per tenant
	// (default 45).
	HuntingPerMinute int
	// Tenants is the number of Entra ID tenants, each with its own app
	// and secret (default 1). The world's devices are split across them:
	// device i belongs to tenant i % Tenants (World.TenantOf).
	Tenants int
}

// Tenant is one Entra ID tenant of the lab and the app registered in it.
type Tenant struct {
	TenantID     string
	ClientID     string
	ClientSecret string
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
	// AbuseCHKey is the Auth-Key the abuse.ch services (ThreatFox) accept.
	AbuseCHKey string
	// Tenants are the lab's tenants (Options.Tenants of them); Tenants[0]
	// is TenantID, ClientID and ClientSecret above.
	Tenants []Tenant
	// IdentityHeader is the secret the managed identity endpoint
	// (ManagedIdentityPath, App Service's protocol) wants in
	// X-IDENTITY-HEADER; ManagedIdentityClientID is the client id of the
	// managed identity it signs in, in tenant 0.
	IdentityHeader          string
	ManagedIdentityClientID string
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

	dir      string
	ca       *authority
	srv      *http.Server
	ln       net.Listener
	services []Service
	routes   []Route
	faults   *faulter

	tenantIdx map[string]int // lower-case tenant id -> index in Creds.Tenants

	closeOnce sync.Once
	mu        sync.Mutex
	calls     map[string]int // per service, for tests and benchmarks
}

// Service is one emulated API on the lab's listener.
type Service interface {
	// Routes are the paths the service answers.
	Routes() []Route
}

// Route sends the requests for a path to a service.
type Route struct {
	// Path is an exact path, or a prefix when it ends in "/"; the exact
	// match, then the longest prefix wins, so "/" is the fallback.
	Path string
	// Name names the API in Calls and in the faults' only= key (shodan,
	// entra, graph, mde).
	Name    string
	Handler http.Handler
}

// Services builds the services over a lab that is starting: its Options
// (with defaults), World, Creds and Dir are ready; its URL is not yet.
type Services func(l *Lab) ([]Service, error)

// Start builds the world and the services and serves them until ctx ends
// or Close is called. Callers outside tests use emulator.Start, tests
// labtest.Start; both give every service.
func Start(ctx context.Context, opts Options, services Services) (*Lab, error) {
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
	if opts.Tenants < 0 || opts.Tenants > 10000 {
		return nil, fmt.Errorf("lab: %d tenants: want 1 to 10000", opts.Tenants)
	}
	if opts.Tenants == 0 {
		opts.Tenants = 1
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
	l.Creds = newCredentials(opts.World.Seed, opts.Tenants)
	l.tenantIdx = make(map[string]int, len(l.Creds.Tenants))
	for i, t := range l.Creds.Tenants {
		l.tenantIdx[strings.ToLower(t.TenantID)] = i
	}
	if opts.World.Now.IsZero() {
		opts.World.Now = opts.Now()
	}
	l.World = NewWorld(opts.World)
	l.World.splitTenants(opts.Tenants)
	if err := l.setup(services); err != nil {
		return nil, err
	}
	cert, err := l.ca.serverCert()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Listen)
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

// setup builds the services over the world and their routing table.
func (l *Lab) setup(services Services) error {
	var err error
	if l.services, err = services(l); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, s := range l.services {
		for _, r := range s.Routes() {
			if r.Path == "" || r.Path[0] != '/' || r.Name == "" || r.Handler == nil {
				return fmt.Errorf("lab: route %q of %T is incomplete", r.Path, s)
			}
			if seen[r.Path] {
				return fmt.Errorf("lab: two services answer %q", r.Path)
			}
			seen[r.Path] = true
			l.routes = append(l.routes, r)
		}
	}
	return nil
}

// TenantIndex is the index in Creds.Tenants of a tenant id (any case), or
// -1 for a tenant the lab does not have.
func (l *Lab) TenantIndex(tenantID string) int {
	if i, ok := l.tenantIdx[strings.ToLower(tenantID)]; ok {
		return i
	}
	return -1
}

// Options are the lab's options, defaults applied.
func (l *Lab) Options() Options { return l.opts }

// Services are the lab's services, in the order they were built.
func (l *Lab) Services() []Service { return l.services }

// Faults are the faults the lab injects.
func (l *Lab) Faults() Faults { return l.faults.Faults }

// FaultChance reports true with probability p, drawn like every fault from
// the world's seed so that runs repeat; services use it for their own
// faults (error200).
func (l *Lab) FaultChance(p float64) bool { return l.faults.chance(p) }

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

// Env returns the variables that point c2sweep (and other clients) at the
// lab: the AZURE_* ones sign in tenant 0's app; IDENTITY_ENDPOINT and
// IDENTITY_HEADER are the managed identity endpoint's (App Service's
// names, which azidentity reads; C2SWEEP_LAB_MANAGED_IDENTITY_CLIENT_ID is
// the identity's client id); with several tenants, tenant i >= 1's app is
// C2SWEEP_LAB_TENANT<i>_ID, _CLIENT_ID and _CLIENT_SECRET.
func (l *Lab) Env() map[string]string {
	env := map[string]string{
		"SHODAN_API_KEY":       l.Creds.ShodanKey,
		"SHODAN_API_URL":       l.URL,
		"AZURE_TENANT_ID":      l.Creds.TenantID,
		"AZURE_CLIENT_ID":      l.Creds.ClientID,
		"AZURE_CLIENT_SECRET":  l.Creds.ClientSecret,
		"AZURE_AUTHORITY_HOST": l.URL + "/",
		"SSL_CERT_FILE":        l.CAFile,
		"C2SWEEP_API_URL":      l.URL,
		"ABUSECH_AUTH_KEY":     l.Creds.AbuseCHKey,
		"THREATFOX_API_URL":    l.URL + ThreatFoxPath,
		"FEODO_URL":            l.URL + FeodoPath,
		"C2SWEEP_RANGES_BASE":  l.URL, // exclusions update fetches the CDN lists here
		// The Defender indicators API (indicators push).
		"C2SWEEP_DEFENDER_API_URL": l.URL,
		// Managed identity (App Service's protocol).
		"IDENTITY_ENDPOINT":                      l.URL + ManagedIdentityPath,
		"IDENTITY_HEADER":                        l.Creds.IdentityHeader,
		"C2SWEEP_LAB_MANAGED_IDENTITY_CLIENT_ID": l.Creds.ManagedIdentityClientID,
	}
	for i, t := range l.Creds.Tenants[min(1, len(l.Creds.Tenants)):] {
		p := fmt.Sprintf("C2SWEEP_LAB_TENANT%d_", i+1)
		env[p+"ID"], env[p+"CLIENT_ID"], env[p+"CLIENT_SECRET"] = t.TenantID, t.ClientID, t.ClientSecret
	}
	return env
}

// The paths of the free intelligence sources on the lab's listener; the
// feeds are under FeedsPath (see feedlab).
const (
	ThreatFoxPath = "/threatfox/api/v1/"
	FeodoPath     = "/feodotracker/downloads/ipblocklist.json"
	FeedsPath     = "/feeds/"
)

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
// "graph", "mde", "defender") has answered.
func (l *Lab) Calls() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.calls))
	for k, v := range l.calls {
		out[k] = v
	}
	return out
}

// match finds the route of a path: the exact one, else the longest prefix.
func (l *Lab) match(p string) (Route, bool) {
	var best Route
	found := false
	for _, r := range l.routes {
		if r.Path == p {
			return r, true
		}
		if strings.HasSuffix(r.Path, "/") && strings.HasPrefix(p, r.Path) && (!found || len(r.Path) > len(best.Path)) {
			best, found = r, true
		}
	}
	return best, found
}

func (l *Lab) route(w http.ResponseWriter, r *http.Request) {
	rt, ok := l.match(r.URL.Path)
	if !ok {
		nginxError(w, http.StatusNotFound)
		return
	}
	svc, h := rt.Name, rt.Handler
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

// NginxError writes the HTML page nginx answers with in front of Shodan,
// e.g. for a bad key (401): not JSON. The 5xx fault answers it too, whatever
// the service, as a gateway would.
func NginxError(w http.ResponseWriter, code int) { nginxError(w, code) }

func nginxError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
		code, http.StatusText(code), code, http.StatusText(code))
}

// ManagedIdentityPath is the lab's managed identity endpoint (App Service's
// protocol, see entralab): IDENTITY_ENDPOINT is the lab's URL + it.
const ManagedIdentityPath = "/msi/token"
