// Package labtest is the lab's test-only half: Start, the one way a test
// starts the lab, and the fake incoming webhooks (WebhookSink) that alert
// tests post to. Only _test.go files import it, so none of it ships in
// the c2sweep binary (TestNotInBinary checks).
//
// labtest imports every service (through emulator), so a service's own
// tests that use it are an external test package (package
// huntinglab_test); tests of a service's internals build just that
// service over lab.Start.
package labtest

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/emulator"
)

// Start starts a lab with every service for one test, on loopback (the
// lab refuses any other address), and stops it when the test ends; the
// test fails if it cannot start. Client(l) is a client that trusts it;
// other clients trust it through l.CAPool, l.HTTPClient() or l.Env()'s
// SSL_CERT_FILE.
func Start(tb testing.TB, opts lab.Options) *lab.Lab {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := emulator.Start(ctx, opts)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	c := l.HTTPClient()
	clients.Store(l, c)
	// Closing the client's connections first lets Close skip HTTP/2's
	// graceful wait (about a second a lab).
	tb.Cleanup(func() { c.CloseIdleConnections(); cancel(); l.Close(); clients.Delete(l) })
	return l
}

var clients sync.Map // *lab.Lab -> *http.Client

// Client is the one client of a lab Start started, for the test's own
// requests; it trusts the lab's CA.
func Client(l *lab.Lab) *http.Client {
	c, _ := clients.Load(l)
	return c.(*http.Client)
}
