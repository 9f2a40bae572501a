package entralab

// Entra ID emulator: the OpenID discovery documents and the v1/v2 token
// endpoints, enough for azidentity (MSAL) client credentials with a secret or
// a certificate. Access tokens are HS256 JWTs signed with a key private to
// the lab; the hunting emulator checks them.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"c2sweep/internal/lab"
)

// Resources the lab issues tokens for (public cloud), with the application
// role each API requires.
const (
	ResourceGraph            = "https://graph.microsoft.com"
	ResourceSecurityCtr      = "https://api.securitycenter.microsoft.com"
	ResourceSecurity         = "https://api.security.microsoft.com"
	ResourceLogAnalytics     = "https://api.loganalytics.io"
	RoleLogAnalyticsRead     = "Data.Read"
	RoleThreatHunting        = "ThreatHunting.Read.All"
	RoleAdvancedQuery        = "AdvancedQuery.Read.All"
	RoleTiReadWriteAll       = "Ti.ReadWrite.All"
	clientAssertionJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// The APIs a token can be for, as APIOf names them.
const (
	APIGraph        = "graph"
	APIMDE          = "mde"
	APILogAnalytics = "loganalytics"
)

// resources are every cloud's resources the lab issues tokens for: the
// API each one is (the lab's Graph accepts any cloud's Graph audience, and
// so on) and the application role it grants.
var resources = map[string]struct{ api, role string }{
	ResourceGraph:                                 {APIGraph, RoleThreatHunting},
	"https://graph.microsoft.us":                  {APIGraph, RoleThreatHunting}, // US Gov L4
	"https://dod-graph.microsoft.us":              {APIGraph, RoleThreatHunting}, // US Gov L5 (DoD)
	"https://microsoftgraph.chinacloudapi.cn":     {APIGraph, RoleThreatHunting}, // 21Vianet
	ResourceSecurityCtr:                           {APIMDE, RoleAdvancedQuery},
	ResourceSecurity:                              {APIMDE, RoleAdvancedQuery},
	"https://api-gov.securitycenter.microsoft.us": {APIMDE, RoleAdvancedQuery}, // US Gov
	// Log Analytics grants by workspace role (Log Analytics Reader); the
	// lab stands that in by the API's Data.Read role.
	ResourceLogAnalytics:                {APILogAnalytics, RoleLogAnalyticsRead},
	"https://api.loganalytics.us":       {APILogAnalytics, RoleLogAnalyticsRead}, // US Gov
	"https://api.loganalytics.azure.cn": {APILogAnalytics, RoleLogAnalyticsRead}, // China
}

// graphAppID is Microsoft Graph's application id, an audience Graph also
// accepts.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// APIOf names the API a token audience is for (APIGraph, APIMDE,
// APILogAnalytics), in any cloud, or "" for an audience of no lab API.
func APIOf(aud string) string {
	aud = strings.TrimSuffix(aud, "/")
	if aud == graphAppID {
		return APIGraph
	}
	return resources[aud].api
}

// Resources lists every resource the lab issues tokens for, sorted.
func Resources() []string {
	out := make([]string, 0, len(resources))
	for r := range resources {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// extraRoles are further roles the lab's app holds on a resource: the
// Defender API's indicators need Ti.ReadWrite.All.
var extraRoles = map[string][]string{ResourceSecurityCtr: {RoleTiReadWriteAll}}

type Service struct {
	l *lab.Lab
	// tokenKey signs access tokens; it never leaves the process.
	tokenKey []byte
	// certs maps a client id to the certificate registered for it.
	certs map[string]*x509.Certificate
	// fedKey signs the federated (workload identity) tokens of the lab's
	// OIDC issuer, FederatedIssuer.
	fedKey *ecdsa.PrivateKey
}

func New(l *lab.Lab) (*Service, error) {
	s := &Service{l: l, tokenKey: make([]byte, 32), certs: map[string]*x509.Certificate{}}
	if _, err := rand.Read(s.tokenKey); err != nil {
		return nil, err
	}
	cert, path, err := writeClientCert(l.Dir(), l.Creds.CertClientID)
	if err != nil {
		return nil, fmt.Errorf("lab: client certificate: %w", err)
	}
	s.certs[l.Creds.CertClientID] = cert
	l.Creds.CertFile = path
	if s.fedKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	return s, nil
}

// writeClientCert makes a self-signed RSA certificate for an app and writes
// it with its private key to one PEM file, the form azidentity's
// ParseCertificates reads.
func writeClientCert(dir, clientID string) (*x509.Certificate, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: lab.RandSerial(),
		Subject:      pkix.Name{CommonName: "c2sweep lab app " + clientID},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(dir, "client-cert.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, "", err
	}
	return cert, path, nil
}

// Routes are Entra ID's paths: every path no other service answers, since
// they start with the tenant.
func (s *Service) Routes() []lab.Route {
	return []lab.Route{
		{Path: "/", Name: "entra", Handler: s},
		{Path: ManagedIdentityPath, Name: "managedidentity", Handler: http.HandlerFunc(s.managedIdentity)},
	}
}

// Of returns the Entra ID service of l, or nil.
func Of(l *lab.Lab) *Service {
	for _, svc := range l.Services() {
		if s, ok := svc.(*Service); ok {
			return s
		}
	}
	return nil
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant, rest := parts[0], strings.Join(parts[1:], "/")
	if tenant == oidcSegment {
		s.oidc(w, r, rest)
		return
	}
	switch rest {
	case "v2.0/.well-known/openid-configuration", ".well-known/openid-configuration":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.discovery(w, tenant, strings.HasPrefix(rest, "v2.0/"))
	case "oauth2/v2.0/token", "oauth2/token":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.token(w, r, tenant, rest == "oauth2/v2.0/token")
	default:
		http.NotFound(w, r)
	}
}

func (s *Service) knownTenant(t string) bool { return s.l.TenantIndex(t) >= 0 }

func (s *Service) discovery(w http.ResponseWriter, tenant string, v2 bool) {
	if !s.knownTenant(tenant) {
		s.fail(w, http.StatusBadRequest, "invalid_request", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := s.l.URL + "/" + tenant
	doc := map[string]any{
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "c2sweep.lab",
		"request_uri_parameter_supported":       false,
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
	}
	if v2 {
		doc["issuer"] = base + "/v2.0"
		doc["authorization_endpoint"] = base + "/oauth2/v2.0/authorize"
		doc["token_endpoint"] = base + "/oauth2/v2.0/token"
		doc["device_authorization_endpoint"] = base + "/oauth2/v2.0/devicecode"
		doc["end_session_endpoint"] = base + "/oauth2/v2.0/logout"
		doc["jwks_uri"] = base + "/discovery/v2.0/keys"
	} else {
		doc["issuer"] = "https://sts.windows.net/" + tenant + "/"
		doc["authorization_endpoint"] = base + "/oauth2/authorize"
		doc["token_endpoint"] = base + "/oauth2/token"
		doc["device_authorization_endpoint"] = base + "/oauth2/devicecode"
		doc["end_session_endpoint"] = base + "/oauth2/logout"
		doc["jwks_uri"] = base + "/discovery/keys"
	}
	writeEntraJSON(w, http.StatusOK, doc)
}

// fail writes Entra's error body: error, error_description (which starts
// with the AADSTS code and ends with the ids, as Entra does), error_codes,
// timestamp, trace_id and correlation_id.
func (s *Service) fail(w http.ResponseWriter, status int, code string, aadsts int, msg string) {
	now := s.l.Options().Now().UTC()
	trace, corr := lab.RandomGUID(), lab.RandomGUID()
	ts := now.Format("2006-01-02 15:04:05Z")
	desc := fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, msg, trace, corr, ts)
	// A struct, not a map: Entra writes the fields in this order.
	writeEntraJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
		Timestamp   string `json:"timestamp"`
		TraceID     string `json:"trace_id"`
		Correlation string `json:"correlation_id"`
		URI         string `json:"error_uri"`
	}{code, desc, []int{aadsts}, ts, trace, corr, s.l.URL + "/error?code=" + strconv.Itoa(aadsts)})
}

func writeEntraJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Service) token(w http.ResponseWriter, r *http.Request, tenant string, v2 bool) {
	if !s.knownTenant(tenant) {
		s.fail(w, http.StatusBadRequest, "invalid_request", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		if f.Get("grant_type") == "" {
			s.fail(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		} else {
			s.fail(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+f.Get("grant_type")+"'.")
		}
		return
	}
	clientID := f.Get("client_id")
	if clientID == "" {
		s.fail(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	resource, ok := s.resource(w, tenant, f.Get("scope"), f.Get("resource"), v2)
	if !ok {
		return
	}
	if c := f.Get("claims"); c != "" && !json.Valid([]byte(c)) {
		s.fail(w, http.StatusBadRequest, "invalid_request", 90014, "The claims parameter is not valid JSON.")
		return
	}
	secret, assertion := f.Get("client_secret"), f.Get("client_assertion")
	ti := s.l.TenantIndex(tenant)
	app := s.l.Creds.Tenants[ti]
	switch {
	case strings.EqualFold(clientID, app.ClientID):
		if secret == "" && assertion == "" {
			s.fail(w, http.StatusBadRequest, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
			return
		}
		if assertion != "" {
			if f.Get("client_assertion_type") != clientAssertionJWTBearer {
				s.fail(w, http.StatusBadRequest, "invalid_request", 90014, "The request body must contain the following parameter: 'client_assertion_type'.")
				return
			}
			// The tenants' apps have no certificate, only a federated
			// identity credential trusting the lab's OIDC issuer.
			if code, msg := s.checkFederated(assertion); code != 0 {
				s.fail(w, http.StatusUnauthorized, "invalid_client", code, msg)
				return
			}
			break
		}
		if subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
			s.fail(w, http.StatusUnauthorized, "invalid_client", 7000215,
				"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+clientID+"'.")
			return
		}
	case ti == 0 && s.certs[strings.ToLower(clientID)] != nil:
		if assertion == "" {
			if secret != "" {
				s.fail(w, http.StatusUnauthorized, "invalid_client", 7000215,
					"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+clientID+"'.")
			} else {
				s.fail(w, http.StatusBadRequest, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
			}
			return
		}
		if f.Get("client_assertion_type") != clientAssertionJWTBearer {
			s.fail(w, http.StatusBadRequest, "invalid_request", 90014, "The request body must contain the following parameter: 'client_assertion_type'.")
			return
		}
		tokenEndpoint := s.l.URL + "/" + tenant + "/oauth2/v2.0/token"
		if !v2 {
			tokenEndpoint = s.l.URL + "/" + tenant + "/oauth2/token"
		}
		if code, msg := s.checkAssertion(assertion, strings.ToLower(clientID), tokenEndpoint); code != 0 {
			s.fail(w, http.StatusUnauthorized, "invalid_client", code, msg)
			return
		}
	default:
		s.fail(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
		return
	}
	s.issue(w, tenant, strings.ToLower(clientID), resource, v2)
}

// resource finds the API a token is for: v2 takes scope=<resource>/.default
// (MSAL adds openid, offline_access and profile), v1 takes resource=.
func (s *Service) resource(w http.ResponseWriter, tenant, scope, resource string, v2 bool) (string, bool) {
	if v2 {
		if scope == "" {
			s.fail(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
			return "", false
		}
		resource = ""
		for _, sc := range strings.Fields(scope) {
			switch sc {
			case "openid", "offline_access", "profile", "email":
				continue
			}
			rs, ok := strings.CutSuffix(sc, "/.default")
			if !ok {
				s.fail(w, http.StatusBadRequest, "invalid_scope", 1002012,
					"The provided value for scope "+sc+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
				return "", false
			}
			resource = rs
		}
	} else if resource == "" {
		s.fail(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'resource'.")
		return "", false
	}
	resource = strings.TrimSuffix(resource, "/")
	if _, ok := resources[resource]; !ok {
		s.fail(w, http.StatusBadRequest, "invalid_resource", 500011,
			fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", resource, tenant))
		return "", false
	}
	return resource, true
}

// checkAssertion verifies a client assertion the way Entra does: a JWT
// signed (RS256 or PS256) by the key of the certificate registered for the
// app, named by its x5t (SHA-1) or x5t#S256 thumbprint, with aud = the
// token endpoint, iss = sub = the client id, and not expired. It returns
// the AADSTS code and message of the first failure, or 0.
func (s *Service) checkAssertion(assertion, clientID, tokenEndpoint string) (int, string) {
	cert := s.certs[clientID]
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return 700027, "Client assertion failed signature validation. The client assertion is not a JWT."
	}
	var hdr struct {
		Alg     string `json:"alg"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}
	var claims struct {
		Aud any         `json:"aud"`
		Iss string      `json:"iss"`
		Sub string      `json:"sub"`
		Exp json.Number `json:"exp"`
		Nbf json.Number `json:"nbf"`
		Jti string      `json:"jti"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return 700027, "Client assertion failed signature validation. The header is not valid."
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return 700027, "Client assertion failed signature validation. The payload is not valid."
	}
	sha1sum := sha1.Sum(cert.Raw)
	sha256sum := sha256.Sum256(cert.Raw)
	switch {
	case hdr.X5tS256 != "":
		if !thumbprintIs(hdr.X5tS256, sha256sum[:]) {
			return 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '" + hdr.X5tS256 + "']"
		}
	case hdr.X5t != "":
		if !thumbprintIs(hdr.X5t, sha1sum[:]) {
			return 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '" + hdr.X5t + "']"
		}
	default:
		return 700027, "Client assertion failed signature validation. The header has no x5t or x5t#S256."
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return 700027, "Client assertion failed signature validation."
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return 700027, "Client assertion failed signature validation."
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch hdr.Alg {
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		err = errors.New("unsupported alg")
	}
	if err != nil {
		return 700027, "Client assertion failed signature validation."
	}
	if !audienceIs(claims.Aud, tokenEndpoint) {
		return 700021, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials."
	}
	if !strings.EqualFold(claims.Iss, clientID) || !strings.EqualFold(claims.Sub, clientID) {
		return 700023, "Client assertion audience or issuer claim does not match the client id."
	}
	now := s.l.Options().Now()
	exp, err := claims.Exp.Float64()
	if err != nil || exp == 0 {
		return 700024, "Client assertion is not within its valid time range. The assertion has no exp claim."
	}
	if now.After(time.Unix(int64(math.Floor(exp)), 0).Add(5 * time.Minute)) {
		return 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from -, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), time.Unix(int64(exp), 0).UTC().Format(time.RFC3339))
	}
	if nbf, err := claims.Nbf.Float64(); err == nil && nbf > 0 && now.Add(5*time.Minute).Before(time.Unix(int64(nbf), 0)) {
		return 700024, "Client assertion is not within its valid time range. The assertion is not yet valid."
	}
	return 0, ""
}

// thumbprintIs compares a thumbprint header with a digest; MSAL writes it in
// standard base64 with padding, RFC 7515 says base64url: both are accepted.
func thumbprintIs(hdr string, sum []byte) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(hdr); err == nil {
			return hmac.Equal(b, sum)
		}
	}
	return false
}

func audienceIs(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return strings.EqualFold(strings.TrimSuffix(a, "/"), want)
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok && strings.EqualFold(strings.TrimSuffix(s, "/"), want) {
				return true
			}
		}
	}
	return false
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}

// Claims are the claims of a lab access token.
type Claims struct {
	Aud   string   `json:"aud"`
	Iss   string   `json:"iss"`
	Iat   int64    `json:"iat"`
	Nbf   int64    `json:"nbf"`
	Exp   int64    `json:"exp"`
	AppID string   `json:"appid"`
	IdTyp string   `json:"idtyp"`
	Oid   string   `json:"oid"`
	Sub   string   `json:"sub"`
	Tid   string   `json:"tid"`
	Roles []string `json:"roles"`
	Ver   string   `json:"ver"`
	Uti   string   `json:"uti"`
}

// issue answers with an access token. The token's exp is the lab clock plus
// TokenLifetime, or plus Faults.TokenExpiry when set: then the token dies
// before the expires_in it advertises, as a revoked or clock-skewed token
// would.
func (s *Service) issue(w http.ResponseWriter, tenant, clientID, resource string, v2 bool) {
	now := s.l.Options().Now().UTC()
	advertised := s.advertised()
	tok, _ := s.mint(tenant, clientID, resource)
	// Structs, not maps: Entra writes the fields in this order.
	if v2 {
		writeEntraJSON(w, http.StatusOK, struct {
			TokenType    string `json:"token_type"`
			ExpiresIn    int64  `json:"expires_in"`
			ExtExpiresIn int64  `json:"ext_expires_in"`
			AccessToken  string `json:"access_token"`
		}{"Bearer", advertised, advertised, tok})
		return
	}
	// v1 sends its numbers as strings.
	writeEntraJSON(w, http.StatusOK, struct {
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in,string"`
		ExtExpiresIn int64  `json:"ext_expires_in,string"`
		ExpiresOn    int64  `json:"expires_on,string"`
		NotBefore    int64  `json:"not_before,string"`
		Resource     string `json:"resource"`
		AccessToken  string `json:"access_token"`
	}{"Bearer", advertised, advertised, now.Unix() + advertised, now.Unix(), resource, tok})
}

// advertised is the lifetime in seconds a token answer advertises.
func (s *Service) advertised() int64 {
	advertised := int64(s.l.Options().TokenLifetime / time.Second)
	if advertised > 1 {
		advertised-- // Entra answers 3599 for an hour
	}
	return advertised
}

// mint makes an access token of an app (or managed identity) of a tenant
// for a resource. Its exp is the lab clock plus TokenLifetime, or plus
// Faults.TokenExpiry when set: then the token dies before the expires_in
// it advertises, as a revoked or clock-skewed token would.
func (s *Service) mint(tenant, clientID, resource string) (string, time.Time) {
	now := s.l.Options().Now().UTC()
	exp := now.Add(s.l.Options().TokenLifetime)
	if d := s.l.Faults().TokenExpiry; d > 0 {
		exp = now.Add(d)
	}
	c := Claims{
		Aud: resource, Iss: "https://sts.windows.net/" + strings.ToLower(tenant) + "/",
		Iat: now.Unix(), Nbf: now.Unix(), Exp: exp.Unix(),
		AppID: clientID, IdTyp: "app", Oid: objectID(clientID), Sub: objectID(clientID),
		Tid: strings.ToLower(tenant), Roles: append([]string{resources[resource].role}, extraRoles[resource]...), Ver: "1.0", Uti: lab.RandomString(22, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
	}
	// Keep sub-second expiry exact for the hunting check.
	return s.sign(c, exp), exp
}

// MintToken makes an access token of tenant t's app (Creds.Tenants[t])
// for a resource of any cloud (e.g. https://graph.microsoft.us), as a
// sign-in would get: for the Azure CLI stub and tests. It fails for a
// tenant or resource the lab does not have.
func (s *Service) MintToken(t int, resource string) (token string, expires time.Time, err error) {
	if t < 0 || t >= len(s.l.Creds.Tenants) {
		return "", time.Time{}, fmt.Errorf("lab: no tenant %d (the lab has %d)", t, len(s.l.Creds.Tenants))
	}
	resource = strings.TrimSuffix(strings.TrimSuffix(resource, "/.default"), "/")
	if _, ok := resources[resource]; !ok {
		return "", time.Time{}, fmt.Errorf("lab: no resource %q", resource)
	}
	app := s.l.Creds.Tenants[t]
	tok, exp := s.mint(app.TenantID, strings.ToLower(app.ClientID), resource)
	return tok, exp, nil
}

// sign makes an HS256 JWT. The exact expiry (with sub-second precision, for
// tests with short lifetimes) rides in a private claim.
func (s *Service) sign(c Claims, exp time.Time) string {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256","kid":"c2sweep-lab"}`))
	body, _ := json.Marshal(struct {
		Claims
		ExpNano int64 `json:"lab_exp_ns"`
	}{c, exp.UnixNano()})
	p := hdr + "." + base64.RawURLEncoding.EncodeToString(body)
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ErrTokenExpired and ErrTokenInvalid are what Verify reports.
var (
	ErrTokenExpired = errors.New("token expired")
	ErrTokenInvalid = errors.New("token invalid")
)

// verify checks a lab access token's signature and lifetime.
func (s *Service) Verify(tok string) (Claims, error) {
	var c struct {
		Claims
		ExpNano int64 `json:"lab_exp_ns"`
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c.Claims, ErrTokenInvalid
	}
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return c.Claims, ErrTokenInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c.Claims, ErrTokenInvalid
	}
	exp := time.Unix(0, c.ExpNano)
	if c.ExpNano == 0 {
		exp = time.Unix(c.Exp, 0)
	}
	if !s.l.Options().Now().Before(exp) {
		return c.Claims, ErrTokenExpired
	}
	return c.Claims, nil
}

// objectID is the service principal's object id of an app, stable per app.
func objectID(clientID string) string {
	h := sha256.Sum256([]byte("sp:" + clientID))
	return lab.SeedGUID(int64(binary.BigEndian.Uint64(h[:8])), 4)
}
