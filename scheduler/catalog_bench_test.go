package scheduler_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/internal/catalogseed"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// BenchmarkStalenessTenYearsHourly: a catalog where every one of 87,600
// hourly partitions × 20 assets has a current version (1.75 M
// materializations; the trailing-24 fans record 24 inputs each, ~10 M
// input rows). Then chain05's code version changes and one partition of
// chain00 is promoted again. status is `weir assets status` for all 20
// assets (plan.AssetHealth), status-cold the same with no status summary
// kept (every partition's row read); plan-stale is `materialize --select '*'
// --reprocess stale` over the whole range, planning only (what the dry
// run prints). Both must find the same stale partitions in interval form.
// WEIR_BENCH_PARTITIONS makes the catalog smaller.
func BenchmarkStalenessTenYearsHourly(b *testing.B) {
	hourly, g, n, now := catalogseed.TenYearsHourly()
	// The same graph with chain05 at code version "v2".
	var changed []*pipelines.Asset
	for _, a := range g.Assets() {
		if a.Key == "chain05" {
			c := *a
			c.CodeVersion = "v2"
			a = &c
		}
		changed = append(changed, a)
	}
	g2 := lineage.Must(changed...)
	// And one whose chain00 writes a file, to make its partition again.
	var writing []*pipelines.Asset
	for _, a := range g.Assets() {
		if a.Key == "chain00" {
			c := *a
			c.Compute = func(ctx context.Context, t *pipelines.Task) error {
				for _, k := range t.Keys {
					w, err := t.Output.Create(ctx, k, "part.txt")
					if err != nil {
						return err
					}
					if _, err := w.Write([]byte("again\n")); err != nil {
						return err
					}
					if err := w.Close(); err != nil {
						return err
					}
				}
				return nil
			}
			a = &c
		}
		writing = append(writing, a)
	}
	gRun := lineage.Must(writing...)
	for _, backend := range catalogseed.Backends {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			st := catalogseed.OpenStore(ctx, b, backend)
			defer st.Close()
			t0 := time.Now()
			counts, err := catalogseed.Seed(ctx, st.(interface{ DB() *sql.DB }).DB(), g, n, now)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: seeded %d materializations, %d inputs in %s", backend, counts.Materializations, counts.Inputs, time.Since(t0).Round(time.Second))
			// chain00's first partition made again, by weir: what read it
			// (chain01..09, the fans, the trailing windows over it) becomes
			// stale.
			pl, err := (&plan.Planner{Graph: gRun, Status: st}).Plan(ctx, plan.Request{Selection: "chain00", Partitions: hourly.Key(0), Reprocess: plan.ReprocessAll}, now)
			if err != nil {
				b.Fatal(err)
			}
			tg, err := pl.Expand()
			if err != nil {
				b.Fatal(err)
			}
			res, err := (&scheduler.Executor{Store: st, Bucket: memblob.OpenBucket(nil), Clock: clock.NewFake(now)}).Run(ctx, tg, scheduler.RunOpts{})
			if err != nil || res.Status != store.RunSucceeded {
				tasks, _ := st.TaskList(ctx, store.TaskListParams{})
				b.Fatalf("re-run chain00: %+v %v: %s", res, err, tasks[0].Error)
			}
			keys := make([]string, 0, 20)
			for _, a := range g2.Assets() {
				keys = append(keys, a.Key)
			}
			var stale int64
			// status-cold reads every partition's row (no summary kept, as
			// on the first read after migration 20); status and plan-stale
			// read the summaries it kept and the changes since (none).
			db := st.(interface{ DB() *sql.DB }).DB()
			b.Run("status-cold", func(b *testing.B) {
				b.ReportAllocs()
				peak := watchHeap()
				for b.Loop() {
					b.StopTimer()
					if _, err := db.ExecContext(ctx, `DELETE FROM asset_status_summaries`); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					health, err := plan.AssetHealth(ctx, st, g2, keys, now)
					if err != nil {
						b.Fatal(err)
					}
					stale = 0
					for _, h := range health {
						stale += h.Stale.Len()
					}
				}
				b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(stale), "stale")
			})
			b.Run("status", func(b *testing.B) {
				b.ReportAllocs()
				peak := watchHeap()
				for b.Loop() {
					health, err := plan.AssetHealth(ctx, st, g2, keys, now)
					if err != nil {
						b.Fatal(err)
					}
					var got int64
					for _, h := range health {
						got += h.Stale.Len()
					}
					if got != stale {
						b.Fatalf("status from the summaries: %d stale, from every row %d", got, stale)
					}
				}
				b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(stale), "stale")
			})
			b.Run("plan-stale", func(b *testing.B) {
				b.ReportAllocs()
				peak := watchHeap()
				req := plan.Request{Selection: "*", Partitions: hourly.Key(0) + "..." + hourly.Key(n-1), Reprocess: plan.ReprocessStale}
				for b.Loop() {
					p, err := (&plan.Planner{Graph: g2, Status: st}).Plan(ctx, req, now)
					if err != nil {
						b.Fatal(err)
					}
					var got int64
					for _, a := range p.Assets {
						got += a.ToRun.Len()
					}
					if got != stale {
						b.Fatalf("plan runs %d partitions, status says %d are stale", got, stale)
					}
				}
				b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
			})
		})
	}
}
