package hunting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/clock"
)

// A Log Analytics answer is outside data: whatever its bytes, the decoder
// never panics, reads it the same byte by byte as whole, hands out rows
// with exactly the schema's columns after one schema, never takes an
// answer carrying a top-level error for a success, and its errors never
// carry the bearer token.

const (
	laCols    = `"columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"RemoteIP","type":"string"},{"name":"n","type":"long"},{"name":"AdditionalFields","type":"dynamic"}]`
	laRows    = `"rows":[["2026-11-20T10:00:00Z","198.51.100.7",12345678901234567890123,{"a":[1,{"b":null}],"c":"TOKEN"}],["2026-11-20T11:00:00Z",null,-1.5e308,"[]"]]`
	laPartial = `"error":{"code":"PartialError","message":"There were some errors when processing your query.","details":[{"code":"EngineError","message":"Query result set has exceeded the internal data size limit 64000000","innererror":{"code":"E_QUERY_RESULT_SET_TOO_LARGE"}}]}`
)

var sentinelSeeds = []string{
	`{"tables":[{"name":"PrimaryResult",` + laCols + `,` + laRows + `}]}`,
	`{"tables":[{"name":"PrimaryResult",` + laCols + `,` + laRows + `}],` + laPartial + `}`,
	`{` + laPartial + `,"tables":[{"name":"PrimaryResult",` + laCols + `,` + laRows + `}]}`,
	`{"tables":[{"name":"PrimaryResult",` + laCols + `,` + laRows + `},{"name":"QueryStatus","columns":[{"name":"x","type":"string"}],"rows":[["y"]]}],"statistics":{"query":{"executionTime":0.1}},"render":null}`,
	`{"tables":[{"name":"PrimaryResult",` + laCols + `,"rows":[]}],"error":null}`,
	`{"tables":[{"name":"PrimaryResult","columns":[],"rows":[[]]}]}`,
	`{"tables":[]}`,
	`{"error":{"code":"PartialError","message":"bearer TOKEN"}}`,
	`{"tables":[],"error":{"code":"PartialError","message":"echo TOKEN","details":[{"code":"TOKEN"}]}}`,
	`{"error":{}}`,
	`{"tables":[],"error":{}}`,
	`{"tables":[{"columns":[{"name":"a","type":"string"}],"rows":[["x"]]}],"error":{"details":[{"code":"EngineError"}]}}`,
	`{"error":"flat TOKEN"}`,
	`{"Tables":[{"Columns":[{"Name":"a","Type":"long"}],"Rows":[[1e999999999]]}]}`,
	`{"tables":[{"columns":[{"name":"a","type":"dynamic"}],"rows":[[[[[[[[[[{"deep":[[[[[]]]]]}]]]]]]]]]]]}]}`,
	`{"tables":[{"columns":[{"name":"a","type":"string"},{"name":"a","type":"string"}],"rows":[["x","y"]]}]}`,
	`{"tables":[{"columns":[{"name":"a","type":"string"}],"rows":[["x"]],"columns":[{"name":"b","type":"string"}],"rows":[["y"]]}]}`,
	`{"tables":[{"columns":[{"name":"a","type":"string"}],"rows":[["x"]]}],"tables":[{"columns":[{"name":"b","type":"string"}],"rows":[["y"]]}]}`,
	`{"tables":[{"columns":[{"name":"a","type":"string"}],"rows":[["x"]]}]}{"error":{"code":"PartialError"}}`,
	`{"tables":[{"columns":[{"name":"a","type":"string"}],"rows":[["x"]]}]}` + " \n",
	`{"tables":[{"columns":null,"rows":[]}]}`,
	`{"tables":[{` + laCols + `,"rows":[["2026-11-20T10:00:00Z","198.51`,
	`<html><head><title>502 Bad Gateway</title></head><body>TOKEN</body></html>`,
	``,
	`{}`,
	`{"tables":[{"columns":[{"name":"a","type":"string"}],"rows":[["\ud83d\ude00"],["\udc00"],["` + "\xff" + `"]]}]}`,
}

// topLevelError reports whether in, read as plain JSON, is an object with
// a non-null "error" member (any case, any position); ok is false when in
// is not one JSON object.
func topLevelError(in []byte) (hasErr, ok bool) {
	if !json.Valid(in) {
		return false, false
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return false, false
		}
		if k, _ := tok.(string); strings.EqualFold(k, "error") && string(bytes.TrimSpace(v)) != "null" {
			hasErr = true
		}
	}
	return hasErr, true
}

