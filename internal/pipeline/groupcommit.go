package pipeline

import (
	"context"
	"sync"

	"c2sweep/internal/store"
)

// committer shares store transactions between concurrently swept targets
// (group commit). A query's commit waits while another transaction is
// written; the commits that gathered meanwhile then go together in one
// transaction, written by one of their callers. Each transaction syncs to
// disk once, so fifty targets do not queue behind fifty syncs a round; one
// target commits each query alone, as before.
type committer struct {
	st    *store.Store
	runID int64

	mu    sync.Mutex
	cond  *sync.Cond // signalled when a transaction ends
	busy  bool       // a transaction is being written
	queue []*commitReq
}

type commitReq struct {
	sw    store.Sweep
	fresh []store.StoredHit
	err   error
	done  bool // guarded by committer.mu
}

func newCommitter(st *store.Store, runID int64) *committer {
	c := &committer{st: st, runID: runID}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// commit stores sw (as Store.CommitSweep) and returns its new hits.
func (c *committer) commit(ctx context.Context, sw store.Sweep) ([]store.StoredHit, error) {
	req := &commitReq{sw: sw}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = append(c.queue, req)
	for !req.done {
		if c.busy {
			c.cond.Wait()
			continue
		}
		c.busy = true
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()
		c.write(ctx, batch)
		c.mu.Lock()
		for _, r := range batch {
			r.done = true
		}
		c.busy = false
		c.cond.Broadcast()
	}
	return req.fresh, req.err
}

// write commits a batch in one transaction. When that fails, each commit
// is tried alone, so that one bad commit fails only its own query.
func (c *committer) write(ctx context.Context, batch []*commitReq) {
	sweeps := make([]store.Sweep, len(batch))
	for i, r := range batch {
		sweeps[i] = r.sw
	}
	fresh, err := c.st.CommitSweeps(ctx, c.runID, sweeps)
	if err == nil {
		for i, r := range batch {
			r.fresh = fresh[i]
		}
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		return
	}
	for _, r := range batch {
		r.fresh, r.err = c.st.CommitSweep(ctx, c.runID, r.sw.Target, r.sw.IPs, r.sw.End, r.sw.Hits)
	}
}
