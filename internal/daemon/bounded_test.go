package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
	"c2sweep/internal/lab/labtest"
)

// A hunting API that never answers does not leave serve "running"
// forever: the call's deadline ends the sweep, which is recorded failed.
func TestServeSweepAgainstAHangingServiceEnds(t *testing.T) {
	l := labtest.Start(t, lab.Options{Faults: lab.Faults{HangRate: 1, Only: "graph"}})
	hc := labtest.Client(l)
	cred, err := hunting.NewCredential(hunting.AuthOptions{TenantID: l.Creds.TenantID, ClientID: l.Creds.ClientID,
		ClientSecret: l.Creds.ClientSecret, AuthorityHost: l.URL + "/", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	hunter := hunting.NewGraph(hunting.Options{BaseURL: l.URL, Credential: cred, HTTPClient: hc,
		AttemptTimeout: 100 * time.Millisecond, MaxRetries: 1, Clock: clock.NewFake(time.Now())})
	sweep := func(ctx context.Context) (Report, error) {
		_, err := hunter.Hunt(ctx, hunting.Request{Query: "DeviceNetworkEvents | take 1"}, nil, nil)
		return Report{}, err
	}
	h := start(t, Options{RunAtStart: true}, sweep)
	eventually(t, func() bool { return h.runs(OutcomeFailure) == 1 }, "the sweep to end failed")
	_, hl := h.health()
	if hl.Running || hl.ConsecutiveFailures != 1 || !strings.Contains(hl.LastError, "no complete answer within 100ms") {
		t.Errorf("health %+v", hl)
	}
}
