package defender_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/defender"
	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/defenderlab"
	"c2sweep/internal/lab/labtest"
)

var start = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

type fixture struct {
	l   *lab.Lab
	svc *defenderlab.Service
	clk *clock.Fake
	c   *defender.Client
}

func setup(t *testing.T, capacity int) *fixture {
	return setupWith(t, capacity, lab.Options{}, defender.Options{})
}

func setupWith(t *testing.T, capacity int, lo lab.Options, o defender.Options) *fixture {
	t.Helper()
	clk := clock.NewFake(start)
	lo.Now = clk.Now
	l := labtest.Start(t, lo)
	hc := labtest.Client(l)
	cred, err := hunting.NewCredential(hunting.AuthOptions{TenantID: l.Creds.TenantID, ClientID: l.Creds.ClientID,
		ClientSecret: l.Creds.ClientSecret, AuthorityHost: l.URL + "/", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	// The client is told the tenant's cap as the lab enforces it.
	o.BaseURL, o.Credential, o.HTTPClient, o.Clock, o.Cap = l.URL, cred, hc, clk, capacity
	c, err := defender.New(o)
	if err != nil {
		t.Fatal(err)
	}
	svc := defenderlab.Of(l)
	if capacity > 0 {
		svc.SetCap(capacity)
	}
	return &fixture{l: l, svc: svc, clk: clk, c: c}
}

func cands(n int, hunt string, lastSeen time.Time) []defender.Candidate {
	var out []defender.Candidate
	for i := range n {
		out = append(out, defender.Candidate{
			IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), Families: []string{"Cobalt Strike"}, Hunts: []string{hunt},
			Sources: []string{"shodan"}, FirstSeen: lastSeen.Add(-48 * time.Hour), LastSeen: lastSeen,
		})
	}
	return out
}

var settings = defender.Settings{TTL: 30 * 24 * time.Hour}

// ours are the lab's indicators c2sweep made, by value.
func ours(svc *defenderlab.Service) map[string]defenderlab.Indicator {
	m := map[string]defenderlab.Indicator{}
	for _, in := range svc.Indicators() {
		if in.Application == "c2sweep" {
			m[in.IndicatorValue] = in
		}
	}
	return m
}

func people(svc *defenderlab.Service) []defenderlab.Indicator {
	var out []defenderlab.Indicator
	for _, in := range svc.Indicators() {
		if in.Application != "c2sweep" {
			out = append(out, in)
		}
	}
	return out
}

func TestPushTwiceSendsNothingTheSecondTime(t *testing.T) {
	f := setup(t, 0)
	ctx := context.Background()
	before := people(f.svc)
	want := cands(5, "CobaltStrikeJARM", start.Add(-time.Hour))
	r, err := f.c.Push(ctx, want, settings)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 5 || r.Updated != 0 || r.Deleted != 0 || len(r.Failed) != 0 {
		t.Fatalf("first push: %+v", r)
	}
	got := ours(f.svc)
	in := got["192.0.2.10"]
	if in.Action != "Audit" || !in.GenerateAlert || in.IndicatorType != "IpAddress" || in.Severity != "Medium" ||
		in.ExpirationTime == nil || !in.ExpirationTime.Equal(start.Add(-time.Hour).Add(30*24*time.Hour)) ||
		!strings.Contains(in.Title, "Cobalt Strike") || !strings.Contains(in.Title, "CobaltStrikeJARM") ||
		!strings.Contains(in.Description, "shodan") || !strings.Contains(in.Description, "https://www.shodan.io/host/192.0.2.10") {
		t.Fatalf("indicator: %+v", in)
	}
	imports := f.svc.Calls().Import
	r, err = f.c.Push(ctx, want, settings)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Create)+len(r.Update)+len(r.Delete) != 0 || f.svc.Calls().Import != imports || f.svc.Calls().Delete != 0 {
		t.Fatalf("second push sent something: %+v, calls %+v", r, f.svc.Calls())
	}
	if after := people(f.svc); !slices.EqualFunc(before, after, func(a, b defenderlab.Indicator) bool {
		return a.ID == b.ID && a.LastUpdateTime.Equal(b.LastUpdateTime) && a.Title == b.Title
	}) || len(after) != 3 {
		t.Fatalf("an analyst's indicators changed: %+v -> %+v", before, after)
	}
}

