package huntinglab

import (
	"net/http"
	"strings"
	"testing"

	"c2sweep/internal/lab"
)

// BenchmarkHuntingAnswer streams the largest answer the APIs give (the
// 100,000-row cap, every DeviceNetworkEvents column) and reports rows/s.
func BenchmarkHuntingAnswer(b *testing.B) {
	h := newService(b, lab.WorldConfig{Seed: 1, Now: labNow, Events: 200_000, Devices: 500, Contacts: 1})
	var lits []string
	for ip := range h.byIP[0] {
		lits = append(lits, `"`+ip.String()+`"`)
	}
	q := "DeviceNetworkEvents | where RemoteIP in (" + strings.Join(lits, ",") + ")"
	m, err := parseQuery(q, labNow, labNow.Add(-retention), labNow)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for b.Loop() {
		rec := &countWriter{header: http.Header{}}
		h.answer(rec, "graph", m, 0, labNow)
		n = rec.n
	}
	b.SetBytes(n)
	b.ReportMetric(float64(b.N)*maxRows/b.Elapsed().Seconds(), "rows/s")
}

type countWriter struct {
	header http.Header
	n      int64
}

func (c *countWriter) Header() http.Header         { return c.header }
func (c *countWriter) WriteHeader(int)             {}
func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
