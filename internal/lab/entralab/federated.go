package entralab

// Workload identity: the lab is also the OIDC issuer of Kubernetes-style
// service account tokens (FederatedIssuer), and every tenant's app holds a
// federated identity credential trusting it for FederatedSubject and
// FederatedAudience. Entra ID exchanges such a token, sent as a client
// assertion, for an access token; so does the lab, after checking the
// token's signature, issuer, subject, audience and lifetime.

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"
)

// The federated identity credential every tenant's app holds.
const (
	FederatedSubject  = "system:serviceaccount:c2sweep:sweeper"
	FederatedAudience = "api://AzureADTokenExchange"
	// FederatedLifetime is how long WriteFederatedToken's token lives, as a
	// projected service account token's default.
	FederatedLifetime = time.Hour
	oidcSegment       = "oidc"
	federatedKeyID    = "c2sweep-lab-oidc"
)

// FederatedIssuer is the lab's OIDC issuer: its URL + "/oidc".
func (s *Service) FederatedIssuer() string { return s.l.URL + "/" + oidcSegment }

// FederatedClaims are the claims of a federated (service account) token.
type FederatedClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Nbf int64  `json:"nbf"`
	Exp int64  `json:"exp"`
}

// FederatedToken is a service account token as Kubernetes projects it:
// iss FederatedIssuer, sub FederatedSubject, aud FederatedAudience, valid
// from the lab clock's now for FederatedLifetime, signed ES256 by the lab's
// OIDC key.
func (s *Service) FederatedToken() string {
	now := s.l.Options().Now()
	return s.SignFederated(FederatedClaims{Iss: s.FederatedIssuer(), Sub: FederatedSubject, Aud: FederatedAudience,
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(FederatedLifetime).Unix()})
}

// SignFederated signs any claims with the lab's OIDC key, for tests of
// refused tokens (another subject, expired ...).
func (s *Service) SignFederated(c FederatedClaims) string {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"` + federatedKeyID + `","typ":"JWT"}`))
	body, _ := json.Marshal(c)
	p := hdr + "." + base64.RawURLEncoding.EncodeToString(body)
	digest := sha256.Sum256([]byte(p))
	r, sv, err := ecdsa.Sign(rand.Reader, s.fedKey, digest[:])
	if err != nil {
		panic("lab: ecdsa: " + err.Error())
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return p + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// WriteFederatedToken writes FederatedToken to path (mode 0600), the file
// AZURE_FEDERATED_TOKEN_FILE names, for tenant t's app: every tenant's app
// trusts the same service account, so the token is the same; t must be a
// tenant of the lab.
func (s *Service) WriteFederatedToken(path string, t int) error {
	if t < 0 || t >= len(s.l.Creds.Tenants) {
		return fmt.Errorf("lab: no tenant %d (the lab has %d)", t, len(s.l.Creds.Tenants))
	}
	return os.WriteFile(path, []byte(s.FederatedToken()), 0o600)
}

// oidc serves the issuer's discovery document and keys, which Entra ID
// reads to check a federated token.
func (s *Service) oidc(w http.ResponseWriter, r *http.Request, rest string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch rest {
	case ".well-known/openid-configuration":
		writeEntraJSON(w, http.StatusOK, map[string]any{
			"issuer": s.FederatedIssuer(), "jwks_uri": s.FederatedIssuer() + "/openid/v1/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	case "openid/v1/jwks":
		pub, err := s.fedKey.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil || len(pub) != 65 {
			http.Error(w, "no key", http.StatusInternalServerError)
			return
		}
		x, y := pub[1:33], pub[33:]
		writeEntraJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
			"use": "sig", "kty": "EC", "kid": federatedKeyID, "crv": "P-256", "alg": "ES256",
			"x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y),
		}}})
	default:
		http.NotFound(w, r)
	}
}

// checkFederated checks a client assertion against the federated identity
// credential of the tenants' apps, in Entra's order: a JWT, from the
// trusted issuer, signed by its key, within its lifetime, for the
// credential's audience and subject. It returns the AADSTS code and
// message of the first failure, or 0.
func (s *Service) checkFederated(assertion string) (int, string) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return 50027, "JWT token is invalid or malformed."
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		X5t string `json:"x5t"`
	}
	var c struct {
		Iss string      `json:"iss"`
		Sub string      `json:"sub"`
		Aud any         `json:"aud"`
		Exp json.Number `json:"exp"`
		Nbf json.Number `json:"nbf"`
	}
	if decodeSegment(parts[0], &hdr) != nil || decodeSegment(parts[1], &c) != nil {
		return 50027, "JWT token is invalid or malformed."
	}
	if c.Iss != s.FederatedIssuer() {
		if hdr.X5t != "" {
			// A certificate's assertion: these apps have no certificate.
			return 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '" + hdr.X5t + "']"
		}
		return 700211, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", c.Iss)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if hdr.Alg != "ES256" || hdr.Kid != federatedKeyID || err != nil || len(sig) != 64 {
		return 50013, "Assertion failed signature validation. [Reason - The key was not found., Key ID: '" + hdr.Kid + "']"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&s.fedKey.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return 50013, "Assertion failed signature validation. [Reason - Signature is invalid.]"
	}
	now := s.l.Options().Now()
	exp, err := c.Exp.Float64()
	if err != nil || exp == 0 {
		return 700024, "Client assertion is not within its valid time range. The assertion has no exp claim."
	}
	if !now.Before(time.Unix(int64(math.Floor(exp)), 0).Add(5 * time.Minute)) {
		return 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), time.Unix(int64(exp), 0).UTC().Format(time.RFC3339))
	}
	if nbf, err := c.Nbf.Float64(); err == nil && nbf > 0 && now.Add(5*time.Minute).Before(time.Unix(int64(nbf), 0)) {
		return 700024, "Client assertion is not within its valid time range. The assertion is not yet valid."
	}
	if !audienceIs(c.Aud, FederatedAudience) {
		return 700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%v'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", c.Aud)
	}
	if c.Sub != FederatedSubject {
		return 700213, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", c.Sub)
	}
	return 0, ""
}
