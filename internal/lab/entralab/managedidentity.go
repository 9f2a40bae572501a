package entralab

// Managed identity: the token endpoint App Service and Container Apps give
// a workload through IDENTITY_ENDPOINT and IDENTITY_HEADER (API version
// 2019-08-01), the protocol azidentity's ManagedIdentityCredential speaks
// there (MSAL's createAppServiceAuthRequest):
//
//	GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=R[&client_id=ID]
//	X-IDENTITY-HEADER: IDENTITY_HEADER
//
// -> {"access_token","expires_on" (epoch seconds, a string),"resource",
// "token_type":"Bearer","client_id"}. The lab's endpoint signs in one
// user-assigned identity, Creds.ManagedIdentityClientID, in tenant 0.

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"c2sweep/internal/lab"
)

// ManagedIdentityPath is the lab's managed identity endpoint; the lab's
// URL + ManagedIdentityPath is IDENTITY_ENDPOINT.
const ManagedIdentityPath = lab.ManagedIdentityPath

const appServiceAPIVersion = "2019-08-01"

func (s *Service) managedIdentity(w http.ResponseWriter, r *http.Request) {
	// The service's errors: {"statusCode","message","correlationId"}.
	fail := func(status int, msg string) {
		writeEntraJSON(w, status, struct {
			StatusCode    int    `json:"statusCode"`
			Message       string `json:"message"`
			CorrelationID string `json:"correlationId"`
		}{status, msg, lab.RandomGUID()})
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		fail(http.StatusMethodNotAllowed, "The requested resource does not support http method '"+r.Method+"'.")
		return
	}
	// The header's value is never echoed: it is a secret.
	got := r.Header.Get("X-IDENTITY-HEADER")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.l.Creds.IdentityHeader)) != 1 {
		fail(http.StatusUnauthorized, "Invalid secret token header.")
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != appServiceAPIVersion {
		fail(http.StatusBadRequest, "The api-version '"+v+"' is not supported; use "+appServiceAPIVersion+".")
		return
	}
	resource := strings.TrimSuffix(q.Get("resource"), "/")
	if resource == "" {
		fail(http.StatusBadRequest, "The resource parameter is required.")
		return
	}
	if _, ok := resources[resource]; !ok {
		fail(http.StatusBadRequest, "AADSTS500011: The resource principal named "+resource+" was not found in the tenant.")
		return
	}
	mi := strings.ToLower(s.l.Creds.ManagedIdentityClientID)
	for _, k := range []string{"client_id", "object_id", "mi_res_id", "principal_id"} {
		if v := q.Get(k); v != "" && !(k == "client_id" && strings.EqualFold(v, mi)) {
			fail(http.StatusBadRequest, "Unable to load the proper Managed Identity.")
			return
		}
	}
	tok, _ := s.mint(s.l.Creds.TenantID, mi, resource)
	// expires_on is what the token says, as the service advertises it.
	expiresOn := s.l.Options().Now().Unix() + s.advertised()
	writeEntraJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"`
		Resource    string `json:"resource"`
		TokenType   string `json:"token_type"`
		ClientID    string `json:"client_id"`
	}{tok, strconv.FormatInt(expiresOn, 10), resource, "Bearer", mi})
}
