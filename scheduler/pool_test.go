package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/postgres/pgtest"
)

// TestPoolQuotaHoldsAcrossWorkers: 8 workers, each with its own connections
// as if on its own host, share a pool with quota 3. Sampled throughout, the
// store never shows more than 3 running in the pool, and no more than 3
// computes ever overlap.
func TestPoolQuotaHoldsAcrossWorkers(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	open := func() store.Store { return openPostgres(t, dsn) }
	var inCompute, peakCompute atomic.Int32
	graph := lineage.Must(&pipelines.Asset{Key: "load", Partitions: daily, Pool: "warehouse",
		Compute: func(ctx context.Context, task *pipelines.Task) error {
			n := inCompute.Add(1)
			defer inCompute.Add(-1)
			for p := peakCompute.Load(); n > p && !peakCompute.CompareAndSwap(p, n); p = peakCompute.Load() {
			}
			<-time.After(5 * time.Millisecond) // the work
			return writeKey(ctx, task)
		}})
	main := open()
	if err := main.PoolSet(ctx, store.PoolSetParams{Name: "warehouse", MaxRunning: 3}); err != nil {
		t.Fatal(err)
	}
	pl, err := (&plan.Planner{Graph: graph, Status: main}).Plan(ctx, plan.Request{Selection: "load", Partitions: "2024-01-01...2024-01-31"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := pl.Expand()
	run, _, err := scheduler.Enqueue(ctx, main, g, scheduler.EnqueueOpts{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		w := &scheduler.Worker{Store: open(), Bucket: bucket, Graph: graph, ID: fmt.Sprint("w", i), Concurrency: 2, RunID: run.ID, PollInterval: 10 * time.Millisecond}
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	samples, peak := 0, 0
	for {
		pools, err := main.PoolList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pools {
			if p.Name == "warehouse" {
				peak = max(peak, p.Running)
				if p.Running > 3 {
					t.Errorf("sample %d: %d running in warehouse, quota 3", samples, p.Running)
				}
			}
		}
		samples++
		r, err := main.RunGet(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.RunRunning {
			break
		}
	}
	wg.Wait()
	if r, _ := main.RunGet(ctx, run.ID); r.Status != store.RunSucceeded {
		t.Fatalf("run %+v", r)
	}
	if peakCompute.Load() > 3 {
		t.Fatalf("%d computes overlapped, quota 3", peakCompute.Load())
	}
	t.Logf("%d samples; peak running in the store %d, peak overlapping computes %d", samples, peak, peakCompute.Load())
}
