package hunting_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/huntinglab"
	"c2sweep/internal/lab/labtest"
)

type fixture struct {
	lab    *lab.Lab
	clock  *clock.Fake
	client *http.Client
}

func newFixture(t testing.TB, o lab.Options) *fixture {
	t.Helper()
	// Start at the real time: MSAL stamps client assertions with it.
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	o.Now = clk.Now
	l := labtest.Start(t, o)
	return &fixture{lab: l, clock: clk, client: labtest.Client(l)}
}

func (f *fixture) auth() hunting.AuthOptions {
	return hunting.AuthOptions{TenantID: f.lab.Creds.TenantID, ClientID: f.lab.Creds.ClientID, ClientSecret: f.lab.Creds.ClientSecret,
		AuthorityHost: f.lab.URL + "/", HTTPClient: f.client}
}

func (f *fixture) options(t testing.TB) hunting.Options {
	t.Helper()
	cred, err := hunting.NewCredential(f.auth())
	if err != nil {
		t.Fatal(err)
	}
	return hunting.Options{BaseURL: f.lab.URL, Credential: cred, HTTPClient: f.client, Clock: f.clock}
}

// sweepQuery is the query c2sweep sends for the DeviceNetworkEvents
// contacts, with its ground truth.
func (f *fixture) sweepQuery(t *testing.T) (hunting.Request, []lab.Event) {
	t.Helper()
	w := f.lab.World
	end := f.clock.Now()
	start := end.Add(-30 * 24 * time.Hour)
	var lits []string
	var ips []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, c := range w.Contacts {
		if c.Table != "DeviceNetworkEvents" || seen[c.ServerIP] {
			continue
		}
		seen[c.ServerIP] = true
		lits = append(lits, fmt.Sprintf("%q", c.ServerIP))
		ips = append(ips, c.ServerIP)
		if c.ServerIP.Is4() {
			m := netip.AddrFrom16(c.ServerIP.As16())
			lits = append(lits, fmt.Sprintf("%q", m))
			ips = append(ips, m)
		}
	}
	if len(ips) == 0 {
		t.Fatal("the lab world has no DeviceNetworkEvents contact")
	}
	q := fmt.Sprintf("DeviceNetworkEvents\n| where Timestamp between (datetime(%s) .. datetime(%s))\n| where RemoteIP in (%s)\n| project Timestamp, DeviceId, DeviceName, RemoteIP, RemotePort, InitiatingProcessCommandLine, ReportId",
		huntinglab.DefenderTime(start), huntinglab.DefenderTime(end), strings.Join(lits, ", "))
	return hunting.Request{Query: q, Start: start, End: end}, w.Hits("DeviceNetworkEvents", "RemoteIP", ips, start, end.Add(time.Nanosecond))
}

func collect(t *testing.T, h hunting.Hunter, req hunting.Request) ([]hunting.Column, []hunting.Row, hunting.Stats, error) {
	t.Helper()
	var cols []hunting.Column
	var rows []hunting.Row
	schemaCalls := 0
	st, err := h.Hunt(context.Background(), req, func(c []hunting.Column) error {
		schemaCalls++
		if len(rows) > 0 {
			t.Error("schema after a row")
		}
		cols = c
		return nil
	}, func(r hunting.Row) error {
		rows = append(rows, r)
		return nil
	})
	if err == nil && schemaCalls != 1 {
		t.Errorf("schema called %d times", schemaCalls)
	}
	return cols, rows, st, err
}

