package scheduler_test

import (
	"context"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/weir-dev/weir/internal/catalogseed"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
)

// BenchmarkBackfillCreate plans, expands and stores a backfill of 87,600
// hourly partitions × 20 assets (1,752,000 tasks, one partition each) in
// one transaction, and reports the peak Go heap while doing it. Run with
// -benchtime=1x: one op is one whole backfill. status-ms is the time to
// read the new backfill's progress, as `weir backfill status` does.
func BenchmarkBackfillCreate(b *testing.B) {
	hourly, g, _, now := catalogseed.TenYearsHourly()
	req := plan.Request{Selection: "*", Partitions: hourly.Key(0) + "..." + hourly.Key(87_599)}
	for _, backend := range catalogseed.Backends {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				st := catalogseed.OpenStore(ctx, b, backend)
				peak := watchHeap()
				b.StartTimer()
				pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, req, now)
				if err != nil {
					b.Fatal(err)
				}
				tg, err := pl.Expand()
				if err != nil {
					b.Fatal(err)
				}
				run, _, err := scheduler.Enqueue(ctx, st, tg, scheduler.EnqueueOpts{Kind: "backfill", CreatedBy: "bench", Now: now})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
				// What `weir backfill status` reads: the run's counts,
				// per asset, and its pace.
				t0 := time.Now()
				if _, err := scheduler.RunProgressAt(ctx, st, run.ID, now.Add(time.Minute)); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "status-ms")
				b.ReportMetric(float64(run.TaskCount()), "tasks")
				st.Close()
				b.StartTimer()
			}
		})
	}
}

// watchHeap samples the live heap every few milliseconds until the
// returned function is called, which returns the peak.
func watchHeap() func() uint64 {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			mu.Lock()
			peak = max(peak, s[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