func TestTTLChangeMovesTheExpiry(t *testing.T) {
	f := setup(t, 0)
	ctx := context.Background()
	want := cands(3, "PoshC2", start.Add(-time.Hour))
	if _, err := f.c.Push(ctx, want, settings); err != nil {
		t.Fatal(err)
	}
	s := settings
	s.TTL = 7 * 24 * time.Hour
	r, err := f.c.Push(ctx, want, s)
	if err != nil {
		t.Fatal(err)
	}
	if r.Updated != 3 || r.Created != 0 {
		t.Fatalf("ttl change: %+v", r)
	}
	for v, in := range ours(f.svc) {
		if !in.ExpirationTime.Equal(start.Add(-time.Hour).Add(7 * 24 * time.Hour)) {
			t.Errorf("%s expires %v", v, in.ExpirationTime)
		}
	}
}

func TestDroppedHuntIsDeletedOthersUntouched(t *testing.T) {
	f := setup(t, 0)
	ctx := context.Background()
	a := cands(2, "PoshC2", start.Add(-time.Hour))
	b := cands(5, "EmpireC2", start.Add(-time.Hour))[2:]
	if _, err := f.c.Push(ctx, append(slices.Clone(a), b...), settings); err != nil {
		t.Fatal(err)
	}
	r, err := f.c.Push(ctx, a, settings)
	if err != nil {
		t.Fatal(err)
	}
	if r.Deleted != 3 || r.Created != 0 || r.Updated != 0 {
		t.Fatalf("drop: %+v", r)
	}
	if got := ours(f.svc); len(got) != 2 || got["192.0.2.10"].ID == "" || got["192.0.2.11"].ID == "" {
		t.Fatalf("left: %v", got)
	}
	if len(people(f.svc)) != 3 {
		t.Fatal("an analyst's indicator was deleted")
	}
}

func TestAnIPAPersonHoldsIsLeftAlone(t *testing.T) {
	f := setup(t, 0)
	want := []defender.Candidate{{IP: netip.MustParseAddr("203.0.113.66"), Hunts: []string{"PoshC2"}, LastSeen: start}}
	r, err := f.c.Push(context.Background(), want, settings)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created+r.Updated != 0 || len(r.HeldByOthers) != 1 {
		t.Fatalf("%+v", r)
	}
	for _, in := range people(f.svc) {
		if in.IndicatorValue == "203.0.113.66" && (in.Action != "Block" || in.Application != "") {
			t.Fatalf("the analyst's indicator was overwritten: %+v", in)
		}
	}
}

func TestCapFilledStopsCleanlyWithTheMostValuableFirst(t *testing.T) {
	f := setup(t, 8) // 3 an analyst's: room for 5
	want := cands(9, "CobaltStrikeJARM", start.Add(-time.Hour))
	want[7].Hits = 4
	want[8].Confidence = 90
	r, err := f.c.Push(context.Background(), want, settings)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 5 || len(r.LeftOut) != 4 || len(r.Failed) != 0 || r.Existing != 3 {
		t.Fatalf("cap: %+v", r)
	}
	got := ours(f.svc)
	if got["192.0.2.17"].ID == "" || got["192.0.2.18"].ID == "" {
		t.Fatalf("the IP with hits or the confident one was left out: %v", r.LeftOut)
	}
	if c := f.svc.Calls(); c.Import != 1 || c.Throttled != 0 {
		t.Fatalf("calls: %+v", c)
	}
}

