package hunting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"c2sweep/internal/redact"
)

// AuthOptions says how to sign in to Entra ID.
type AuthOptions struct {
	// Method is "auto" (the default: secret if one is set, certificate if a
	// path is, else the default chain), "secret", "certificate",
	// "managed-identity", "workload-identity", "azure-cli" or "default".
	Method              string
	TenantID, ClientID  string
	ClientSecret        string
	CertificatePath     string // PEM or PKCS#12 with the private key
	CertificatePassword string
	// AuthorityHost is the Entra ID root, e.g. https://login.microsoftonline.us/
	// (default: the public cloud).
	AuthorityHost string
	// HTTPClient carries the sign-in requests (default: Go's, which trusts
	// the system roots and SSL_CERT_FILE).
	HTTPClient *http.Client
}

// AuthFromEnv reads the standard Azure variables.
func AuthFromEnv() AuthOptions {
	return AuthOptions{
		Method:          "auto",
		TenantID:        os.Getenv("AZURE_TENANT_ID"),
		ClientID:        os.Getenv("AZURE_CLIENT_ID"),
		ClientSecret:    os.Getenv("AZURE_CLIENT_SECRET"),
		CertificatePath: os.Getenv("AZURE_CLIENT_CERTIFICATE_PATH"),
		// AZURE_CLIENT_CERTIFICATE_PASSWORD is the SDK's name for it.
		CertificatePassword: os.Getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
		AuthorityHost:       os.Getenv("AZURE_AUTHORITY_HOST"),
	}
}

// microsoftAuthorities are the hosts for which instance discovery works.
var microsoftAuthorities = []string{
	"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
	"login.microsoft.com", "login.windows.net", "login.partner.microsoftonline.cn", "login.usgovcloudapi.net",
}

// NewCredential builds the azidentity credential for o. Its sign-in errors
// never carry the client secret or certificate password.
func NewCredential(o AuthOptions) (azcore.TokenCredential, error) {
	method := o.Method
	if method == "" || method == "auto" {
		switch {
		case o.ClientSecret != "":
			method = "secret"
		case o.CertificatePath != "":
			method = "certificate"
		default:
			method = "default"
		}
	}
	copts := azcore.ClientOptions{}
	disableDiscovery := false
	if o.AuthorityHost != "" {
		u, err := url.Parse(o.AuthorityHost)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("authority host %q: want an https URL", o.AuthorityHost)
		}
		copts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: o.AuthorityHost}
		disableDiscovery = true
		for _, h := range microsoftAuthorities {
			if strings.EqualFold(u.Hostname(), h) {
				disableDiscovery = false
			}
		}
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	host := "login.microsoftonline.com"
	if o.AuthorityHost != "" {
		u, _ := url.Parse(o.AuthorityHost)
		host = u.Host
	}
	rec := &recordingTransport{next: hc, host: host}
	copts.Transport = rec
	// A certificate that failed to verify fails the same way again.
	copts.Retry.ShouldRetry = func(resp *http.Response, err error) bool {
		if err != nil {
			k, ok := transportKind(err)
			return !ok || k != KindTLS
		}
		switch resp.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	need := func(what ...string) error {
		var missing []string
		for i := 0; i+1 < len(what); i += 2 {
			if what[i+1] == "" {
				missing = append(missing, what[i])
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: sign-in method %s needs %s", ErrAuth, method, strings.Join(missing, ", "))
		}
		return nil
	}
	var (
		cred azcore.TokenCredential
		err  error
	)
	switch method {
	case "secret":
		if err := need("tenant id", o.TenantID, "client id", o.ClientID, "client secret", o.ClientSecret); err != nil {
			return nil, err
		}
		cred, err = azidentity.NewClientSecretCredential(o.TenantID, o.ClientID, o.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: disableDiscovery})
	case "certificate":
		if err := need("tenant id", o.TenantID, "client id", o.ClientID, "certificate path", o.CertificatePath); err != nil {
			return nil, err
		}
		data, rerr := os.ReadFile(o.CertificatePath)
		if rerr != nil {
			return nil, fmt.Errorf("%w: client certificate: %w", ErrAuth, rerr)
		}
		var pw []byte
		if o.CertificatePassword != "" {
			pw = []byte(o.CertificatePassword)
		}
		certs, key, perr := azidentity.ParseCertificates(data, pw)
		if perr != nil {
			return nil, fmt.Errorf("%w: client certificate %s: %s", ErrAuth, o.CertificatePath, redact.Text(perr.Error(), o.ClientSecret, o.CertificatePassword))
		}
		cred, err = azidentity.NewClientCertificateCredential(o.TenantID, o.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: disableDiscovery})
	case "managed-identity":
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: copts}
		if o.ClientID != "" {
			mo.ID = azidentity.ClientID(o.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(mo)
	case "workload-identity":
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: copts, TenantID: o.TenantID, ClientID: o.ClientID, DisableInstanceDiscovery: disableDiscovery,
		})
	case "azure-cli":
		cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: o.TenantID})
	case "default":
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: copts, TenantID: o.TenantID, DisableInstanceDiscovery: disableDiscovery,
		})
	default:
		return nil, fmt.Errorf("unknown sign-in method %q (auto, secret, certificate, managed-identity, workload-identity, azure-cli, default)", o.Method)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrAuth, redact.Text(err.Error(), o.ClientSecret, o.CertificatePassword))
	}
	// Only these talk to Entra ID alone: a failure of the default chain
	// or of managed identity may be another endpoint's (IMDS, the CLI).
	entra := method == "secret" || method == "certificate" || method == "workload-identity"
	return &redactingCredential{cred: cred, o: o, rec: rec, host: host, entra: entra}, nil
}

