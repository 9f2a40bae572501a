package store

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A damaged state is refused on open, with a hint that names the file,
// never read as if it were whole.
func TestOpenRefusesCorruptState(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	buildBench(t, good, 20_000)
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if len(whole) < 40*page {
		t.Fatalf("the database is too small to damage: %d bytes", len(whole))
	}
	garbage := make([]byte, 64<<10)
	rand.Read(garbage)

	cases := map[string][]byte{
		"garbage": garbage,
		// Pages in the middle overwritten: the header is intact, so only
		// reading the pages finds the damage.
		"damaged pages": func() []byte {
			b := append([]byte(nil), whole...)
			copy(b[len(b)/2:], garbage[:8*page])
			return b
		}(),
		"truncated": whole[:len(whole)/2],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".db")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(context.Background(), path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("opened a damaged database")
			}
			if !errors.Is(err, ErrNotStateDB) || !strings.Contains(err.Error(), path) {
				t.Errorf("err %v, want ErrNotStateDB naming the file", err)
			}
			if name != "garbage" && !errors.Is(err, ErrCorrupt) {
				t.Errorf("err %v, want ErrCorrupt", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("err %q spans lines: the command line prints it on one", err)
			}
			if h := hintOf(err); !strings.Contains(h, path) || !strings.Contains(h, "move") {
				t.Errorf("hint %q does not say to move %s aside", h, path)
			}
			if got, _ := os.ReadFile(path); string(got) != string(data) {
				t.Errorf("the damaged file was changed")
			}
		})
	}
	// The whole file still opens.
	s, err := Open(context.Background(), good, Options{})
	if err != nil {
		t.Fatalf("whole database: %v", err)
	}
	s.Close()
}

// BenchmarkOpenCheck is the cost of opening (and checking) a database of
// -store.n indicators and hits.
func BenchmarkOpenCheck(b *testing.B) {
	bench.Lock()
	defer bench.Unlock()
	if bench.dir == "" || bench.n != *benchN {
		dir, err := os.MkdirTemp("", "c2sweep-store-bench")
		if err != nil {
			b.Fatal(err)
		}
		cleanupBench()
		bench.dir, bench.path, bench.n = dir, filepath.Join(dir, "state.db"), *benchN
		buildBench(b, bench.path, bench.n)
	}
	ctx := context.Background()
	for b.Loop() {
		start := time.Now()
		s, err := Open(ctx, bench.path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "open-ms")
		s.Close()
	}
	b.ReportMetric(float64(dbSize(bench.path)), "db-bytes")
}