func TestSignIn(t *testing.T) {
	f := newFixture(t, lab.Options{})
	ctx := context.Background()
	scope := policy.TokenRequestOptions{Scopes: []string{hunting.GraphScope}}

	cred, err := hunting.NewCredential(f.auth())
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := cred.GetToken(ctx, scope); err != nil || tok.Token == "" {
		t.Fatalf("secret: %v", err)
	}

	a := f.auth()
	a.ClientSecret, a.ClientID, a.CertificatePath = "", f.lab.Creds.CertClientID, f.lab.Creds.CertFile
	cred, err = hunting.NewCredential(a) // auto: the certificate
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{hunting.MDEScope}}); err != nil || tok.Token == "" {
		t.Fatalf("certificate: %v", err)
	}

	a = f.auth()
	a.ClientSecret = "Wr0ng~secret-value-" + f.lab.Creds.ClientSecret[:6]
	cred, err = hunting.NewCredential(a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(ctx, scope)
	if !errors.Is(err, hunting.ErrAuth) || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), a.ClientSecret) || strings.Contains(err.Error(), f.lab.Creds.ClientSecret) {
		t.Errorf("the error shows the secret: %v", err)
	}
	// One line from Entra, not azidentity's 20-line report; the code
	// for the command line's hint.
	if msg := err.Error(); strings.Count(msg, "\n") != 0 || strings.Contains(msg, "RESPONSE 401") || strings.Contains(msg, "----") ||
		!strings.Contains(msg, "Invalid client secret provided") || strings.Contains(msg, "hint:") {
		t.Errorf("wrong secret, message not summarised:\n%s", msg)
	}
	var se *hunting.SignInError
	if !errors.As(err, &se) || se.Kind != hunting.KindCredentials || !slices.Contains(se.Codes, 7000215) {
		t.Errorf("wrong secret: %#v", err)
	}
	// Through a hunter too.
	o := f.options(t)
	o.Credential = cred
	_, _, _, err = collect(t, hunting.NewGraph(o), hunting.Request{Query: "DeviceNetworkEvents | take 1"})
	if !errors.Is(err, hunting.ErrAuth) || strings.Contains(err.Error(), a.ClientSecret) {
		t.Errorf("hunt with a wrong secret: %v", err)
	}

	if _, err := hunting.NewCredential(hunting.AuthOptions{Method: "secret", TenantID: "t"}); !errors.Is(err, hunting.ErrAuth) {
		t.Errorf("missing fields: %v", err)
	}
	if _, err := hunting.NewCredential(hunting.AuthOptions{Method: "magic"}); err == nil {
		t.Error("unknown method accepted")
	}
	if _, err := hunting.NewCredential(hunting.AuthOptions{ClientSecret: "x", TenantID: "t", ClientID: "c", AuthorityHost: "http://login.example"}); err == nil {
		t.Error("an http authority was accepted")
	}
}

func TestAuthFromEnv(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "tenant")
	t.Setenv("AZURE_CLIENT_ID", "client")
	t.Setenv("AZURE_CLIENT_SECRET", "s3cret")
	t.Setenv("AZURE_CLIENT_CERTIFICATE_PATH", "/x.pem")
	t.Setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/")
	a := hunting.AuthFromEnv()
	if a.TenantID != "tenant" || a.ClientID != "client" || a.ClientSecret != "s3cret" || a.CertificatePath != "/x.pem" ||
		a.AuthorityHost != "https://login.microsoftonline.us/" || a.Method != "auto" {
		t.Errorf("%+v", a)
	}
}

func TestHuntGraphAndMDE(t *testing.T) {
	f := newFixture(t, lab.Options{})
	req, want := f.sweepQuery(t)
	if len(want) == 0 {
		t.Fatal("no ground truth")
	}
	for name, h := range map[string]hunting.Hunter{"graph": hunting.NewGraph(f.options(t)), "mde": hunting.NewMDE(f.options(t))} {
		cols, rows, st, err := collect(t, h, req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cols) != 7 || cols[0] != (hunting.Column{Name: "Timestamp", Type: "DateTime"}) || cols[6].Type != "Int64" {
			t.Errorf("%s: schema %v", name, cols)
		}
		if len(rows) != len(want) || st.Rows != len(want) || st.Attempts != 1 {
			t.Fatalf("%s: %d rows (stats %+v), want %d", name, len(rows), st, len(want))
		}
		mapped := 0
		for i, r := range rows {
			if r["RemoteIP"] != want[i].Logged() || r["ReportId"] != json.Number(fmt.Sprint(want[i].ReportID)) || r["Timestamp"] != huntinglab.DefenderTime(want[i].Time) {
				t.Errorf("%s row %d: %v, want %+v", name, i, r, want[i])
			}
			if strings.HasPrefix(r["RemoteIP"].(string), "::ffff:") {
				mapped++
			}
		}
		if mapped == 0 {
			t.Errorf("%s: no ::ffff: row", name)
		}
	}
}

func TestThrottledCallsRetried(t *testing.T) {
	f := newFixture(t, lab.Options{HuntingPerMinute: 2})
	o := f.options(t) // the client believes in 45 a minute; the lab allows 2
	g := hunting.NewGraph(o)
	req := hunting.Request{Query: "DeviceNetworkEvents | take 1"}
	throttled := 0
	for i := range 5 {
		_, _, st, err := collect(t, g, req)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		throttled += st.Throttled
	}
	if throttled == 0 {
		t.Fatal("no 429 seen; the test proves nothing")
	}
	for _, d := range f.clock.Slept() {
		if d <= 0 || d > time.Minute {
			t.Errorf("slept %v", d)
		}
	}
	if f.lab.Calls()["graph"] != 5+throttled {
		t.Errorf("lab saw %d calls, want %d", f.lab.Calls()["graph"], 5+throttled)
	}
}