func TestBatchesOfAtMost500(t *testing.T) {
	f := setup(t, 0)
	var want []defender.Candidate
	for i := range 1100 {
		want = append(want, defender.Candidate{IP: netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), Hunts: []string{"PoshC2"}, LastSeen: start})
	}
	r, err := f.c.Push(context.Background(), want, settings)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 1100 || f.svc.Calls().Import != 3 {
		t.Fatalf("created %d in %d calls", r.Created, f.svc.Calls().Import)
	}
}

func Test429StormIsHonouredAndBounded(t *testing.T) {
	f := setup(t, 0)
	f.svc.Throttle(3, 20*time.Second)
	r, err := f.c.Push(context.Background(), cands(2, "PoshC2", start), settings)
	if err != nil || r.Created != 2 {
		t.Fatalf("after 3 throttled calls: %+v, %v", r, err)
	}
	if waited := f.clk.Now().Sub(start); waited < 60*time.Second {
		t.Fatalf("Retry-After not honoured: waited %s", waited)
	}
	// A storm that does not end: given up after the retry bound, nothing half done.
	f.svc.Throttle(1000, 10*time.Second)
	r, err = f.c.Push(context.Background(), cands(4, "PoshC2", start), settings)
	if err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("endless storm: %v", err)
	}
	if n := f.svc.Calls().Throttled; n > 3+8 {
		t.Fatalf("%d throttled calls: unbounded", n)
	}
	if len(ours(f.svc)) != 2 || r.Created != 0 {
		t.Fatalf("a half push: %+v", r)
	}
}

func TestPerItemFailuresAreReportedAndRetriedNextPush(t *testing.T) {
	f := setup(t, 0)
	f.svc.FailOnce("192.0.2.11", "Internal error while saving the indicator.")
	want := cands(3, "PoshC2", start)
	r, err := f.c.Push(context.Background(), want, settings)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 2 || len(r.Failed) != 1 || r.Failed[0].IP != "192.0.2.11" || !strings.Contains(r.Failed[0].Reason, "Internal error") {
		t.Fatalf("%+v", r)
	}
	r, err = f.c.Push(context.Background(), want, settings)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created != 1 || len(r.Create) != 1 || r.Create[0].IndicatorValue != "192.0.2.11" || len(r.Failed) != 0 {
		t.Fatalf("retry: %+v", r)
	}
}

func TestDryRunPlansWithoutWriting(t *testing.T) {
	f := setup(t, 0)
	if _, err := f.c.Push(context.Background(), cands(2, "PoshC2", start), settings); err != nil {
		t.Fatal(err)
	}
	s := settings
	s.DryRun = true
	s.Action = "Block"
	r, err := f.c.Push(context.Background(), cands(3, "PoshC2", start)[1:], s)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Create) != 1 || len(r.Update) != 1 || len(r.Delete) != 1 || r.Created+r.Updated+r.Deleted != 0 {
		t.Fatalf("plan: %+v", r)
	}
	if c := f.svc.Calls(); c.Import != 1 || c.Delete != 0 {
		t.Fatalf("a dry run wrote: %+v", c)
	}
}

func TestMissingPermissionNamesTiReadWriteAllAndNoSecret(t *testing.T) {
	f := setup(t, 0)
	f.svc.Deny(true)
	_, err := f.c.Push(context.Background(), cands(1, "PoshC2", start), settings)
	var ae *hunting.AccessError
	if !errors.As(err, &ae) || !errors.Is(err, hunting.ErrAuth) || !strings.Contains(ae.Permission, "Ti.ReadWrite.All") || ae.Status != 403 {
		t.Fatalf("%T %v", err, err)
	}
	if msg := fmt.Sprint(err); strings.Contains(msg, f.l.Creds.ClientSecret) || strings.Contains(msg, "eyJ") {
		t.Fatalf("a secret in %q", msg)
	}
}

func TestRefusesPlainHTTP(t *testing.T) {
	if _, err := defender.New(defender.Options{BaseURL: "http://api.example"}); err == nil {
		t.Fatal("http accepted")
	}
}

