package store

import (
	"c2sweep/internal/clock"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/indicator"
)

var benchN = flag.Int("store.n", 1_000_000, "indicators and hits in the store benchmarks")

var bench struct {
	sync.Mutex
	dir  string
	path string // a database holding *benchN indicators and hits
	n    int
}

func cleanupBench() {
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
}

const benchBatch = 10_000

func benchIP(i int) netip.Addr {
	if i%10 == 9 { // every tenth an IPv6 server
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
	}
	return netip.AddrFrom4([4]byte{byte(11 + i>>24), byte(i >> 16), byte(i >> 8), byte(i)})
}

func benchIndicator(i int, seen time.Time) *indicator.Indicator {
	return &indicator.Indicator{IP: benchIP(i), Sightings: []indicator.Sighting{{
		Hunt:   []string{"CobaltStrikeJARM", "CobaltStrikeProductName", "PoshC2", "EmpireC2", "DeimosC2"}[i%5],
		Source: "shodan", Port: 443, Transport: "tcp", Product: "Cobalt Strike Beacon", Org: "Example Hosting",
		ASN: "AS64500", Country: "NL", JARM: "07d14d16d21d21d00042d41d00041de5fb3038104f457d92ba02e9311512c2",
		LastSeen: seen,
	}}}
}

// benchHit is a hit with a row of the size Defender returns for
// DeviceNetworkEvents (the columns a sweep projects).
func benchHit(i int, ts time.Time) indicator.Hit {
	ip := benchIP(i)
	dev := fmt.Sprintf("ws-%05d.corp.example", i%20000)
	h := testHit(ip, dev, fmt.Sprintf("%d", 100000+i), ts, "CobaltStrikeJARM")
	h.Row = map[string]any{
		"Timestamp": ts.Format(time.RFC3339Nano), "DeviceId": h.DeviceID, "DeviceName": dev,
		"ActionType": h.Action, "RemoteIP": ip.String(), "RemotePort": 443, "LocalIP": "10.1.2.3", "LocalPort": 50123,
		"Protocol": "Tcp", "InitiatingProcessFileName": h.Process, "InitiatingProcessCommandLine": h.Command,
		"InitiatingProcessAccountName": "alice", "ReportId": h.ReportID,
	}
	return h
}

// buildBench fills a database with n indicators and n hits, batched as a
// run would: upserts of 10,000 indicators, then one committed sweep of
// 10,000 IPs with their hits per query.
func buildBench(tb testing.TB, path string, n int) (upsert, commit time.Duration) {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{Clock: clock.NewFake(t0), AlertTargets: []string{"teams"}})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	if err := s.Lock(ctx, false); err != nil {
		tb.Fatal(err)
	}
	run, err := s.BeginRun(ctx, RunInfo{Command: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	inds := make([]*indicator.Indicator, 0, benchBatch)
	for i := 0; i < n; i += benchBatch {
		inds = inds[:0]
		for j := i; j < min(n, i+benchBatch); j++ {
			inds = append(inds, benchIndicator(j, t0.Add(-time.Duration(j%7*24)*time.Hour)))
		}
		if err := s.UpsertIndicators(ctx, run, t0, inds); err != nil {
			tb.Fatal(err)
		}
	}
	upsert = time.Since(start)
	start = time.Now()
	ips := make([]netip.Addr, 0, benchBatch)
	hits := make([]indicator.Hit, 0, benchBatch)
	for i := 0; i < n; i += benchBatch {
		ips, hits = ips[:0], hits[:0]
		for j := i; j < min(n, i+benchBatch); j++ {
			ips = append(ips, benchIP(j))
			hits = append(hits, benchHit(j, t0.Add(-time.Duration(j)*time.Second)))
		}
		fresh, err := s.CommitSweep(ctx, run, crashTarget, ips, t0, hits)
		if err != nil {
			tb.Fatal(err)
		}
		if len(fresh) != len(hits) {
			tb.Fatalf("%d fresh of %d", len(fresh), len(hits))
		}
	}
	commit = time.Since(start)
	if err := s.FinishRun(ctx, run, RunResult{Outcome: OutcomeOK}); err != nil {
		tb.Fatal(err)
	}
	return upsert, commit
}

func dbSize(path string) int64 {
	var n int64
	for _, suf := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suf); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// BenchmarkUpsert1M upserts -store.n indicators and commits -store.n hits
// in batched transactions, and reports the time of each and the size of
// the database.
func BenchmarkUpsert1M(b *testing.B) {
	bench.Lock()
	defer bench.Unlock()
	n := *benchN
	for b.Loop() {
		dir, err := os.MkdirTemp("", "c2sweep-store-bench")
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, "state.db")
		up, cm := buildBench(b, path, n)
		b.ReportMetric(up.Seconds(), "upsert-s")
		b.ReportMetric(cm.Seconds(), "commit-s")
		b.ReportMetric(float64(up.Nanoseconds())/float64(n), "ns/indicator")
		b.ReportMetric(float64(cm.Nanoseconds())/float64(n), "ns/hit")
		b.ReportMetric(float64(dbSize(path)), "db-bytes")
		if bench.dir == "" {
			bench.dir, bench.path, bench.n = dir, path, n
		} else {
			os.RemoveAll(dir)
		}
	}
}

