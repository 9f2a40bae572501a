package hunting_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"c2sweep/internal/hunting"
	"c2sweep/internal/lab"
)

// BenchmarkHuntStream runs one query whose answer is the 100,000-row cap
// (seven columns) through TLS, the Graph client and its streaming decoder,
// and reports rows/s and the heap in use after the call.
func BenchmarkHuntStream(b *testing.B) {
	f := newFixture(b, lab.Options{World: lab.WorldConfig{Seed: 1, Events: 200_000, Devices: 500, Contacts: 1}})
	seen := map[netip.Addr]bool{}
	var lits []string
	for _, e := range f.lab.World.Events {
		if e.Table == "DeviceNetworkEvents" && !seen[e.IP] {
			seen[e.IP] = true
			lits = append(lits, fmt.Sprintf("%q", e.IP))
		}
	}
	q := "DeviceNetworkEvents | where RemoteIP in (" + strings.Join(lits, ",") + ") | project Timestamp, DeviceId, DeviceName, RemoteIP, RemotePort, InitiatingProcessCommandLine, ReportId"
	g := hunting.NewGraph(f.options(b))
	rows := 0
	var peak uint64
	for b.Loop() {
		st, err := g.Hunt(context.Background(), hunting.Request{Query: q}, nil, func(r hunting.Row) error {
			if st := rows % 20000; st == 0 {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
			rows++
			return nil
		})
		if err != nil || st.Rows != 100000 {
			b.Fatalf("%v, %d rows", err, st.Rows)
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "MB-heap-peak")
}
