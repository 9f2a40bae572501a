package shodanfile

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"c2sweep/internal/shodan"
	"c2sweep/internal/source"
)

// referenceItem is what the reader made of a line before the fast decoder:
// encoding/json into shodan.Banner, then Sighting.
func referenceItem(line []byte, hunt string) (item, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return item{}, false
	}
	var b shodan.Banner
	if err := json.Unmarshal(line, &b); err != nil {
		return item{skip: shodan.SkipUndecodableMatch}, true
	}
	ip, sg, err := b.Sighting("")
	if err != nil {
		return item{skip: shodan.SkipReason(err)}, true
	}
	sg.Hunt, sg.Source = hunt, Name
	return item{sg: source.Sighting{IP: ip, Sighting: sg, Tags: b.Tags, Reference: hostURL + ip.String()}}, true
}

func checkBlock(t *testing.T, lines [][]byte) {
	t.Helper()
	var want []item
	for _, l := range lines {
		if it, ok := referenceItem(l, "H"); ok {
			want = append(want, it)
		}
	}
	got := parseBlock(bytes.Join(lines, []byte("\n")), "H")
	if len(got) != len(want) {
		t.Fatalf("%d items, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("item %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}
}

// realLines are generated banners as `shodan download` writes them, and
// the ugly lines of the contract.
func realLines(t testing.TB, n int, seed uint64) [][]byte {
	var raw bytes.Buffer
	if err := writeBanners(&raw, n, seed); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw.Bytes()), []byte("\n"))
	for _, l := range ugly {
		lines = append(lines, []byte(l))
	}
	return lines
}

// mutateLine changes a line at random: a byte flipped, dropped or doubled,
// or a token that JSON or the banner's types treat specially put in.
func mutateLine(r *rand.Rand, line []byte) []byte {
	tokens := []string{`"`, `\`, `\u00e9`, "\x00", "\xff", `{`, `}`, `[`, `]`, `,`, `null`, `1.5`, `"IP_STR"`, `"port":"1",`, `"tags":[1],`, `"ip_str":"192.0.2.9",`}
	out := append([]byte(nil), line...)
	for range 1 + r.IntN(3) {
		if len(out) == 0 {
			break
		}
		i := r.IntN(len(out))
		switch r.IntN(4) {
		case 0:
			out[i] ^= byte(1 << r.IntN(8))
		case 1:
			out = append(out[:i], out[i+1:]...)
		case 2:
			out = append(out[:i], append([]byte{out[i]}, out[i:]...)...)
		default:
			out = append(out[:i], append([]byte(tokens[r.IntN(len(tokens))]), out[i:]...)...)
		}
	}
	return out
}

// TestParseBlockMatchesEncodingJSON: realistic banners and mutations of
// them give the same sightings, skip reasons and order as encoding/json.
func TestParseBlockMatchesEncodingJSON(t *testing.T) {
	lines := realLines(t, 400, 3)
	checkBlock(t, lines)
	r := rand.New(rand.NewPCG(5, 8))
	var mutated [][]byte
	for i := range 3000 {
		mutated = append(mutated, mutateLine(r, lines[i%len(lines)]))
	}
	checkBlock(t, mutated)
}

// FuzzParseLine checks one line, and a realistic banner mutated, against
// encoding/json.
func FuzzParseLine(f *testing.F) {
	for _, l := range realLines(f, 20, 7) {
		f.Add(l, uint64(0))
	}
	f.Fuzz(func(t *testing.T, line []byte, seed uint64) {
		if bytes.IndexByte(line, '\n') >= 0 {
			t.Skip() // one line
		}
		checkBlock(t, [][]byte{line})
		if seed != 0 {
			m := mutateLine(rand.New(rand.NewPCG(seed, 1)), line)
			if bytes.IndexByte(m, '\n') < 0 {
				checkBlock(t, [][]byte{m})
			}
		}
	})
}

// BenchmarkDecodeBanners is the decoding a worker does per byte of banner
// text, with encoding/json and with the fast decoder.
func BenchmarkDecodeBanners(b *testing.B) {
	for _, name := range []string{"encoding-json", "fast"} {
		b.Run(name, func(b *testing.B) {
			lines := realLines(b, 500, 11)
			lines = lines[:500]
			n := 0
			for _, l := range lines {
				n += len(l)
			}
			b.SetBytes(int64(n))
			for b.Loop() {
				for _, l := range lines {
					var bn shodan.Banner
					var err error
					if name == "fast" {
						err = shodan.DecodeSightingBanner(l, &bn)
					} else {
						err = json.Unmarshal(l, &bn)
					}
					if err != nil {
						b.Fatal(err)
					}
					_, _, _ = bn.Sighting("H")
				}
			}
		})
	}
}
