package lab

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// The world's benchmarks; the hunting answer's is in huntinglab.

var benchNow = time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)

// BenchmarkTelemetry1M builds the benchmark world's telemetry: a million
// events. It reports the bytes the events hold.
func BenchmarkTelemetry1M(b *testing.B) {
	for b.Loop() {
		w := NewWorld(WorldConfig{Seed: 1, Now: benchNow, Events: 1_000_000, Devices: 5000, Contacts: 100})
		b.ReportMetric(float64(len(w.Events))*float64(unsafe.Sizeof(Event{}))/(1<<20), "MB-events")
		runtime.KeepAlive(w)
	}
}

// BenchmarkGenShodan sizes the world for benchmarks.
func BenchmarkGenShodan(b *testing.B) {
	for b.Loop() {
		w := &World{Config: WorldConfig{Seed: 1, Now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Servers: 20000, Banners: 100000}}
		genShodan(rand.New(rand.NewPCG(1, 2)), w)
	}
}
