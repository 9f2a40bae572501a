package pipeline_test

import (
	"context"
	"testing"
	"time"

	"c2sweep/internal/lab"
	"c2sweep/internal/pipeline"
	"c2sweep/internal/report"
	"c2sweep/internal/store"
)

// A beacon's many events fold into one row per device and C2 server, with
// the exact count and first and last contact the lab planted; the same
// device's second server is a row of its own.
func TestBeaconRollsUpPerDeviceAndServer(t *testing.T) {
	const beacons = 20
	now := time.Now().UTC()
	l := ptStartLab(t, lab.Options{World: lab.WorldConfig{Seed: 1, Now: now, Beacons: beacons}})
	st := ptTempStore(t)
	p := &pipeline.Pipeline{Sources: viaShodan(l.shodanClient(t, nil)), Hunter: l.hunter(t, "graph", nil), Store: st}
	s := ptRun(t, p, pipeline.Options{Hunts: ptHunts(), API: "graph"})
	planted := l.World.Contacts[len(l.World.Contacts)-beacons-2:]
	dev := planted[0].DeviceID
	hits, err := st.Hits(context.Background(), store.HitFilter{NewInRun: s.RunID, Device: planted[0].Device})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		events      int
		first, last time.Time
	}
	wants := map[string]*want{}
	for _, c := range planted {
		if c.DeviceID != dev {
			t.Fatalf("beacon contacts of two devices: %s, %s", dev, c.DeviceID)
		}
		w := wants[c.ServerIP.String()]
		if w == nil {
			w = &want{first: c.Time, last: c.Time}
			wants[c.ServerIP.String()] = w
		}
		w.events++
		w.first = minTime(w.first, c.Time)
		w.last = maxTime(w.last, c.Time)
	}
	if len(wants) != 2 || wants[planted[0].ServerIP.String()].events != beacons {
		t.Fatalf("lab planted %+v", wants)
	}
	got := 0
	for _, r := range report.Rollup(hits) {
		if r.DeviceID != dev {
			continue // an ordinary contact of the same device name
		}
		w := wants[r.IP.String()]
		if w == nil {
			continue
		}
		got++
		if r.Events != w.events || !r.First.Equal(w.first) || !r.Last.Equal(w.last) || len(r.HitIDs) != w.events {
			t.Errorf("%s -> %s: %d events %s..%s, want %d %s..%s", r.Device, r.IP, r.Events, r.First, r.Last, w.events, w.first, w.last)
		}
	}
	if got != 2 {
		t.Errorf("%d rolled-up rows of the beacon device, want 2 (one per server): %s", got, ptDescribe(s))
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
