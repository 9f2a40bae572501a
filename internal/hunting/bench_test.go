package hunting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
)

// BenchmarkHuntStream runs one query whose answer is the 100,000-row cap
// (seven columns) through TLS, the Graph client and its streaming decoder,
// and reports rows/s and the heap in use after the call.
//
// Each iteration also makes the floor call: the same request, with the
// same token, over the same transport, its answer read and thrown away
// without decoding. decode/floor is the time the client takes over that
// floor; both include the lab answering, measured the same way in the same
// run, and decode/floor-median is the median of the iterations' own ratios.
func BenchmarkHuntStream(b *testing.B) {
	f := newFixture(b, lab.Options{World: lab.WorldConfig{Seed: 1, Events: 200_000, Devices: 500, Contacts: 1}, HuntingPerMinute: 1 << 20})
	seen := map[netip.Addr]bool{}
	var lits []string
	for _, e := range f.lab.World.Events {
		if e.Table == "DeviceNetworkEvents" && !seen[e.IP] {
			seen[e.IP] = true
			lits = append(lits, fmt.Sprintf("%q", e.IP))
		}
	}
	q := "DeviceNetworkEvents | where RemoteIP in (" + strings.Join(lits, ",") + ") | project Timestamp, DeviceId, DeviceName, RemoteIP, RemotePort, InitiatingProcessCommandLine, ReportId"
	o := f.options(b)
	o.PerMinute = 1 << 20
	g := hunting.NewGraph(o)
	floor := rawCall(b, f, o, q)
	rows := 0
	var peak uint64
	var floorTime, decodeTime time.Duration
	var ratios []float64
	var answer int64
	for b.Loop() {
		t0 := time.Now()
		answer += floor()
		t1 := time.Now()
		st, err := g.Hunt(context.Background(), hunting.Request{Query: q}, nil, func(r hunting.Row) error {
			if st := rows % 20000; st == 0 {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
			rows++
			return nil
		})
		decodeTime += time.Since(t1)
		floorTime += t1.Sub(t0)
		ratios = append(ratios, float64(time.Since(t1))/float64(t1.Sub(t0)))
		if err != nil || st.Rows != 100000 {
			b.Fatalf("%v, %d rows", err, st.Rows)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(rows)/decodeTime.Seconds(), "rows/s")
	b.ReportMetric(decodeTime.Seconds()*1000/n, "decode-ms")
	b.ReportMetric(floorTime.Seconds()*1000/n, "floor-ms")
	b.ReportMetric(decodeTime.Seconds()/floorTime.Seconds(), "decode/floor")
	// The median of each iteration's pair is steadier on a shared machine:
	// a pair runs back to back, under the same load.
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "decode/floor-median")
	b.ReportMetric(float64(answer)/n/(1<<20), "MB-answer")
	b.ReportMetric(float64(peak)/(1<<20), "MB-heap-peak")
}

// rawCall returns a function that sends q as the Graph client does and
// reads the answer without decoding it, returning its length.
func rawCall(b *testing.B, f *fixture, o hunting.Options, q string) func() int64 {
	b.Helper()
	tok, err := o.Credential.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{hunting.GraphScope}})
	if err != nil {
		b.Fatal(err)
	}
	payload, err := json.Marshal(map[string]string{"Query": q})
	if err != nil {
		b.Fatal(err)
	}
	return func() int64 {
		req, err := http.NewRequest(http.MethodPost, f.lab.URL+"/v1.0/security/runHuntingQuery", bytes.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := o.HTTPClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("floor call: HTTP %d, %v", resp.StatusCode, err)
		}
		return n
	}
}
