package pipeline

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"c2sweep/internal/indicator"
	"c2sweep/internal/store"
)

// Commits of many targets at once are all stored, each with its own new
// hits and windows, and a bad one fails alone though it shared a batch.
func TestCommitterSharesTransactions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Lock(ctx, false); err != nil {
		t.Fatal(err)
	}
	run, err := st.BeginRun(ctx, store.RunInfo{Command: "run"})
	if err != nil {
		t.Fatal(err)
	}
	c := newCommitter(st, run)
	end := time.Now().UTC().Truncate(time.Second)
	ip := netip.MustParseAddr("198.51.100.7")
	const targets, queries = 20, 10
	var wg sync.WaitGroup
	errs := make([]error, targets)
	news := make([]int, targets)
	for i := range targets {
		wg.Go(func() {
			name := fmt.Sprintf("t%02d", i)
			for q := range queries {
				sw := store.Sweep{Target: indicator.WindowKey(name, "DeviceNetworkEvents.RemoteIP"), IPs: []netip.Addr{ip}, End: end,
					Hits: []indicator.Hit{{Target: name, Table: "DeviceNetworkEvents", Column: "RemoteIP", IP: ip,
						Timestamp: end.Add(-time.Duration(q) * time.Minute), DeviceID: "d1", ReportID: fmt.Sprint(q), Hunts: []string{"PoshC2"}}}}
				if i == 7 && q == 3 {
					sw.Target = "" // refused by the store
				}
				fresh, err := c.commit(ctx, sw)
				if err != nil {
					if errs[i] == nil {
						errs[i] = err
					}
					continue
				}
				news[i] += len(fresh)
			}
		})
	}
	wg.Wait()
	for i := range targets {
		want := queries
		if i == 7 {
			want--
			if errs[i] == nil {
				t.Error("the bad commit did not fail")
			}
		} else if errs[i] != nil {
			t.Errorf("target %d: %v", i, errs[i])
		}
		if news[i] != want {
			t.Errorf("target %d: %d new hits, want %d", i, news[i], want)
		}
	}
	hits, err := st.RunHits(ctx, run)
	if err != nil || len(hits) != targets*queries-1 {
		t.Errorf("%d hits stored (%v), want %d", len(hits), err, targets*queries-1)
	}
}
