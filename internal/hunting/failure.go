package hunting

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Kind says what a failure to reach or sign in to a service was, so that
// the command line can say what to check: the network, the CA, the
// service, or the credentials.
type Kind int

const (
	// KindCredentials: Entra ID answered and refused the credentials
	// (AADSTS errors), or none are configured.
	KindCredentials Kind = iota
	// KindNetwork: no answer at all: DNS, connection refused, unreachable,
	// timeout, connection reset.
	KindNetwork
	// KindTLS: the connection was made but TLS failed: an untrusted or
	// missing CA (SSL_CERT_FILE), a wrong host name, an expired certificate.
	KindTLS
	// KindService: the service (or a proxy before it) answered with a
	// server error.
	KindService
)

func (k Kind) String() string {
	switch k {
	case KindNetwork:
		return "network"
	case KindTLS:
		return "tls"
	case KindService:
		return "service"
	}
	return "credentials"
}

// SignInError is a failed sign-in to Entra ID, its text already redacted.
// It matches ErrAuth whatever its Kind: no query can run without a token.
type SignInError struct {
	Kind  Kind
	Host  string // the Entra ID host asked
	Codes []int  // Entra's AADSTS error codes, for KindCredentials
	Msg   string // one line (or azidentity's list of credentials tried)
}

func (e *SignInError) Error() string {
	switch e.Kind {
	case KindNetwork:
		return "sign-in: cannot reach Entra ID at " + e.Host + ": " + e.Msg
	case KindTLS:
		return "sign-in: TLS: Entra ID at " + e.Host + ": " + e.Msg
	case KindService:
		return "sign-in: Entra ID at " + e.Host + " failed: " + e.Msg
	}
	return "sign-in: " + e.Msg
}

func (e *SignInError) Is(target error) bool { return target == ErrAuth }

// ReachError is a service root that did not answer a pre-flight check.
type ReachError struct {
	Kind    Kind // KindNetwork or KindTLS
	Service string
	Host    string
	Err     error
}

func (e *ReachError) Error() string {
	switch e.Kind {
	case KindTLS:
		return "TLS: " + e.Service + " at " + e.Host + ": " + e.Err.Error()
	}
	return "cannot reach " + e.Service + " at " + e.Host + ": " + e.Err.Error()
}

func (e *ReachError) Unwrap() error { return e.Err }

// transportKind classifies an error of an HTTP round trip: TLS, network,
// or neither (ok false).
func transportKind(err error) (Kind, bool) {
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalid     x509.CertificateInvalidError
		verify      *tls.CertificateVerificationError
		sysRoots    x509.SystemRootsError
		recordHdr   tls.RecordHeaderError
		alert       tls.AlertError
		netErr      net.Error
		opErr       *net.OpError
		dnsErr      *net.DNSError
		unreachable = errors.Is(err, context.DeadlineExceeded)
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &sysRoots), errors.As(err, &recordHdr), errors.As(err, &alert):
		return KindTLS, true
	case errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &netErr), unreachable:
		return KindNetwork, true
	}
	// What reaches us only as text (azidentity flattens the chain).
	msg := err.Error()
	for _, s := range []string{"x509: ", "tls: "} {
		if strings.Contains(msg, s) {
			return KindTLS, true
		}
	}
	for _, s := range []string{"dial tcp", "no such host", "connection refused", "network is unreachable",
		"connection reset", "i/o timeout", "no route to host", "proxyconnect"} {
		if strings.Contains(msg, s) {
			return KindNetwork, true
		}
	}
	return 0, false
}

// recordingTransport remembers the last transport error of the sign-in
// requests: azidentity reports them as text only, and the typed error
// says whether TLS or the network failed.
type recordingTransport struct {
	next *http.Client
	host string // only errors of requests to Entra ID count
	mu   sync.Mutex
	err  error
}

func (t *recordingTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(req)
	if err != nil && req.Context().Err() == nil && strings.EqualFold(req.URL.Host, t.host) {
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
	}
	return resp, err
}

// take returns and forgets the last transport error.
func (t *recordingTransport) take() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.err
	t.err = nil
	return err
}

// innermost is the text of the deepest error in a chain: "dial tcp ...:
// connection refused" rather than the URL and method around it.
func innermost(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// ProbeTimeout bounds the pre-flight check of an API root.
const ProbeTimeout = 15 * time.Second

// Probe checks that the service at root answers TLS: a HEAD to the root,
// whatever the status, bounded by ProbeTimeout. It spends no quota and
// sends no credentials.
func Probe(ctx context.Context, hc *http.Client, service, root string) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	u, err := url.Parse(root)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s: %q is not a URL", service, root)
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.Scheme+"://"+u.Host+"/", nil)
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ctx.Err()
		}
		kind, ok := transportKind(err)
		if !ok {
			kind = KindNetwork
		}
		return &ReachError{Kind: kind, Service: service, Host: u.Host, Err: errors.New(innermost(err))}
	}
	// Any status will do: the answer came over verified TLS.
	resp.Body.Close()
	return nil
}

// Prober is implemented by hunters that can check their API root answers.
type Prober interface {
	Probe(ctx context.Context) error
}

// Probe checks that the hunting API root answers TLS.
func (c *client) Probe(ctx context.Context) error {
	return Probe(ctx, c.opts.HTTPClient, "the hunting API ("+c.api+")", c.opts.BaseURL)
}

// AccessError is the hunting API refusing a valid token: 403, the app
// lacks Permission; 401 after a renewal, the token is for another service
// or tenant. It matches ErrAuth.
type AccessError struct {
	API        string
	Permission string
	Status     int
	Err        error
}

func (e *AccessError) Error() string        { return ErrAuth.Error() + ": " + e.Err.Error() }
func (e *AccessError) Unwrap() error        { return e.Err }
func (e *AccessError) Is(target error) bool { return target == ErrAuth }
