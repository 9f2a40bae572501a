package defender

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/clock"
)

// The indicators API's answers (list pages, import results, error
// envelopes) are outside data: a push never panics, makes a bounded
// number of calls, accounts for every indicator it sent exactly once, and
// neither its error nor a refusal's reason carries the bearer token.

// fuzzToken is opaque, not a JWT: hidden because it is the token sent,
// not because it looks like one.
const fuzzToken = "opaqueFuzzTokenSecretPart0123456789"

type fuzzCredential struct{}

func (fuzzCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: fuzzToken, ExpiresOn: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
}

// fuzzAPI answers a list with list, an import with status and imp, and a
// BatchDelete with 204.
type fuzzAPI struct {
	list, imp []byte
	status    int
	calls     int
}

func (a *fuzzAPI) RoundTrip(req *http.Request) (*http.Response, error) {
	a.calls++
	if req.Body != nil {
		req.Body.Close()
	}
	status, body := http.StatusOK, a.list
	switch {
	case strings.HasSuffix(req.URL.Path, "/BatchDelete"):
		status, body = http.StatusNoContent, nil
	case strings.HasSuffix(req.URL.Path, "/import"):
		status, body = a.status, a.imp
	}
	return &http.Response{
		StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Header: http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}},
		Body:   io.NopCloser(bytes.NewReader(body)), Request: req,
	}, nil
}

var fuzzStart = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func FuzzPushAnswers(f *testing.F) {
	mine := `{"id":"7","indicatorValue":"192.0.2.10","indicatorType":"IpAddress","action":"Audit","application":"c2sweep","title":"old","expirationTime":"2026-12-01T00:00:00Z"}`
	gone := `{"id":"8","indicatorValue":"192.0.2.99","indicatorType":"IpAddress","action":"Audit","application":"c2sweep"}`
	theirs := `{"id":"9","indicatorValue":"2001:db8::1","indicatorType":"IpAddress","action":"Block","application":"someone"}`
	lists := []string{
		`{"@odata.context":"https://api.securitycenter.microsoft.com/api/$metadata#Indicators","value":[` + mine + `,` + gone + `,` + theirs + `]}`,
		`{"value":[]}`, `{"value":null}`, `{}`, ``, `<html>TOKEN</html>`,
		`{"value":[{"id":7,"indicatorValue":["x"]}]}`,
		`{"value":[{"indicatorValue":"192.0.2.10","indicatorType":"IpAddress","application":"c2sweep","expirationTime":"not a time"}]}`,
	}
	imports := []struct {
		status int
		body   string
	}{
		{200, `{"value":[{"id":"2841","indicator":"192.0.2.10","isFailed":false,"failureReason":null},{"id":"2842","indicator":"192.0.2.11","isFailed":true,"failureReason":"InvalidIpAddress"}]}`},
		{200, `{"value":[{"indicator":"192.0.2.11","isFailed":false},{"indicator":"192.0.2.11","isFailed":false},{"indicator":"203.0.113.1","isFailed":false}]}`},
		{200, `{"value":[{"indicator":"192.0.2.11","isFailed":true,"failureReason":"Bearer TOKEN echoed"},{"indicator":"192.0.2.11","isFailed":false}]}`},
		{200, `{"value":[{"indicator":"2001:0db8:0000:0000:0000:0000:0000:0002","isFailed":false},{"indicator":"192.0.2.11","isFailed":true,"failureReason":"echoed TOKEN"}]}`},
		{200, `{"value":null}`},
		{200, ``},
		{200, `{"value":[{"indicator":"192.0.2.10","isFailed":"yes"}]}`},
		{400, `{"error":{"code":"MaximumBatchSizeExceeded","message":"too many TOKEN","target":"c0rr"}}`},
		{401, `{"error":{"code":"Unauthorized","message":"Authorization: Bearer TOKEN"}}`},
		{429, `{"error":{"code":"TooManyRequests","message":"slow down"}}`},
		{502, `<html><body>Bad gateway TOKEN</body></html>`},
	}
	for i, l := range lists {
		im := imports[i%len(imports)]
		f.Add([]byte(l), uint16(im.status), []byte(im.body))
	}
	for _, im := range imports {
		f.Add([]byte(lists[0]), uint16(im.status), []byte(im.body))
	}
	want := []Candidate{
		{IP: netip.MustParseAddr("192.0.2.10"), Families: []string{"Cobalt Strike"}, Hunts: []string{"cs"}, LastSeen: fuzzStart},
		{IP: netip.MustParseAddr("192.0.2.11"), Hunts: []string{"cs"}, LastSeen: fuzzStart, Hits: 2},
		{IP: netip.MustParseAddr("2001:db8::1"), Hunts: []string{"cs"}, LastSeen: fuzzStart},
		{IP: netip.MustParseAddr("2001:db8::2"), Hunts: []string{"cs"}, LastSeen: fuzzStart},
	}
	f.Fuzz(func(t *testing.T, list []byte, status uint16, imp []byte) {
		if status < 200 || status > 599 {
			status = 200 + status%400
		}
		api := &fuzzAPI{
			list: bytes.ReplaceAll(list, []byte("TOKEN"), []byte(fuzzToken)),
			imp:  bytes.ReplaceAll(imp, []byte("TOKEN"), []byte(fuzzToken)), status: int(status),
		}
		c, err := New(Options{BaseURL: "https://mde.test", Credential: fuzzCredential{}, HTTPClient: &http.Client{Transport: api},
			Clock: clock.NewFake(fuzzStart), MaxRetries: 2})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Push(context.Background(), want, Settings{TTL: 30 * 24 * time.Hour})
		// Two lists (a page each), a delete, an import, each tried at most 3 times.
		if api.calls > 4*3 {
			t.Fatalf("%d calls", api.calls)
		}
		for _, fl := range r.Failed {
			if strings.Contains(fl.Reason, fuzzToken) || strings.Contains(fl.IP, fuzzToken) {
				t.Fatalf("the token shows in the refusal %+v", fl)
			}
		}
		if err != nil {
			if strings.Contains(err.Error(), fuzzToken) {
				t.Fatalf("the token shows in %q", err)
			}
			return
		}
		sent := map[string]bool{}
		for _, in := range append(r.Create, r.Update...) {
			sent[in.IndicatorValue] = true
		}
		if got := r.Created + r.Updated + len(r.Failed); got != len(sent) {
			t.Fatalf("%d sent, %d created + %d updated + %d failed (%+v)", len(sent), r.Created, r.Updated, len(r.Failed), r.Failed)
		}
		if r.Created > len(r.Create) || r.Updated > len(r.Update) {
			t.Fatalf("created %d of %d, updated %d of %d", r.Created, len(r.Create), r.Updated, len(r.Update))
		}
		for _, fl := range r.Failed {
			if !sent[fl.IP] {
				t.Fatalf("a refusal for %q, which was not sent", fl.IP)
			}
		}
	})
}