// checkTablesAnswer runs the decoder on in and checks what holds whatever
// the bytes.
func checkTablesAnswer(t *testing.T, in []byte) {
	c := &client{api: "sentinel"}
	var results [2]struct {
		rows, nSchema int
		err           error
		got           []Row
	}
	for i, oneByte := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(in)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		var (
			cols []Column
			st   Stats
			res  = &results[i]
		)
		delivered, err := c.decodeTables(r, func(cs []Column) error {
			res.nSchema++
			if res.rows > 0 {
				t.Fatalf("%q: a schema after %d rows", in, res.rows)
			}
			cols = cs
			return nil
		}, func(rw Row) error {
			res.rows++
			if res.nSchema != 1 {
				t.Fatalf("%q: a row after %d schemas", in, res.nSchema)
			}
			if len(rw) != len(cols) {
				t.Fatalf("%q: row %v for columns %v", in, rw, cols)
			}
			for _, c := range cols {
				if _, ok := rw[c.Name]; !ok {
					t.Fatalf("%q: row %v lacks column %q", in, rw, c.Name)
				}
			}
			res.got = append(res.got, rw)
			return nil
		}, &st)
		res.err = err
		if st.Rows != res.rows || delivered != (res.rows > 0) {
			t.Fatalf("%q: stats %d rows, delivered %v, %d rows seen", in, st.Rows, delivered, res.rows)
		}
		if hasErr, ok := topLevelError(in); ok && hasErr && err == nil {
			t.Fatalf("%q (one byte at a time: %v): an answer with a top-level error read as a success", in, oneByte)
		}
		if err == nil && !json.Valid(in) {
			t.Fatalf("%q (one byte at a time: %v): not JSON, read as a success", in, oneByte)
		}
		var pe *PartialError
		if errors.As(err, &pe) && pe.Rows != res.rows {
			t.Fatalf("%q: PartialError says %d rows, %d delivered", in, pe.Rows, res.rows)
		}
	}
	a, b := results[0], results[1]
	if (a.err == nil) != (b.err == nil) || a.rows != b.rows || a.nSchema != b.nSchema {
		t.Fatalf("%q: whole: %d rows, err %v; byte by byte: %d rows, err %v", in, a.rows, a.err, b.rows, b.err)
	}
}

func TestDecodeTablesSeeds(t *testing.T) {
	for _, s := range sentinelSeeds {
		checkTablesAnswer(t, []byte(s))
	}
}

func FuzzDecodeTables(f *testing.F) {
	for _, s := range sentinelSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkTablesAnswer(t, in)
	})
}

// opaqueToken is no JWT: hidden because it is the token sent, not
// because it looks like one.
const opaqueToken = "opaqueFuzzTokenSecretPart0123456789"

// fuzzCredential hands out opaqueToken.
type fuzzCredential struct{}

func (fuzzCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: opaqueToken, ExpiresOn: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
}

// cannedAnswers answers every request with status and body, Retry-After 1.
type cannedAnswers struct {
	status int
	body   []byte
	calls  int
}

func (a *cannedAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	a.calls++
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{
		StatusCode: a.status, Status: strconv.Itoa(a.status) + " " + http.StatusText(a.status),
		Header:  http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}},
		Body:    io.NopCloser(bytes.NewReader(a.body)),
		Request: req,
	}, nil
}

// A whole Sentinel call on a fuzzed answer: bounded in calls, never a
// success for an answer with a top-level error or a non-2xx status, and
// no token in its error.
func FuzzSentinelHunt(f *testing.F) {
	for _, s := range sentinelSeeds {
		f.Add(uint16(200), []byte(s))
	}
	for _, st := range []uint16{204, 400, 401, 403, 404, 429, 500, 502, 504} {
		f.Add(st, []byte(`{"error":{"code":"BadArgumentError","message":"Authorization: Bearer TOKEN","innererror":{"code":"SyntaxError"}}}`))
	}
	f.Add(uint16(502), []byte(`<html><body>TOKEN</body></html>`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		if status < 200 || status > 599 {
			status = 200 + status%400 // no 1xx: the transport handles those
		}
		body = bytes.ReplaceAll(body, []byte("TOKEN"), []byte(opaqueToken))
		ans := &cannedAnswers{status: int(status), body: body}
		h, err := NewSentinel(Options{
			BaseURL: "https://la.test", Credential: fuzzCredential{}, HTTPClient: &http.Client{Transport: ans},
			Clock: clock.NewFake(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)), MaxRetries: 2,
			Workspace: "0c0ffee0-1234-4abc-8def-0123456789ab",
		})
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		rows := 0
		st, err := h.Hunt(context.Background(), Request{Query: "DeviceNetworkEvents | take 1"},
			func(cs []Column) error {
				cols = cols[:0]
				for _, c := range cs {
					cols = append(cols, c.Name)
				}
				return nil
			},
			func(rw Row) error {
				rows++
				var keys []string
				for k := range rw {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				want := slices.Clone(cols)
				slices.Sort(want)
				if !slices.Equal(keys, slices.Compact(want)) {
					t.Fatalf("row %v for columns %v", rw, cols)
				}
				return nil
			})
		if ans.calls > 3 {
			t.Fatalf("%d calls for at most 3 attempts", ans.calls)
		}
		if st.Rows != rows {
			t.Fatalf("stats %d rows, %d seen", st.Rows, rows)
		}
		if err != nil {
			if strings.Contains(err.Error(), opaqueToken) {
				t.Fatalf("the token shows in %q", err)
			}
			return
		}
		if status != 200 && status != 204 {
			t.Fatalf("status %d read as a success", status)
		}
		if hasErr, _ := topLevelError(body); status == 200 && hasErr {
			t.Fatalf("%q: an answer with a top-level error read as a success", body)
		}
	})
}
