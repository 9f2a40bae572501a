package entralab_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/lab/labtest"
)

func secretForm(clientID, secret, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope + "/.default openid offline_access profile"}}
}

func aadsts(a tokenAnswer) float64 {
	codes, _ := a.body["error_codes"].([]any)
	if len(codes) == 0 {
		return 0
	}
	return codes[0].(float64)
}

// Each tenant signs its own app in with its own secret; tokens carry the
// tenant; another tenant's secret or app is refused as Entra refuses them.
func TestTenants(t *testing.T) {
	l := labtest.Start(t, lab.Options{Tenants: 3})
	e := entraOf(l)
	ts := l.Creds.Tenants
	if len(ts) != 3 || ts[0].TenantID != l.Creds.TenantID || ts[0].ClientID != l.Creds.ClientID || ts[0].ClientSecret != l.Creds.ClientSecret {
		t.Fatalf("Tenants[0] must be the lab's first tenant: %+v", ts)
	}
	if ts[1].TenantID == ts[0].TenantID || ts[1].ClientID == ts[2].ClientID || ts[1].ClientSecret == ts[2].ClientSecret {
		t.Fatalf("tenants must differ: %+v", ts)
	}
	for i, tn := range ts {
		if got := l.TenantIndex(strings.ToUpper(tn.TenantID)); got != i {
			t.Errorf("TenantIndex(%d) = %d", i, got)
		}
		a := postForm(t, l, "/"+tn.TenantID+"/oauth2/v2.0/token", secretForm(tn.ClientID, tn.ClientSecret, entralab.ResourceGraph))
		if a.status != 200 {
			t.Fatalf("tenant %d: %d %v", i, a.status, a.body)
		}
		c, err := e.Verify(a.body["access_token"].(string))
		if err != nil || c.Tid != tn.TenantID || c.AppID != tn.ClientID {
			t.Errorf("tenant %d: claims %+v, %v", i, c, err)
		}
		resp, err := labtest.Client(l).Get(l.URL + "/" + tn.TenantID + "/v2.0/.well-known/openid-configuration")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("tenant %d: discovery %v %v", i, resp, err)
		}
		resp.Body.Close()
	}
	if a := postForm(t, l, "/"+ts[1].TenantID+"/oauth2/v2.0/token", secretForm(ts[1].ClientID, ts[2].ClientSecret, entralab.ResourceGraph)); a.status != 401 || aadsts(a) != 7000215 {
		t.Errorf("another tenant's secret: %d %v", a.status, a.body)
	}
	if a := postForm(t, l, "/"+ts[1].TenantID+"/oauth2/v2.0/token", secretForm(ts[2].ClientID, ts[2].ClientSecret, entralab.ResourceGraph)); a.status != 400 || aadsts(a) != 700016 {
		t.Errorf("another tenant's app: %d %v", a.status, a.body)
	}
	if got := l.TenantIndex("00000000-0000-4000-8000-000000000000"); got != -1 {
		t.Errorf("unknown tenant index %d", got)
	}
	if _, _, err := e.MintToken(3, entralab.ResourceGraph); err == nil {
		t.Error("MintToken of a tenant the lab has not")
	}
}

// The sovereign clouds' resources get tokens with their own audience.
func TestCloudResources(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	e := entraOf(l)
	want := map[string]string{
		"https://graph.microsoft.us": entralab.APIGraph, "https://dod-graph.microsoft.us": entralab.APIGraph,
		"https://microsoftgraph.chinacloudapi.cn": entralab.APIGraph, "https://api-gov.securitycenter.microsoft.us": entralab.APIMDE,
		"https://api.loganalytics.us": entralab.APILogAnalytics, "https://api.loganalytics.azure.cn": entralab.APILogAnalytics,
		entralab.ResourceGraph: entralab.APIGraph, entralab.ResourceSecurityCtr: entralab.APIMDE, entralab.ResourceLogAnalytics: entralab.APILogAnalytics,
	}
	for res, api := range want {
		a := postForm(t, l, "/"+l.Creds.TenantID+"/oauth2/v2.0/token", secretForm(l.Creds.ClientID, l.Creds.ClientSecret, res))
		if a.status != 200 {
			t.Fatalf("%s: %d %v", res, a.status, a.body)
		}
		c, err := e.Verify(a.body["access_token"].(string))
		if err != nil || c.Aud != res || entralab.APIOf(c.Aud) != api || len(c.Roles) == 0 {
			t.Errorf("%s: claims %+v, %v", res, c, err)
		}
	}
	if entralab.APIOf("https://vault.azure.net") != "" {
		t.Error("APIOf of a resource the lab has not")
	}
}

