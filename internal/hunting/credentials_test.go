package hunting_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/lab/labtest"
)

// Every sign-in method azidentity offers, end to end against the lab: the
// credential signs in, and Graph answers the rows of the credential's
// tenant, exactly. Each method's refusal is an ErrAuth without the secret.

// tenantReportIDs are the report ids of the events of tenant ti among want.
func tenantReportIDs(l *lab.Lab, want []lab.Event, ti int) []string {
	var out []string
	for _, e := range want {
		if l.World.TenantOf(e.Device) == ti {
			b, _ := json.Marshal(e.ReportID)
			out = append(out, string(b))
		}
	}
	slices.Sort(out)
	return out
}

// huntWith runs the sweep query through Graph with the credential of o and
// returns the report ids answered, sorted.
func huntWith(t *testing.T, f *fixture, o hunting.AuthOptions, base, scope string) ([]string, error) {
	t.Helper()
	o.AuthorityHost, o.HTTPClient = f.lab.URL+"/", f.client
	cred, err := hunting.NewCredential(o)
	if err != nil {
		return nil, err
	}
	if base == "" {
		base = f.lab.URL
	}
	g := hunting.NewGraph(hunting.Options{BaseURL: base, Scope: scope, Credential: cred, HTTPClient: f.client, Clock: f.clock, MaxRetries: 1})
	req, _ := f.sweepQuery(t)
	_, rows, _, err := collect(t, g, req)
	var ids []string
	for _, r := range rows {
		ids = append(ids, r["ReportId"].(json.Number).String())
	}
	slices.Sort(ids)
	return ids, err
}

// refused checks a sign-in failure: ErrAuth, and none of secrets in it.
func refused(t *testing.T, what string, err error, secrets ...string) {
	t.Helper()
	if !errors.Is(err, hunting.ErrAuth) {
		t.Errorf("%s: %v, want ErrAuth", what, err)
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("%s: the error shows a secret: %v", what, err)
		}
	}
}

