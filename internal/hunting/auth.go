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
	if o.HTTPClient != nil {
		copts.Transport = o.HTTPClient
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
	return &redactingCredential{cred: cred, o: o}, nil
}

// redactingCredential wraps sign-in errors so that they match ErrAuth and
// cannot show a secret, whatever the SDK put in them.
type redactingCredential struct {
	cred azcore.TokenCredential
	o    AuthOptions
}

func (c *redactingCredential) GetToken(ctx context.Context, tro policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.cred.GetToken(ctx, tro)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return tok, err
		}
		return tok, &signInError{msg: summariseSignIn(redact.Text(err.Error(), c.o.ClientSecret, c.o.CertificatePassword))}
	}
	return tok, nil
}

// signInError is a failed sign-in, text already redacted.
type signInError struct{ msg string }

func (e *signInError) Error() string        { return "sign-in: " + e.msg }
func (e *signInError) Is(target error) bool { return target == ErrAuth }

// signInHints say what to check for the Entra errors a user meets first.
var signInHints = map[int]string{
	7000215: "check AZURE_CLIENT_SECRET: it must be the secret's value, not its ID, and not expired",
	7000222: "the client secret has expired: create a new one for the app registration",
	700016:  "check AZURE_CLIENT_ID and AZURE_TENANT_ID: the app is not registered in that tenant",
	90002:   "check AZURE_TENANT_ID (and AZURE_AUTHORITY_HOST for a sovereign cloud)",
	700027:  "the certificate is not the one registered for the app, or its key does not match",
}

// summariseSignIn cuts azidentity's multi-line failure report (request
// line, separators, the whole JSON body, a troubleshooting link) down to
// one line with Entra's own description, plus a hint for common errors.
// A report without an Entra error body (the default chain's list of
// credentials tried, a network error) is kept whole.
func summariseSignIn(msg string) string {
	i, j := strings.Index(msg, "\n{"), strings.LastIndex(msg, "\n}")
	if i < 0 || j < i {
		return msg
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if json.Unmarshal([]byte(msg[i+1:j+2]), &body) != nil || body.Description == "" {
		return msg
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
	for _, c := range body.Codes {
		if h, ok := signInHints[c]; ok {
			return out + "\nhint: " + h
		}
	}
	return out
}
