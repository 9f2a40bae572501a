package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"c2sweep/internal/config"
	"c2sweep/internal/hunting"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/retry"
	"c2sweep/internal/shodan"
	"c2sweep/internal/store"
)

// Every error is printed in one format, its hint chosen here from its type.
func TestPrintErrorOneFormat(t *testing.T) {
	t.Setenv("SSL_CERT_FILE", "")
	for _, tc := range []struct {
		err        error
		msg, hint  string
		notInHints string
	}{
		{&hunting.SignInError{Kind: hunting.KindNetwork, Host: "login.example", Msg: "dial tcp: connection refused"},
			"sign-in: cannot reach Entra ID at login.example: dial tcp: connection refused", "proxy (HTTPS_PROXY, NO_PROXY) from this host to login.example", "AZURE_CLIENT_SECRET"},
		{fmt.Errorf("graph: %w", &hunting.SignInError{Kind: hunting.KindTLS, Host: "login.example", Msg: "x509: certificate signed by unknown authority"}),
			"graph: sign-in: TLS: Entra ID at login.example: x509: certificate signed by unknown authority", "the system's CAs do not trust login.example", "AZURE_CLIENT_SECRET"},
		{&hunting.SignInError{Kind: hunting.KindService, Host: "login.example", Msg: "answered 503 Service Unavailable"},
			"sign-in: Entra ID at login.example failed: answered 503 Service Unavailable", "try again later", "AZURE_CLIENT_SECRET"},
		{&hunting.SignInError{Kind: hunting.KindCredentials, Codes: []int{90002}, Msg: "AADSTS90002: Tenant 't' not found."},
			"sign-in: AADSTS90002: Tenant 't' not found.", "check AZURE_TENANT_ID", "proxy"},
		{&hunting.SignInError{Kind: hunting.KindCredentials, Msg: "DefaultAzureCredential: failed to acquire a token."},
			"sign-in: DefaultAzureCredential: failed to acquire a token.", credentialsHint, "proxy"},
		{&store.Error{Path: "/s.db", Kind: store.ErrCorrupt, Msg: "corrupt: page 3", Hint: "move /s.db aside"},
			"state /s.db: corrupt: page 3", "move /s.db aside", ""},
		{&pipeline.OutDirError{Dir: "/f/r", Err: errors.New("mkdir /f: not a directory")},
			"results directory /f/r: mkdir /f: not a directory", "--out", ""},
		// Typed errors of low-level packages get their hint here.
		{fmt.Errorf("shodan: %w", shodan.ErrNoKey), "shodan: no Shodan API key", "set SHODAN_API_KEY", ""},
		{&shodan.APIError{Endpoint: "/api-info", Status: 401, Err: shodan.ErrUnauthorized},
			"shodan /api-info: status 401: Shodan rejected the API key", "check SHODAN_API_KEY", ""},
		{&shodan.APIError{Endpoint: "/shodan/host/search", Status: 402, Err: shodan.ErrNoCredits},
			"shodan /shodan/host/search: status 402: Shodan: insufficient query credits", "monthly query credits", ""},
		{fmt.Errorf("lab: %w", &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}),
			"lab: listen tcp: bind: address already in use", "--listen 127.0.0.1:PORT", ""},
		{&config.Error{Msg: "no state path: $HOME is not defined", Hint: "set state.path or --state"},
			"no state path: $HOME is not defined", "set state.path or --state", ""},
		{withHint(errors.New("no hunt is enabled"), "enable one"), "no hunt is enabled", "enable one", ""},
		{fmt.Errorf("graph: %w: %w", hunting.ErrOverQuota, errors.New("400: over quota")),
			"graph: the tenant is over its hunting CPU quota: 400: over quota", "CPU quota", "AZURE_CLIENT_SECRET"},
		{fmt.Errorf("graph: %w", &retry.TimeoutError{After: 3 * time.Minute, Err: context.DeadlineExceeded}),
			"graph: no complete answer within 3m0s: context deadline exceeded", "did not finish an answer in time", ""},
		{fmt.Errorf("graph: %w", &retry.BodyTooLargeError{Limit: 10}),
			"graph: answer larger than 10 bytes: stopped reading", "past its size bound", ""},
		{errors.New("plain"), "plain", "", ""},
	} {
		var b bytes.Buffer
		printError(&b, tc.err)
		want := "c2sweep: " + tc.msg + "\n"
		got := b.String()
		if !strings.HasPrefix(got, want) {
			t.Errorf("%v: got %q, want it to start %q", tc.err, got, want)
			continue
		}
		rest := strings.TrimPrefix(got, want)
		if tc.hint == "" {
			if rest != "" {
				t.Errorf("%v: unexpected %q", tc.err, rest)
			}
			continue
		}
		if !strings.HasPrefix(rest, "hint: ") || !strings.Contains(rest, tc.hint) || strings.Count(rest, "\n") != 1 ||
			(tc.notInHints != "" && strings.Contains(rest, tc.notInHints)) {
			t.Errorf("%v: hint line %q, want one containing %q", tc.err, rest, tc.hint)
		}
	}
}

