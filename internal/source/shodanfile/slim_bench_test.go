package shodanfile

import (
	"bytes"
	"encoding/json"
	"testing"

	"c2sweep/internal/shodan"
)

func benchLines(b *testing.B) [][]byte {
	var raw bytes.Buffer
	if err := writeBanners(&raw, 500, 11); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(raw.Len()))
	return bytes.Split(bytes.TrimSpace(raw.Bytes()), []byte("\n"))
}

// BenchmarkSlim is the cost of blanking, per byte of banner text.
func BenchmarkSlim(b *testing.B) {
	lines := benchLines(b)
	var buf []byte
	for b.Loop() {
		for _, l := range lines {
			buf = slim(buf[:0], l)
		}
	}
}

// BenchmarkDecodeBanners is the decoding a worker does, with and without
// slim, per byte of banner text.
func BenchmarkDecodeBanners(b *testing.B) {
	for _, withSlim := range []bool{false, true} {
		name := "plain"
		if withSlim {
			name = "slim"
		}
		b.Run(name, func(b *testing.B) {
			lines := benchLines(b)
			var buf []byte
			for b.Loop() {
				for _, l := range lines {
					if withSlim {
						buf = slim(buf[:0], l)
						l = buf
					}
					var bn shodan.Banner
					if err := json.Unmarshal(l, &bn); err != nil {
						b.Fatal(err)
					}
					_, _, _ = bn.Sighting("H")
				}
			}
		})
	}
}