// BenchmarkNewHitsSince reads the hits a new run found (1,000) out of a
// database of -store.n hits: by first-reported time and by run.
func BenchmarkNewHitsSince(b *testing.B) {
	bench.Lock()
	defer bench.Unlock()
	ctx := context.Background()
	if bench.dir == "" || bench.n != *benchN {
		dir, err := os.MkdirTemp("", "c2sweep-store-bench")
		if err != nil {
			b.Fatal(err)
		}
		cleanupBench()
		bench.dir, bench.path, bench.n = dir, filepath.Join(dir, "state.db"), *benchN
		buildBench(b, bench.path, bench.n)
	}
	later := t0.Add(24 * time.Hour)
	s, err := Open(ctx, bench.path, Options{Clock: clock.NewFake(later), AlertTargets: []string{"teams"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Lock(ctx, false); err != nil {
		b.Fatal(err)
	}
	run, err := s.BeginRun(ctx, RunInfo{Command: "bench-new"})
	if err != nil {
		b.Fatal(err)
	}
	var ips []netip.Addr
	var hits []indicator.Hit
	for j := 0; j < 1000; j++ {
		ips = append(ips, benchIP(j))
		hits = append(hits, benchHit(j, later.Add(-time.Duration(j)*time.Second)))
	}
	if _, err := s.CommitSweep(ctx, run, crashTarget, ips, later, hits); err != nil {
		b.Fatal(err)
	}
	// Leave the database as the bulk build made it for a rerun.
	b.Cleanup(func() {
		s.db.Exec("DELETE FROM alerts WHERE hit_id IN (SELECT id FROM hits WHERE run_id = ?)", run)
		s.db.Exec("DELETE FROM hit_hunts WHERE hit_id IN (SELECT id FROM hits WHERE run_id = ?)", run)
		s.db.Exec("DELETE FROM hits WHERE run_id = ?", run)
	})
	b.ReportMetric(float64(dbSize(bench.path)), "db-bytes")
	for _, c := range []struct {
		name string
		f    HitFilter
	}{
		{"reported-since", HitFilter{ReportedSince: later}},
		{"new-in-run", HitFilter{NewInRun: run}},
		{"since-limit-100", HitFilter{Since: later.Add(-time.Hour), Limit: 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				got, err := s.Hits(ctx, c.f)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != 1000 && c.f.Limit == 0 || c.f.Limit > 0 && len(got) != c.f.Limit {
					b.Fatalf("%d hits", len(got))
				}
			}
		})
	}
	b.Run("pending-alerts-100", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.PendingAlerts(ctx, "teams", 100); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("last-swept-20k", func(b *testing.B) {
		var q []netip.Addr
		for j := 0; j < 20000; j++ {
			q = append(q, benchIP(j*37%*benchN))
		}
		for b.Loop() {
			m, err := s.LastSwept(ctx, crashTarget, q)
			if err != nil || len(m) != len(q) {
				b.Fatalf("%d swept, %v", len(m), err)
			}
		}
	})
}