// Reading back pages with $top/$skip finds every indicator c2sweep owns,
// so nothing already there is sent again.
func TestReadBackPages(t *testing.T) {
	f := setupWith(t, 0, lab.Options{}, defender.Options{PageSize: 2})
	want := cands(7, "PoshC2", start)
	if _, err := f.c.Push(context.Background(), want, settings); err != nil {
		t.Fatal(err)
	}
	r, err := f.c.Push(context.Background(), want, settings)
	if err != nil || len(r.Create)+len(r.Update)+len(r.Delete) != 0 || r.Existing != 10 {
		t.Fatalf("paged read back: %+v %v", r, err)
	}
}

// 40 import calls keep to 30 a minute by the client's own limiter (on the
// fake clock): the service never has to throttle.
func TestImportCallsPacedThirtyAMinute(t *testing.T) {
	f := setupWith(t, 0, lab.Options{}, defender.Options{BatchSize: 1})
	var want []defender.Candidate
	for i := range 40 {
		want = append(want, defender.Candidate{IP: netip.AddrFrom4([4]byte{10, 8, 0, byte(i)}), Hunts: []string{"PoshC2"}, LastSeen: start})
	}
	r, err := f.c.Push(context.Background(), want, settings)
	if err != nil || r.Created != 40 {
		t.Fatalf("%+v %v", r, err)
	}
	if c := f.svc.Calls(); c.Import != 40 || c.Throttled != 0 {
		t.Fatalf("calls %+v", c)
	}
	if waited := f.clk.Now().Sub(start); waited < time.Minute {
		t.Fatalf("40 calls in %s", waited)
	}
}

// A proxy that echoes the request (Authorization included) into its
// error: the error carries no token.
func TestEchoedTokenIsRedacted(t *testing.T) {
	f := setupWith(t, 0, lab.Options{Faults: lab.Faults{EchoRate: 1, Only: "defender"}}, defender.Options{})
	_, err := f.c.Push(context.Background(), cands(1, "PoshC2", start), settings)
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); strings.Contains(msg, "eyJ") || strings.Contains(msg, f.l.Creds.ClientSecret) || !strings.Contains(msg, "400") {
		t.Fatalf("error: %s", msg)
	}
}

// A token Defender refuses before its advertised expiry is renewed once
// and the push goes on.
func TestRefusedTokenIsRenewed(t *testing.T) {
	f := setupWith(t, 0, lab.Options{Faults: lab.Faults{TokenExpiry: time.Second}}, defender.Options{})
	if _, err := f.c.Push(context.Background(), cands(1, "PoshC2", start), settings); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(10 * time.Second)
	r, err := f.c.Push(context.Background(), cands(2, "PoshC2", start), settings)
	if err != nil || r.Created != 1 {
		t.Fatalf("after the token died: %+v %v", r, err)
	}
}

// A credential Entra refuses: a typed sign-in error naming the permission.
func TestSignInErrorNamesThePermission(t *testing.T) {
	f := setup(t, 0)
	cred, err := hunting.NewCredential(hunting.AuthOptions{TenantID: f.l.Creds.TenantID, ClientID: f.l.Creds.ClientID,
		ClientSecret: "Wr0ng~secret-value-123", AuthorityHost: f.l.URL + "/", HTTPClient: labtest.Client(f.l)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := defender.New(defender.Options{BaseURL: f.l.URL, Credential: cred, HTTPClient: labtest.Client(f.l), Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Push(context.Background(), cands(1, "PoshC2", start), settings)
	var se *defender.SignInError
	if !errors.As(err, &se) || !errors.Is(err, hunting.ErrAuth) || !strings.Contains(err.Error(), "Ti.ReadWrite.All") ||
		strings.Contains(err.Error(), "Wr0ng~secret-value-123") {
		t.Fatalf("%T %v", err, err)
	}
	if c := f.svc.Calls(); c.List+c.Import != 0 {
		t.Fatalf("calls without a token: %+v", c)
	}
}