// Each problem of a config file gets its own hint line.
func TestPrintErrorConfigProblems(t *testing.T) {
	err := config.Errors{
		{File: "c.yaml", Line: 3, Key: "sweep.lookbak", Msg: "unknown key", Hint: "did you mean lookback?"},
		{File: "c.yaml", Line: 7, Key: "sweep.api", Msg: `"gaph" is not one of graph, mde`},
	}
	var b bytes.Buffer
	printError(&b, err)
	want := "c2sweep: c.yaml:3: sweep.lookbak: unknown key\nhint: did you mean lookback?\n" +
		"c2sweep: c.yaml:7: sweep.api: \"gaph\" is not one of graph, mde\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// Error text can quote a hostile server's answer: escapes and bidi
// controls are printed as visible text, each error and hint on one line.
func TestPrintErrorEscapesUntrustedText(t *testing.T) {
	evil := "denied\x1b[2J\x1b]8;;https://evil.example\x07click\u202etxt.exe\nhint: fake"
	for _, err := range []error{
		&hunting.APIError{Status: 400, Code: "BadRequest", Message: evil},
		config.Errors{{File: "c.yaml", Line: 2, Key: "hunts[0].query", Msg: evil, Hint: "fix it\x1b[31m"}},
		withHint(errors.New(evil), "see \u202eabc"),
	} {
		var b bytes.Buffer
		printError(&b, err)
		out := b.String()
		if strings.ContainsAny(out, "\x1b\x07\u202e") || strings.Count(out, "\n") > 2 || strings.Contains(out, "\nhint: fake") {
			t.Errorf("%T: raw control text reaches the terminal: %q", err, out)
		}
		if !strings.Contains(out, `\x1b[2J`) {
			t.Errorf("%T: the escape is not shown as text: %q", err, out)
		}
	}
}

// Under a run's summary, each failed query's hint is said once per kind,
// from its typed error.
func TestRunHintsOfFailedQueries(t *testing.T) {
	var b bytes.Buffer
	g := &Globals{stdout: io.Discard, stderr: &b}
	timeout := fmt.Errorf("graph: %w", &retry.TimeoutError{After: 3 * time.Minute, Err: context.DeadlineExceeded})
	s := &pipeline.Summary{Outcome: pipeline.OutcomePartial, Totals: pipeline.Totals{Queries: 4, QueriesFailed: 3},
		QueryErrors: []error{timeout, timeout, fmt.Errorf("graph: %w", &retry.BodyTooLargeError{Limit: 1 << 20})}}
	printHints(g, s)
	out := b.String()
	if strings.Count(out, "hint: the server did not finish an answer in time") != 1 ||
		strings.Count(out, "hint: an answer went past its size bound") != 1 ||
		!strings.Contains(out, "hint: the failed parts are retried by the next run") {
		t.Errorf("hints under the summary:\n%s", out)
	}
}
