package hunting

import (
	"io"
	"strings"
	"testing"
	"time"
)

// chunkReader hands out at most 16 KB a read, as a TLS connection does.
type chunkReader struct{ r io.Reader }

func (c chunkReader) Read(p []byte) (int, error) {
	if len(p) > 16<<10 {
		p = p[:16<<10]
	}
	return c.r.Read(p)
}

// A long value (here a 32 MB statistics table, which the decoder skips
// whole) arriving 16 KB a read is scanned in linear time: rescanning it
// from its start after every read took minutes for an answer near the
// body cap (found by the Sentinel fuzz work; 8 MB took 2 s, 32 MB 35 s).
func TestLongValueInSmallReadsIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 32 MB")
	}
	var b strings.Builder
	b.WriteString(`{"tables":[{"name":"PrimaryResult","columns":[{"name":"a","type":"string"}],"rows":[["x"]]},{"name":"stats","columns":[{"name":"a","type":"string"}],"rows":[`)
	row := `["` + strings.Repeat("y", 100) + `"],`
	for b.Len() < 32<<20 {
		b.WriteString(row)
	}
	b.WriteString(`["z"]]}]}`)
	c := &client{api: "sentinel"}
	var st Stats
	began := time.Now()
	if _, err := c.decodeTables(chunkReader{strings.NewReader(b.String())}, nil, nil, &st); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 15*time.Second || st.Rows != 1 {
		t.Fatalf("%d rows in %v", st.Rows, took)
	}
}