// A federated service account token is exchanged for the tenant's app;
// a token of another subject, audience or issuer, expired or forged, is
// refused with Entra's codes.
func TestWorkloadIdentity(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)}
	l := labtest.Start(t, lab.Options{Tenants: 2, Now: clk.Now})
	e := entraOf(l)
	path := filepath.Join(t.TempDir(), "token")
	if err := e.WriteFederatedToken(path, 1); err != nil {
		t.Fatal(err)
	}
	if e.WriteFederatedToken(path, 2) == nil {
		t.Error("WriteFederatedToken of a tenant the lab has not")
	}
	form := func(tn lab.Tenant, assertion string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {tn.ClientID}, "client_assertion": {assertion},
			"client_assertion_type": {entralab.ClientAssertionJWTBearer}, "scope": {entralab.ResourceGraph + "/.default"}}
	}
	tn := l.Creds.Tenants[1]
	a := postForm(t, l, "/"+tn.TenantID+"/oauth2/v2.0/token", form(tn, e.FederatedToken()))
	if a.status != 200 {
		t.Fatalf("federated token: %d %v", a.status, a.body)
	}
	if c, err := e.Verify(a.body["access_token"].(string)); err != nil || c.Tid != tn.TenantID || c.AppID != tn.ClientID {
		t.Errorf("claims %+v %v", c, err)
	}
	now := clk.Now()
	good := entralab.FederatedClaims{Iss: e.FederatedIssuer(), Sub: entralab.FederatedSubject, Aud: entralab.FederatedAudience, Iat: now.Unix(), Exp: now.Add(time.Hour).Unix()}
	bad := func(f func(*entralab.FederatedClaims)) string { c := good; f(&c); return e.SignFederated(c) }
	forged := e.FederatedToken()
	forged = forged[:len(forged)-4] + "AAAA"
	for name, tc := range map[string]struct {
		assertion string
		code      float64
	}{
		"issuer":   {bad(func(c *entralab.FederatedClaims) { c.Iss = "https://oidc.example/" }), 700211},
		"audience": {bad(func(c *entralab.FederatedClaims) { c.Aud = "api://other" }), 700212},
		"subject":  {bad(func(c *entralab.FederatedClaims) { c.Sub = "system:serviceaccount:default:default" }), 700213},
		"expired":  {bad(func(c *entralab.FederatedClaims) { c.Exp = now.Add(-time.Hour).Unix() }), 700024},
		"forged":   {forged, 50013},
	} {
		a := postForm(t, l, "/"+tn.TenantID+"/oauth2/v2.0/token", form(tn, tc.assertion))
		if a.status != 401 || aadsts(a) != tc.code {
			t.Errorf("%s: %d %v, want AADSTS%v", name, a.status, a.body, tc.code)
		}
	}
	// The issuer publishes its keys.
	resp, err := labtest.Client(l).Get(e.FederatedIssuer() + "/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("oidc discovery: %v %v", resp, err)
	}
	resp.Body.Close()
	// A token written an hour and more ago has expired.
	clk.Add(time.Hour + 6*time.Minute)
	if a := postForm(t, l, "/"+tn.TenantID+"/oauth2/v2.0/token", form(tn, mustRead(t, path))); a.status != 401 || aadsts(a) != 700024 {
		t.Errorf("expired file token: %d %v", a.status, a.body)
	}
}

// The managed identity endpoint speaks App Service's protocol.
func TestManagedIdentity(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	e := entraOf(l)
	get := func(header, query string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, l.URL+entralab.ManagedIdentityPath+"?"+query, nil)
		if header != "" {
			req.Header.Set("X-IDENTITY-HEADER", header)
		}
		return do(t, l, req)
	}
	q := "api-version=2019-08-01&resource=" + url.QueryEscape("https://graph.microsoft.us")
	status, body := get(l.Creds.IdentityHeader, q)
	if status != 200 || body["token_type"] != "Bearer" || body["resource"] != "https://graph.microsoft.us" || body["client_id"] != strings.ToLower(l.Creds.ManagedIdentityClientID) {
		t.Fatalf("token: %d %v", status, body)
	}
	if _, ok := body["expires_on"].(string); !ok {
		t.Errorf("expires_on must be a string of epoch seconds: %v", body["expires_on"])
	}
	c, err := e.Verify(body["access_token"].(string))
	if err != nil || c.Tid != l.Creds.TenantID || c.Aud != "https://graph.microsoft.us" {
		t.Errorf("claims %+v %v", c, err)
	}
	if status, body := get("wrong-"+l.Creds.IdentityHeader, q); status != 401 || strings.Contains(body["message"].(string), l.Creds.IdentityHeader) {
		t.Errorf("wrong header: %d %v", status, body)
	}
	if status, _ := get(l.Creds.IdentityHeader, q+"&client_id=00000000-0000-4000-8000-000000000000"); status != 400 {
		t.Errorf("another identity: %d", status)
	}
	if status, _ := get(l.Creds.IdentityHeader, "api-version=2017-09-01&resource=https://graph.microsoft.com"); status != 400 {
		t.Errorf("old api-version: %d", status)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func do(t *testing.T, l *lab.Lab, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := labtest.Client(l).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	return resp.StatusCode, body
}
