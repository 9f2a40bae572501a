package lab_test

import (
	"testing"

	"c2sweep/internal/lab"
)

// The lab's --faults SPEC is typed by a person: read or refused, never a
// panic, and a rate read is a fraction.
func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"5xx=0.1", "latency=300ms,only=graph", "cpuquota=1,huge=1GB", "hang=1,trickle=0.5", "x", "5xx=", "=1", ",,", "latency=-1s", "huge=99999999999999999999KB", "5xx=NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		fs, err := lab.ParseFaults(spec)
		if err != nil {
			return
		}
		for _, r := range []float64{fs.Rate5xx, fs.DropRate, fs.Error200Rate, fs.HangRate, fs.CPUQuotaRate, fs.EchoRate} {
			if !(r >= 0 && r <= 1) {
				t.Fatalf("%q: rate %v outside [0, 1]", spec, r)
			}
		}
	})
}