func TestCredentialMethods(t *testing.T) {
	f := newFixture(t, lab.Options{Tenants: 2})
	l := f.lab
	_, want := f.sweepQuery(t)
	t0, t1 := l.Creds.Tenants[0], l.Creds.Tenants[1]
	wantOf := [2][]string{tenantReportIDs(l, want, 0), tenantReportIDs(l, want, 1)}
	if len(wantOf[0]) == 0 || len(wantOf[1]) == 0 {
		t.Fatalf("each tenant needs contacts: %v", wantOf)
	}
	check := func(name string, tenant int, o hunting.AuthOptions) {
		t.Helper()
		got, err := huntWith(t, f, o, "", "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got, wantOf[tenant]) {
			t.Errorf("%s: report ids %v, want tenant %d's %v", name, got, tenant, wantOf[tenant])
		}
	}

	t.Run("secret", func(t *testing.T) {
		// Tenant 1's app sees only tenant 1's devices.
		check("secret", 1, hunting.AuthOptions{Method: "secret", TenantID: t1.TenantID, ClientID: t1.ClientID, ClientSecret: t1.ClientSecret})
		_, err := huntWith(t, f, hunting.AuthOptions{Method: "secret", TenantID: t1.TenantID, ClientID: t1.ClientID, ClientSecret: t0.ClientSecret}, "", "")
		refused(t, "another tenant's secret", err, t0.ClientSecret, t1.ClientSecret)
	})
	t.Run("certificate", func(t *testing.T) {
		check("certificate", 0, hunting.AuthOptions{Method: "certificate", TenantID: t0.TenantID, ClientID: l.Creds.CertClientID, CertificatePath: l.Creds.CertFile})
		// The secret app has no certificate registered.
		_, err := huntWith(t, f, hunting.AuthOptions{Method: "certificate", TenantID: t0.TenantID, ClientID: t0.ClientID, CertificatePath: l.Creds.CertFile}, "", "")
		refused(t, "unregistered certificate", err)
	})
	t.Run("workload-identity", func(t *testing.T) {
		e := entralab.Of(l)
		path := filepath.Join(t.TempDir(), "token")
		if err := e.WriteFederatedToken(path, 1); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AZURE_FEDERATED_TOKEN_FILE", path)
		check("workload identity", 1, hunting.AuthOptions{Method: "workload-identity", TenantID: t1.TenantID, ClientID: t1.ClientID})
		now := f.clock.Now()
		bad := e.SignFederated(entralab.FederatedClaims{Iss: e.FederatedIssuer(), Sub: "system:serviceaccount:default:intruder",
			Aud: entralab.FederatedAudience, Iat: now.Unix(), Exp: now.Add(time.Hour).Unix()})
		badPath := filepath.Join(t.TempDir(), "bad")
		if err := os.WriteFile(badPath, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AZURE_FEDERATED_TOKEN_FILE", badPath)
		_, err := huntWith(t, f, hunting.AuthOptions{Method: "workload-identity", TenantID: t1.TenantID, ClientID: t1.ClientID}, "", "")
		refused(t, "another subject", err, bad)
		if err != nil && !strings.Contains(err.Error(), "700213") {
			t.Errorf("another subject: %v, want AADSTS700213", err)
		}
	})
	t.Run("managed-identity", func(t *testing.T) {
		t.Setenv("IDENTITY_ENDPOINT", l.URL+entralab.ManagedIdentityPath)
		t.Setenv("IDENTITY_HEADER", "wrong-"+l.Creds.IdentityHeader)
		mi := hunting.AuthOptions{Method: "managed-identity", ClientID: l.Creds.ManagedIdentityClientID}
		// The refusal first: MSAL caches managed identity tokens process-wide.
		_, err := huntWith(t, f, mi, "", "")
		refused(t, "wrong identity header", err, l.Creds.IdentityHeader)
		t.Setenv("IDENTITY_HEADER", l.Creds.IdentityHeader)
		check("managed identity", 0, mi)
	})
	t.Run("azure-cli", func(t *testing.T) {
		labtest.AzureCLI(t, l, 1)
		check("azure cli", 1, hunting.AuthOptions{Method: "azure-cli", TenantID: t1.TenantID})
		_, err := huntWith(t, f, hunting.AuthOptions{Method: "azure-cli", TenantID: t0.TenantID}, "", "")
		refused(t, "not logged in", err)
		if err != nil && !strings.Contains(err.Error(), "az login") {
			t.Errorf("not logged in: %v, want the CLI's advice", err)
		}
	})
	t.Run("usgov", func(t *testing.T) {
		// A token for the US Government cloud's Graph works on the lab's.
		check("usgov scope", 0, hunting.AuthOptions{Method: "secret", TenantID: t0.TenantID, ClientID: t0.ClientID, ClientSecret: t0.ClientSecret})
		got, err := huntWith(t, f, hunting.AuthOptions{Method: "secret", TenantID: t0.TenantID, ClientID: t0.ClientID, ClientSecret: t0.ClientSecret},
			"", "https://graph.microsoft.us/.default")
		if err != nil || !slices.Equal(got, wantOf[0]) {
			t.Errorf("usgov scope: %v %v", got, err)
		}
	})
}

// The lab counts the hunting limit per tenant: one tenant at its limit
// does not slow another.
func TestTenantLimits(t *testing.T) {
	f := newFixture(t, lab.Options{Tenants: 2, HuntingPerMinute: 2})
	l := f.lab
	ctx := context.Background()
	req, _ := f.sweepQuery(t)
	graph := func(tn lab.Tenant, perMinute int) hunting.Hunter {
		cred, err := hunting.NewCredential(hunting.AuthOptions{Method: "secret", TenantID: tn.TenantID, ClientID: tn.ClientID, ClientSecret: tn.ClientSecret,
			AuthorityHost: l.URL + "/", HTTPClient: f.client})
		if err != nil {
			t.Fatal(err)
		}
		// The client's own limit is set high, so that the lab's answers.
		return hunting.NewGraph(hunting.Options{BaseURL: l.URL, Credential: cred, HTTPClient: f.client, Clock: f.clock, PerMinute: perMinute, MaxRetries: 1})
	}
	g0, g1 := graph(l.Creds.Tenants[0], 100), graph(l.Creds.Tenants[1], 100)
	nop := func(hunting.Row) error { return nil }
	cols := func([]hunting.Column) error { return nil }
	for i := range 2 {
		if _, err := g0.Hunt(ctx, req, cols, nop); err != nil {
			t.Fatalf("tenant 0 call %d: %v", i, err)
		}
	}
	// Tenant 0 is at its limit; tenant 1 is not.
	for i := range 2 {
		st, err := g1.Hunt(ctx, req, cols, nop)
		if err != nil || st.Throttled != 0 {
			t.Fatalf("tenant 1 call %d: %+v %v", i, st, err)
		}
	}
	// Tenant 0's third call is throttled and waits out the Retry-After
	// (the fake clock's sleep moves time on at once).
	st, err := g0.Hunt(ctx, req, cols, nop)
	if err != nil {
		t.Fatal(err)
	}
	if st.Throttled == 0 {
		t.Errorf("tenant 0's third call was not throttled: %+v", st)
	}
}
