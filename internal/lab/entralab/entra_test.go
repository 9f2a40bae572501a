package entralab_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/lab/entralab"
	"c2sweep/internal/lab/labtest"
)

// testClock is a settable clock shared by a lab and its clients.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// entraOf is the Entra service of a lab.
func entraOf(l *lab.Lab) *entralab.Service {
	for _, s := range l.Services() {
		if e, ok := s.(*entralab.Service); ok {
			return e
		}
	}
	panic("the lab has no Entra ID")
}

type tokenAnswer struct {
	status int
	body   map[string]any
}

func postForm(t *testing.T, l *lab.Lab, path string, form url.Values) tokenAnswer {
	t.Helper()
	resp, err := labtest.Client(l).PostForm(l.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: body is not JSON: %v", path, err)
	}
	return tokenAnswer{resp.StatusCode, body}
}

func TestCredentials(t *testing.T) {
	a, b := labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 7}}).Creds, labtest.Start(t, lab.Options{World: lab.WorldConfig{Seed: 7}}).Creds
	if a.TenantID != b.TenantID || a.ClientID != b.ClientID || a.CertClientID != b.CertClientID {
		t.Errorf("identifiers should follow the seed: %+v vs %+v", a, b)
	}
	if a.ClientSecret == b.ClientSecret || a.ShodanKey == b.ShodanKey {
		t.Error("secrets must not follow the seed")
	}
	if len(a.ClientSecret) != 43 || len(a.ShodanKey) != 32 {
		t.Errorf("secret lengths %d, %d", len(a.ClientSecret), len(a.ShodanKey))
	}
	if a.TenantID == a.ClientID || len(a.TenantID) != 36 || a.TenantID[14] != '4' {
		t.Errorf("bad GUIDs %q %q", a.TenantID, a.ClientID)
	}
}

func TestDiscovery(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	c := labtest.Client(l)
	for _, tc := range []struct{ path, issuer, token string }{
		{"/" + l.Creds.TenantID + "/v2.0/.well-known/openid-configuration", l.URL + "/" + l.Creds.TenantID + "/v2.0", l.URL + "/" + l.Creds.TenantID + "/oauth2/v2.0/token"},
		{"/" + l.Creds.TenantID + "/.well-known/openid-configuration", "https://sts.windows.net/" + l.Creds.TenantID + "/", l.URL + "/" + l.Creds.TenantID + "/oauth2/token"},
	} {
		resp, err := c.Get(l.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if resp.StatusCode != 200 || doc["issuer"] != tc.issuer || doc["token_endpoint"] != tc.token || doc["authorization_endpoint"] == nil {
			t.Errorf("%s: %d %v", tc.path, resp.StatusCode, doc)
		}
	}
	resp, err := c.Get(l.URL + "/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown tenant: %d, want 400", resp.StatusCode)
	}
}

func TestTokenErrors(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	v2 := "/" + l.Creds.TenantID + "/oauth2/v2.0/token"
	base := func() url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {l.Creds.ClientID},
			"client_secret": {l.Creds.ClientSecret}, "scope": {"https://graph.microsoft.com/.default openid offline_access profile"}}
	}
	ok := postForm(t, l, v2, base())
	if ok.status != 200 || ok.body["token_type"] != "Bearer" || ok.body["expires_in"] != 3599.0 || ok.body["ext_expires_in"] != 3599.0 {
		t.Fatalf("good secret: %d %v", ok.status, ok.body)
	}
	c, err := entraOf(l).Verify(ok.body["access_token"].(string))
	if err != nil || c.Aud != entralab.ResourceGraph || c.Tid != l.Creds.TenantID || c.AppID != l.Creds.ClientID || len(c.Roles) != 1 || c.Roles[0] != entralab.RoleThreatHunting {
		t.Errorf("claims %+v, %v", c, err)
	}

	wrong := base()
	wrong.Set("client_secret", "not-the-secret")
	unknownApp := base()
	unknownApp.Set("client_id", "11111111-2222-4333-8444-555555555555")
	noCred := base()
	noCred.Del("client_secret")
	badScope := base()
	badScope.Set("scope", "https://example.com/.default")
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		code   string
		aadsts float64
	}{
		{"wrong secret", v2, wrong, 401, "invalid_client", 7000215},
		{"unknown app", v2, unknownApp, 400, "unauthorized_client", 700016},
		{"unknown tenant", "/contoso.example/oauth2/v2.0/token", base(), 400, "invalid_request", 90002},
		{"no credential", v2, noCred, 400, "invalid_client", 7000216},
		{"unknown resource", v2, badScope, 400, "invalid_resource", 500011},
	} {
		a := postForm(t, l, tc.path, tc.form)
		codes, _ := a.body["error_codes"].([]any)
		desc, _ := a.body["error_description"].(string)
		if a.status != tc.status || a.body["error"] != tc.code || len(codes) != 1 || codes[0] != tc.aadsts ||
			!strings.HasPrefix(desc, "AADSTS") || a.body["trace_id"] == nil || a.body["correlation_id"] == nil || a.body["timestamp"] == nil {
			t.Errorf("%s: %d %v", tc.name, a.status, a.body)
		}
		if strings.Contains(desc, l.Creds.ClientSecret) {
			t.Errorf("%s: the error echoes the secret", tc.name)
		}
	}

	// v1: resource=, numbers as strings.
	v1 := base()
	v1.Del("scope")
	v1.Set("resource", "https://api.securitycenter.microsoft.com")
	a := postForm(t, l, "/"+l.Creds.TenantID+"/oauth2/token", v1)
	if a.status != 200 || a.body["expires_in"] != "3599" || a.body["resource"] != entralab.ResourceSecurityCtr {
		t.Fatalf("v1: %d %v", a.status, a.body)
	}
	if _, ok := a.body["expires_on"].(string); !ok {
		t.Errorf("v1 expires_on should be a string: %v", a.body["expires_on"])
	}
	c, _ = entraOf(l).Verify(a.body["access_token"].(string))
	if c.Aud != entralab.ResourceSecurityCtr || c.Roles[0] != entralab.RoleAdvancedQuery {
		t.Errorf("v1 claims %+v", c)
	}
}

