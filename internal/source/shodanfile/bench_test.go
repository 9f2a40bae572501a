//go:build unix

package shodanfile

import (
	"bufio"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"c2sweep/internal/source"
)

const benchBanners = 50000

// benchFile returns a gzip'd file of benchBanners generated banners (about
// 170 MB inflated), made once in the temp dir and kept there for later
// runs (it is never committed). gzip level 9, as `shodan download` writes.
func benchFile(b *testing.B) string {
	path := filepath.Join(os.TempDir(), "c2sweep-bench-banners-50000-v3.json.gz")
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return path
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "c2sweep-bench-*.tmp")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(tmp.Name())
	zw, _ := gzip.NewWriterLevel(tmp, gzip.BestCompression)
	bw := bufio.NewWriterSize(zw, 1<<20)
	if err := writeBanners(bw, benchBanners, 42); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		b.Fatal(err)
	}
	return path
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReadFile reads the 50,000-banner file and, in the same run,
// times `zcat FILE | wc -l` on it: the floor that reading must keep up with.
// It reports both wall times and their ratio (goal: at most 1.2), and both
// CPU times (zcat's and wc's together, the reader's whole process), which
// say what the ratio would be on idle cores when the machine is shared.
func BenchmarkReadFile(b *testing.B) {
	if _, err := exec.LookPath("zcat"); err != nil {
		b.Skip("no zcat")
	}
	path := benchFile(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	// Warm the page cache, so neither side pays for the disk.
	if _, err := os.ReadFile(path); err != nil {
		b.Fatal(err)
	}
	var floor, reader, floorCPU, readerCPU time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		cmd := exec.Command("sh", "-c", `zcat "$0" | wc -l`, path)
		out, err := cmd.Output()
		floor += time.Since(t0)
		if cmd.ProcessState != nil {
			// The shell's usage includes the children it waited for.
			floorCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		if err != nil {
			b.Fatal(err)
		}
		if lines, _ := strconv.Atoi(strings.TrimSpace(string(out))); lines != benchBanners {
			b.Fatalf("zcat | wc -l = %q, want %d", out, benchBanners)
		}
		kept := 0
		t1, c1 := time.Now(), cpuTime()
		st, err := ReadFiles(context.Background(), []string{path}, "Bench", func(source.Sighting) error { kept++; return nil })
		reader += time.Since(t1)
		readerCPU += cpuTime() - c1
		if err != nil {
			b.Fatal(err)
		}
		if st.Read != benchBanners || kept != st.Kept || st.Kept < benchBanners*97/100 {
			b.Fatalf("stats %+v, %d kept", st, kept)
		}
		n++
	}
	b.ReportMetric(floor.Seconds()/float64(n), "zcat-s/op")
	b.ReportMetric(reader.Seconds()/float64(n), "reader-s/op")
	b.ReportMetric(reader.Seconds()/floor.Seconds(), "ratio")
	b.ReportMetric(floorCPU.Seconds()/float64(n), "zcat-cpu-s/op")
	b.ReportMetric(readerCPU.Seconds()/float64(n), "reader-cpu-s/op")
	b.ReportMetric(float64(fi.Size())/1e6, "gz-MB")
}