// redactingCredential turns sign-in errors into *SignInError: classified
// (network, TLS, service, credentials) and unable to show a secret,
// whatever the SDK put in them.
type redactingCredential struct {
	cred  azcore.TokenCredential
	o     AuthOptions
	rec   *recordingTransport
	host  string
	entra bool // the credential talks to Entra ID only
}

func (c *redactingCredential) GetToken(ctx context.Context, tro policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.rec.take()
	tok, err := c.cred.GetToken(ctx, tro)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return tok, err
		}
		return tok, c.classify(err, c.rec.take())
	}
	return tok, nil
}

// classify says what a failed sign-in was. A transport error (seen by
// the recording transport, or only in azidentity's text) is the network
// or TLS; a server error status is the service; an Entra error body is
// the credentials.
func (c *redactingCredential) classify(err, transport error) *SignInError {
	e := &SignInError{Host: c.host}
	if transport != nil {
		if k, ok := transportKind(transport); ok {
			e.Kind, e.Msg = k, redact.Text(innermost(transport), c.o.ClientSecret, c.o.CertificatePassword)
			return e
		}
	}
	// The default chain's and managed identity's reports are kept whole:
	// they say what each credential tried, at which endpoint.
	var afe *azidentity.AuthenticationFailedError
	if c.entra && errors.As(err, &afe) && afe.RawResponse != nil && afe.RawResponse.StatusCode >= 500 {
		e.Kind, e.Msg = KindService, "answered "+afe.RawResponse.Status
		return e
	}
	msg := redact.Text(err.Error(), c.o.ClientSecret, c.o.CertificatePassword)
	if k, ok := transportKind(err); ok && c.entra && !strings.Contains(msg, "AADSTS") {
		e.Kind, e.Msg = k, msg
		return e
	}
	e.Msg, e.Codes = summariseSignIn(msg)
	return e
}

// summariseSignIn cuts azidentity's multi-line failure report (request
// line, separators, the whole JSON body, a troubleshooting link) down to
// one line with Entra's own description, and returns Entra's error codes.
// A report without an Entra error body (the default chain's list of
// credentials tried) is kept whole.
func summariseSignIn(msg string) (string, []int) {
	i, j := strings.Index(msg, "\n{"), strings.LastIndex(msg, "\n}")
	if i < 0 || j < i {
		return msg, nil
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if json.Unmarshal([]byte(msg[i+1:j+2]), &body) != nil || body.Description == "" {
		return msg, nil
	}
	desc := body.Description
	if k := strings.Index(desc, " Trace ID:"); k > 0 {
		desc = desc[:k]
	}
	head, _, _ := strings.Cut(msg, "\n")
	out := strings.TrimRight(strings.TrimSpace(head), ".:") + ": " + desc
	if body.Error != "" {
		out += " (" + body.Error + ")"
	}
	return out, body.Codes
}
