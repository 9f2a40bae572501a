package hunting_test

import (
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/clock"
	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
	"c2sweep/internal/retry"
)

// A server that never answers, or answers a byte at a time, costs one
// retry and then fails the query with a timeout: no hang.
func TestCallsHaveADeadline(t *testing.T) {
	for name, faults := range map[string]lab.Faults{
		"hang":    {HangRate: 1, Only: "graph"},
		"trickle": {Trickle: 20 * time.Millisecond, Only: "graph"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, lab.Options{Faults: faults})
			o := f.options(t)
			o.AttemptTimeout = 300 * time.Millisecond
			_, rows, st, err := collect(t, hunting.NewGraph(o), hunting.Request{Query: "DeviceNetworkEvents | take 3"})
			var te *retry.TimeoutError
			if !errors.Is(err, retry.ErrTimeout) || !errors.As(err, &te) || te.After != o.AttemptTimeout || len(rows) != 0 {
				t.Fatalf("err %v, %d rows", err, len(rows))
			}
			// The lab may not see the second attempt at all when the
			// machine is slow: its deadline covers the connection too.
			if calls := f.lab.Calls()["graph"]; st.Attempts != 2 || calls < 1 || calls > 2 {
				t.Errorf("%d attempts, %d calls: want one retry", st.Attempts, calls)
			}
		})
	}
}

// A 1 GiB answer stops at the cap with a typed error, reading no more
// than the cap and never holding the answer.
func TestAnswerSizeIsCapped(t *testing.T) {
	f := newFixture(t, lab.Options{Faults: lab.Faults{Huge: 1 << 30, Only: "graph"}})
	o := f.options(t)
	o.MaxBody = 1 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, rows, st, err := collect(t, hunting.NewGraph(o), hunting.Request{Query: "DeviceNetworkEvents"})
	runtime.ReadMemStats(&after)
	var tooLarge *retry.BodyTooLargeError
	if !errors.Is(err, retry.ErrBodyTooLarge) || !errors.As(err, &tooLarge) || tooLarge.Limit != o.MaxBody {
		t.Fatalf("err %v", err)
	}
	if st.Attempts != 1 || len(rows) > 1100 {
		t.Errorf("%d attempts, %d rows: want one attempt and at most the cap's rows", st.Attempts, len(rows))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 128<<20 {
		t.Errorf("allocated %d MiB for a 1 MiB cap", alloc>>20)
	}
	if hunting.DefaultGraphMaxBody != 256<<20 || hunting.DefaultMDEMaxBody != 128<<20 || hunting.DefaultAttemptTimeout < 200*time.Second {
		t.Errorf("defaults changed: update README (How a run works)")
	}
}

// A refusal saying the tenant's CPU quota is spent is one call and
// ErrOverQuota, not ErrTooLarge: halves would be refused the same way.
func TestOverQuotaIsNotSplit(t *testing.T) {
	for _, api := range []string{"graph", "mde"} {
		t.Run(api, func(t *testing.T) {
			f := newFixture(t, lab.Options{Faults: lab.Faults{CPUQuotaRate: 1}})
			o := f.options(t)
			h := hunting.NewGraph(o)
			if api == "mde" {
				h = hunting.NewMDE(o)
			}
			_, _, st, err := collect(t, h, hunting.Request{Query: "DeviceNetworkEvents | take 1"})
			var apiErr *hunting.APIError
			if !errors.Is(err, hunting.ErrOverQuota) || errors.Is(err, hunting.ErrTooLarge) || !errors.As(err, &apiErr) || apiErr.Message != lab.CPUQuotaMessage {
				t.Errorf("%v", err)
			}
			if st.Attempts != 1 || f.lab.Calls()[api] != 1 {
				t.Errorf("%d attempts, %d calls", st.Attempts, f.lab.Calls()[api])
			}
		})
	}
}

// An error answer that echoes the request's Authorization header never
// shows the token.
func TestEchoedTokenIsRedacted(t *testing.T) {
	f := newFixture(t, lab.Options{Faults: lab.Faults{EchoRate: 1, Only: "graph"}})
	o := f.options(t)
	tok, err := o.Credential.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{hunting.GraphScope}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = collect(t, hunting.NewGraph(o), hunting.Request{Query: "DeviceNetworkEvents | take 1"})
	var apiErr *hunting.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(err.Error(), "Bearer REDACTED") {
		t.Fatalf("err %v", err)
	}
	if strings.Contains(err.Error(), tok.Token) || strings.Contains(err.Error(), tok.Token[:20]) {
		t.Errorf("the token is in the error: %v", err)
	}
}

// A plain-http API root never gets the token, whoever set it.
func TestPlainHTTPRootRefused(t *testing.T) {
	f := newFixture(t, lab.Options{})
	o := f.options(t)
	o.BaseURL = strings.Replace(f.lab.URL, "https://", "http://", 1)
	_, _, st, err := collect(t, hunting.NewGraph(o), hunting.Request{Query: "DeviceNetworkEvents | take 1"})
	if err == nil || !strings.Contains(err.Error(), "is not https") || st.Attempts != 1 || f.lab.Calls()["graph"] != 0 {
		t.Errorf("err %v, %d attempts, %d calls", err, st.Attempts, f.lab.Calls()["graph"])
	}
}

// A 429 for the tenant's CPU that asks for a longer wait than is worth
// it fails at once as ErrOverQuota, without waiting.
func TestThrottledForCPUQuotaFailsAtOnce(t *testing.T) {
	srv, _ := wireServer(t, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "900")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"code":"TooManyRequests","message":"Tenant exceeded the allowed CPU quota for this 15-minute cycle."}}`)
	})
	clk := clock.NewFake(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
	h := hunting.NewGraph(hunting.Options{BaseURL: srv.URL, Credential: &staticCredential{}, HTTPClient: srv.Client(), Clock: clk})
	_, _, st, err := collect(t, h, hunting.Request{Query: "DeviceNetworkEvents"})
	if !errors.Is(err, hunting.ErrOverQuota) || errors.Is(err, hunting.ErrTooLarge) || st.Attempts != 1 || len(clk.Slept()) != 0 {
		t.Errorf("err %v, %d attempts, slept %v", err, st.Attempts, clk.Slept())
	}
}
