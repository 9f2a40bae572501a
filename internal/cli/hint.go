package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"c2sweep/internal/config"
	"c2sweep/internal/defender"
	"c2sweep/internal/hunting"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/retry"
	"c2sweep/internal/shodan"
	shodansource "c2sweep/internal/source/shodan"
	"c2sweep/internal/store"
	"c2sweep/internal/textsafe"
)

// Hints (the "hint:" lines a user reads) are made here and nowhere else:
// the packages below return typed errors, and explain turns each into what
// happened and what to do, printed by printError in one format:
//
//	c2sweep: <what happened>
//	hint: <what to do>

// hinted is an error with the hint the command line gives for it.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() }
func (h *hinted) Unwrap() error { return h.err }

// withHint gives err a hint, unless it already has one of its own.
func withHint(err error, hint string) error {
	if _, h := explain(err); h != "" {
		return err
	}
	return &hinted{err: err, hint: hint}
}

// credentialsHint is the hint of a refused sign-in without a better one.
const credentialsHint = "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or certificate; the app needs " +
	"ThreatHunting.Read.All (--api graph) or AdvancedQuery.Read.All (--api mde), with admin consent"

// pushCredentialsHint is the hint of a refused sign-in of indicators push.
const pushCredentialsHint = "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or certificate; indicators push needs " +
	"the application permission " + defender.Permission + ", with admin consent"

// Hints of a failed query, also said under a run's summary.
const (
	overQuotaHint = "the tenant has spent its advanced-hunting CPU quota for this cycle: no more queries were sent; " +
		"the next run (after the quota resets) covers their windows, and smaller queries (--max-ips-per-query) spend less of it"
	bodyTooLargeHint = "an answer went past its size bound: a busy address (CDN, cloud front) can fill it; " +
		"suppress it or use a shorter --lookback"
	timeoutHint = "the server did not finish an answer in time: check the network and proxy to it; " +
		"a shorter --lookback or fewer indicators per query answer faster"
)

// aadstsHints say what to check for the Entra errors a user meets first.
var aadstsHints = map[int]string{
	7000215: "check AZURE_CLIENT_SECRET (or the target's azure: client_secret; 'c2sweep targets' shows where each comes from): it must be the secret's value, not its ID, and not expired",
	7000222: "the client secret has expired: create a new one for the app registration",
	700016:  "check AZURE_CLIENT_ID and AZURE_TENANT_ID (or the target's azure:): the app is not registered in that tenant",
	90002:   "check AZURE_TENANT_ID (or the target's azure: tenant_id), and the cloud: of a sovereign tenant",
	700027:  "the certificate is not the one registered for the app, or its key does not match",
}

