package hunting_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
)

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// clientTrusting is an HTTP client whose only CA is that of another lab.
func clientTrusting(t *testing.T, other *lab.Lab) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: other.CAPool, MinVersion: tls.VersionTLS12}
	c := &http.Client{Transport: tr}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// Each way a sign-in fails is told as what it is: only Entra's refusal of
// the credentials is a credentials error.
func TestSignInErrorsAreClassified(t *testing.T) {
	f := newFixture(t, lab.Options{})
	down := newFixture(t, lab.Options{Faults: lab.Faults{Rate5xx: 1, Only: "entra"}})
	other := newFixture(t, lab.Options{})
	closed := closedPort(t)
	scope := policy.TokenRequestOptions{Scopes: []string{hunting.GraphScope}}

	for _, tc := range []struct {
		name  string
		mod   func(*hunting.AuthOptions)
		kind  hunting.Kind
		text  string
		codes []int
	}{
		{"closed port", func(a *hunting.AuthOptions) { a.AuthorityHost = "https://" + closed + "/" },
			hunting.KindNetwork, "cannot reach Entra ID at " + closed + ": ", nil},
		{"unknown host", func(a *hunting.AuthOptions) { a.AuthorityHost = "https://login.c2sweep-test.invalid/" },
			hunting.KindNetwork, "cannot reach Entra ID at login.c2sweep-test.invalid: ", nil},
		{"another CA", func(a *hunting.AuthOptions) { a.HTTPClient = clientTrusting(t, other.lab) },
			hunting.KindTLS, "TLS: Entra ID at " + strings.TrimPrefix(f.lab.URL, "https://") + ": ", nil},
		{"entra 5xx", func(a *hunting.AuthOptions) {
			a.AuthorityHost, a.HTTPClient = down.lab.URL+"/", down.client
		}, hunting.KindService, "Entra ID at " + strings.TrimPrefix(down.lab.URL, "https://") + " failed: answered 50", nil},
		{"wrong secret", func(a *hunting.AuthOptions) { a.ClientSecret = "Wr0ng~secret-" + f.lab.Creds.ClientSecret[:4] },
			hunting.KindCredentials, "AADSTS7000215", []int{7000215}},
		{"unknown app", func(a *hunting.AuthOptions) { a.ClientID = "00000000-0000-0000-0000-000000000001" },
			hunting.KindCredentials, "AADSTS700016", []int{700016}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the retries of the failures that may pass take seconds each
			a := f.auth()
			tc.mod(&a)
			cred, err := hunting.NewCredential(a)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cred.GetToken(context.Background(), scope)
			var se *hunting.SignInError
			if !errors.As(err, &se) || !errors.Is(err, hunting.ErrAuth) {
				t.Fatalf("got %T %v, want a *SignInError", err, err)
			}
			if se.Kind != tc.kind || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got kind %s %q, want %s with %q", se.Kind, err, tc.kind, tc.text)
			}
			for _, c := range tc.codes {
				if !slices.Contains(se.Codes, c) {
					t.Errorf("codes %v lack %d", se.Codes, c)
				}
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "not authorised") {
				t.Errorf("not one clear line: %q", err)
			}
			if strings.Contains(err.Error(), f.lab.Creds.ClientSecret) {
				t.Errorf("the error shows the secret")
			}
		})
	}
}

func TestProbeTellsNetworkFromTLS(t *testing.T) {
	f := newFixture(t, lab.Options{})
	other := newFixture(t, lab.Options{})
	ctx := context.Background()
	if err := hunting.Probe(ctx, f.client, "the hunting API", f.lab.URL); err != nil {
		t.Fatalf("lab root: %v", err)
	}
	var re *hunting.ReachError
	err := hunting.Probe(ctx, clientTrusting(t, other.lab), "the hunting API", f.lab.URL)
	if !errors.As(err, &re) || re.Kind != hunting.KindTLS || !strings.HasPrefix(err.Error(), "TLS: the hunting API at ") {
		t.Errorf("another CA: %v", err)
	}
	closed := closedPort(t)
	err = hunting.Probe(ctx, f.client, "the hunting API", "https://"+closed)
	if !errors.As(err, &re) || re.Kind != hunting.KindNetwork || !strings.Contains(err.Error(), "cannot reach the hunting API at "+closed) {
		t.Errorf("closed port: %v", err)
	}
}