func TestLimiterKeepsTheWindow(t *testing.T) {
	f := newFixture(t, lab.Options{HuntingPerMinute: 3})
	o := f.options(t)
	o.PerMinute = 3
	m := hunting.NewMDE(o)
	start := f.clock.Now()
	for i := range 7 {
		_, _, st, err := collect(t, m, hunting.Request{Query: "DeviceNetworkEvents | take 1"})
		if err != nil || st.Throttled != 0 {
			t.Fatalf("call %d: %v, %d throttled", i, err, st.Throttled)
		}
	}
	// 7 calls at 3 a minute: the 7th waits for the 4th's window, at 2 min.
	if el := f.clock.Now().Sub(start); el < 2*time.Minute || el > 2*time.Minute+time.Second {
		t.Errorf("7 calls took %v of clock, want 2m", el)
	}
}

func TestExpiredTokenRenewed(t *testing.T) {
	f := newFixture(t, lab.Options{Faults: lab.Faults{TokenExpiry: time.Minute}})
	g := hunting.NewGraph(f.options(t))
	req := hunting.Request{Query: "DeviceNetworkEvents | take 1"}
	if _, _, _, err := collect(t, g, req); err != nil {
		t.Fatal(err)
	}
	before := f.lab.Calls()["entra"]
	f.clock.Advance(2 * time.Minute) // the token said 3599 s but dies after 1 min
	_, _, st, err := collect(t, g, req)
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if st.Attempts != 2 || f.lab.Calls()["entra"] <= before {
		t.Errorf("attempts %d, entra calls %d -> %d: the token was not renewed", st.Attempts, before, f.lab.Calls()["entra"])
	}
}

func TestShortLifetimeRenewed(t *testing.T) {
	f := newFixture(t, lab.Options{TokenLifetime: 90 * time.Second})
	g := hunting.NewMDE(f.options(t))
	for i := range 4 {
		if _, _, _, err := collect(t, g, hunting.Request{Query: "DeviceNetworkEvents | take 1"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		f.clock.Advance(time.Minute)
	}
}

func TestTooLarge(t *testing.T) {
	f := newFixture(t, lab.Options{Faults: lab.Faults{TooLarge: 100}})
	_, _, _, err := collect(t, hunting.NewGraph(f.options(t)), hunting.Request{Query: "DeviceNetworkEvents | where RemoteIP in (\"" + strings.Repeat("1", 100) + "\")"})
	var apiErr *hunting.APIError
	if !errors.Is(err, hunting.ErrTooLarge) || !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.RequestID == "" {
		t.Errorf("%v", err)
	}
	_, _, _, err = collect(t, hunting.NewGraph(f.options(t)), hunting.Request{Query: "NoSuchTable"})
	if err == nil || errors.Is(err, hunting.ErrTooLarge) || !errors.As(err, &apiErr) || apiErr.Code != "BadRequest" {
		t.Errorf("bad query: %v", err)
	}
}

func TestServerErrorsRecovered(t *testing.T) {
	f := newFixture(t, lab.Options{Faults: lab.Faults{Rate5xx: 0.5, DropRate: 0.1, Only: "mde"}})
	m := hunting.NewMDE(f.options(t))
	retried := 0
	for i := range 8 {
		_, _, st, err := collect(t, m, hunting.Request{Query: "DeviceNetworkEvents | take 2"})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		retried += st.Attempts - 1
	}
	if retried == 0 {
		t.Error("no call needed a retry; the fault did not bite")
	}
}

func TestWrongAudienceRefused(t *testing.T) {
	f := newFixture(t, lab.Options{})
	o := f.options(t)
	o.Scope = hunting.MDEScope // a Defender token sent to Graph
	_, _, st, err := collect(t, hunting.NewGraph(o), hunting.Request{Query: "DeviceNetworkEvents | take 1"})
	var apiErr *hunting.APIError
	if !errors.Is(err, hunting.ErrAuth) || !errors.As(err, &apiErr) || apiErr.Status != 401 || st.Attempts != 2 {
		t.Errorf("%v (attempts %d)", err, st.Attempts)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	f := newFixture(t, lab.Options{})
	req, want := f.sweepQuery(t)
	if len(want) < 2 {
		t.Skip("needs two hits")
	}
	stop := errors.New("disk full")
	n := 0
	st, err := hunting.NewGraph(f.options(t)).Hunt(context.Background(), req, nil, func(hunting.Row) error {
		n++
		return stop
	})
	if err != stop || n != 1 || st.Attempts != 1 {
		t.Errorf("err %v after %d rows, %d attempts", err, n, st.Attempts)
	}
}

// failingCredential stands for a credential that cannot sign in.
type failingCredential struct{}

func (failingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("no way in")
}

func TestNoToken(t *testing.T) {
	f := newFixture(t, lab.Options{})
	o := f.options(t)
	o.Credential = failingCredential{}
	_, _, st, err := collect(t, hunting.NewMDE(o), hunting.Request{Query: "DeviceNetworkEvents"})
	if !errors.Is(err, hunting.ErrAuth) || st.Attempts != 0 {
		t.Errorf("%v, %d attempts", err, st.Attempts)
	}
}