// explain splits err into the message and the hint to print.
func explain(err error) (msg, hint string) {
	// Hints come from types only: an error's text can quote a server,
	// which must not be able to pass its own "hint:" off as ours.
	msg = strings.TrimSpace(err.Error())
	var (
		h  *hinted
		se *hunting.SignInError
		re *hunting.ReachError
		st *store.Error
		le *store.LockedError
		ae *hunting.AccessError
		oe *pipeline.OutDirError
		ce *shodansource.CreditsError
		ds *defender.SignInError
	)
	switch {
	case errors.As(err, &h):
		hint = h.hint
	case errors.As(err, &ds):
		hint = pushCredentialsHint
		if errors.As(err, &se) {
			if sh := signInHint(se); sh != credentialsHint {
				hint = sh
			}
		}
	case errors.As(err, &se):
		hint = signInHint(se)
	case errors.As(err, &re):
		hint = reachHint(re.Kind, re.Host, "--api-url (C2SWEEP_API_URL)")
	case errors.As(err, &st) && st.Hint != "":
		hint = st.Hint
	case errors.As(err, &le):
		hint = "wait for it to finish, or use --wait, or give this run its own --state FILE"
	case errors.As(err, &ae) && ae.Status == 403:
		hint = "grant the app registration the application permission " + ae.Permission + ", with admin consent"
	case errors.As(err, &ae) && ae.API == "defender":
		hint = "the Defender API refused a fresh token: it needs a token for https://api.securitycenter.microsoft.com with " +
			ae.Permission + "; check --api-url (C2SWEEP_DEFENDER_API_URL) and the tenant"
	case errors.As(err, &ae):
		hint = "the API refused a fresh token: check that --api and --api-url name the service the token is for, and the tenant"
	case errors.As(err, &oe):
		hint = "give --out a directory this user can create and write (its parents must be directories); nothing was spent"
	case errors.As(err, &ce):
		hint = "raise --credit-budget, disable hunts, or wait for the monthly reset"
	case errors.Is(err, shodan.ErrNoKey):
		hint = "set SHODAN_API_KEY, run 'shodan init KEY', or try 'c2sweep demo' first"
	case errors.Is(err, shodan.ErrUnauthorized):
		hint = "check SHODAN_API_KEY (or 'shodan init KEY') and SHODAN_API_URL"
	case errors.Is(err, shodan.ErrNoCredits):
		hint = "the plan's monthly query credits are spent; wait for the reset or lower the hunts' page budgets"
	case errors.Is(err, shodan.ErrForbidden):
		hint = "search with filters needs a paid Shodan plan (membership or API plan)"
	case errors.Is(err, syscall.EADDRINUSE):
		hint = "another program holds that address; choose another port (--listen 127.0.0.1:PORT, or port 0 for any free one)"
	case errors.Is(err, hunting.ErrOverQuota):
		hint = overQuotaHint
	case errors.Is(err, retry.ErrBodyTooLarge):
		hint = bodyTooLargeHint
	case errors.Is(err, retry.ErrTimeout):
		hint = timeoutHint
	case errors.Is(err, hunting.ErrAuth):
		hint = credentialsHint
	}
	return msg, hint
}

func signInHint(e *hunting.SignInError) string {
	if e.Kind != hunting.KindCredentials {
		return reachHint(e.Kind, e.Host, "AZURE_AUTHORITY_HOST")
	}
	for _, c := range e.Codes {
		if h, ok := aadstsHints[c]; ok {
			return h
		}
	}
	return credentialsHint
}

// reachHint says what to check when host could not be reached (network),
// not trusted (TLS) or failed (service); setting names where host is set.
func reachHint(k hunting.Kind, host, setting string) string {
	switch k {
	case hunting.KindTLS:
		if f := os.Getenv("SSL_CERT_FILE"); f != "" {
			if _, err := os.Stat(f); err != nil {
				return "SSL_CERT_FILE names " + f + ", which cannot be read: point it at the CA bundle, or unset it"
			}
			return "SSL_CERT_FILE (" + f + ") must hold the CA that signed " + host + "'s certificate " +
				"(a TLS-inspecting proxy's CA, if one is in between); check the system clock too"
		}
		return "the system's CAs do not trust " + host + "'s certificate: add the CA that signed it " +
			"(a TLS-inspecting proxy's, if one is in between) with SSL_CERT_FILE; check the system clock too"
	case hunting.KindService:
		return host + " or a proxy in front of it is failing; nothing was spent: try again later, and check the proxy if it persists"
	}
	return "check the network, DNS and proxy (HTTPS_PROXY, NO_PROXY) from this host to " + host + ", and " + setting
}

// printError prints err and its hint; every problem of a config file
// with its own. Error text can quote a server's answer or a file's
// content, so it is escaped for the terminal (textsafe.Terminal) and
// stays on its line.
func printError(w io.Writer, err error) {
	var ces config.Errors
	if errors.As(err, &ces) && len(ces) > 0 {
		for _, e := range ces {
			fmt.Fprintf(w, "c2sweep: %s\n", textsafe.Terminal(e.Error()))
			printHint(w, e.Hint)
		}
		return
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "c2sweep: %s\n", textsafe.Terminal(strings.TrimSpace(err.Error())))
		printHint(w, ce.Hint)
		return
	}
	msg, hint := explain(err)
	fmt.Fprintf(w, "c2sweep: %s\n", textsafe.Terminal(msg))
	printHint(w, hint)
}

// printHint prints one hint line, or nothing for "".
func printHint(w io.Writer, hint string) {
	if hint != "" {
		fmt.Fprintf(w, "hint: %s\n", textsafe.Terminal(hint))
	}
}