// assertion signs a client assertion with the lab's certificate file, as
// MSAL does, after mutate has had its way with header and claims.
func assertion(t *testing.T, l *lab.Lab, alg string, mutate func(h, c map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(l.Creds.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	var cert *x509.Certificate
	var key *rsa.PrivateKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			cert, _ = x509.ParseCertificate(b.Bytes)
		case "PRIVATE KEY":
			k, _ := x509.ParsePKCS8PrivateKey(b.Bytes)
			key = k.(*rsa.PrivateKey)
		}
	}
	if cert == nil || key == nil {
		t.Fatal("CertFile lacks the certificate or the key")
	}
	s1, s256 := sha1.Sum(cert.Raw), sha256.Sum256(cert.Raw)
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if alg == "PS256" {
		h["x5t#S256"] = base64.StdEncoding.EncodeToString(s256[:])
	} else {
		h["x5t"] = base64.StdEncoding.EncodeToString(s1[:])
	}
	now := l.Options().Now()
	c := map[string]any{"aud": l.URL + "/" + l.Creds.TenantID + "/oauth2/v2.0/token", "iss": l.Creds.CertClientID, "sub": l.Creds.CertClientID,
		"jti": "x", "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	if mutate != nil {
		mutate(h, c)
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	if alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], nil)
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestClientAssertion(t *testing.T) {
	l := labtest.Start(t, lab.Options{})
	v2 := "/" + l.Creds.TenantID + "/oauth2/v2.0/token"
	try := func(a string) tokenAnswer {
		return postForm(t, l, v2, url.Values{"grant_type": {"client_credentials"}, "client_id": {l.Creds.CertClientID},
			"client_assertion_type": {entralab.ClientAssertionJWTBearer}, "client_assertion": {a},
			"scope": {"https://api.securitycenter.microsoft.com/.default"}})
	}
	for _, alg := range []string{"PS256", "RS256"} {
		if a := try(assertion(t, l, alg, nil)); a.status != 200 {
			t.Errorf("%s: %d %v", alg, a.status, a.body)
		}
	}
	good := assertion(t, l, "PS256", nil)
	tampered := good[:len(good)-4] + "AAAA"
	for _, tc := range []struct {
		name   string
		a      string
		aadsts float64
	}{
		{"tampered signature", tampered, 700027},
		{"other thumbprint", assertion(t, l, "PS256", func(h, c map[string]any) { h["x5t#S256"] = base64.StdEncoding.EncodeToString(make([]byte, 32)) }), 700027},
		{"wrong audience", assertion(t, l, "PS256", func(h, c map[string]any) { c["aud"] = "https://login.microsoftonline.com/x/oauth2/v2.0/token" }), 700021},
		{"wrong issuer", assertion(t, l, "RS256", func(h, c map[string]any) { c["iss"] = l.Creds.ClientID }), 700023},
		{"expired", assertion(t, l, "RS256", func(h, c map[string]any) { c["exp"] = l.Options().Now().Add(-time.Hour).Unix() }), 700024},
		{"HS256", assertion(t, l, "RS256", func(h, c map[string]any) { h["alg"] = "HS256" }), 700027},
	} {
		a := try(tc.a)
		codes, _ := a.body["error_codes"].([]any)
		if a.status != 401 || a.body["error"] != "invalid_client" || len(codes) != 1 || codes[0] != tc.aadsts {
			t.Errorf("%s: %d %v", tc.name, a.status, a.body)
		}
	}
}

func TestTokenEarlyExpiry(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)}
	l := labtest.Start(t, lab.Options{Now: clk.Now, Faults: lab.Faults{TokenExpiry: 30 * time.Second}})
	a := postForm(t, l, "/"+l.Creds.TenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {l.Creds.ClientID}, "client_secret": {l.Creds.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	if a.status != 200 || a.body["expires_in"] != 3599.0 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	tok := a.body["access_token"].(string)
	if _, err := entraOf(l).Verify(tok); err != nil {
		t.Fatal(err)
	}
	clk.Add(31 * time.Second)
	if _, err := entraOf(l).Verify(tok); err != entralab.ErrTokenExpired {
		t.Errorf("after the early expiry: %v, want expired", err)
	}
	if _, err := entraOf(l).Verify(tok[:len(tok)-2] + "xx"); err != entralab.ErrTokenInvalid {
		t.Errorf("forged: %v", err)
	}
	resp, _ := labtest.Client(l).Get(l.URL + "/" + l.Creds.TenantID + "/oauth2/v2.0/token")
	if resp != nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET token: %d", resp.StatusCode)
		}
	}
}
