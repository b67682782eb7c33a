package schedule_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// promote stores a run of asset over parts and promotes all its tasks, as
// workers would.
func promote(t testing.TB, st store.Store, g *lineage.Graph, asset, parts string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: asset, Partitions: parts, Reprocess: plan.ReprocessAll}, now)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := scheduler.Enqueue(ctx, st, tg, scheduler.EnqueueOpts{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	promoteRun(t, st, run.ID, now)
}

// promoteRun leases and promotes every task of a run.
func promoteRun(t testing.TB, st store.Store, runID int64, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for {
		lr, err := st.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "w", RunID: runID, Limit: 1000, Now: now, LeaseFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(lr.Tasks) == 0 {
			return
		}
		var ps []store.MaterializationPromoteParams
		for _, tk := range lr.Tasks {
			ps = append(ps, store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: runID, Attempt: tk.Attempt,
				Asset: tk.Asset, StartedAt: now, PromotedAt: now,
				Partitions: []store.PromotedPartition{{Key: tk.PartitionFirst, Version: fmt.Sprintf("v%d", tk.ID), ManifestSHA256: "m"}}})
		}
		res, err := st.MaterializationPromoteMany(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
}

func TestEagerAssetsFollowPromotions(t *testing.T) {
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-03-01", Location: "UTC"})
	noop := func(context.Context, *pipelines.Task) error { return nil }
	g := lineage.Must(
		&pipelines.Asset{Key: "up", Partitions: days, Compute: noop},
		&pipelines.Asset{Key: "down", Partitions: days, Deps: []pipelines.Dep{pipelines.On("up")}, Eager: true, Compute: noop},
		&pipelines.Asset{Key: "week", Partitions: days, Deps: []pipelines.Dep{{Asset: "down", Mapping: partitions.Trailing(7)}}, Eager: true, Compute: noop},
	)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	d := &schedule.Daemon{Store: st, Graph: g, Clock: clk}
	eager := func() map[string]string {
		t.Helper()
		fired, err := d.EvaluateEager(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, f := range fired {
			out[f.Schedule] = f.Run.Partitions
			promoteRun(t, st, f.Run.ID, clk.Now()) // the workers run it
		}
		return out
	}
	promote(t, st, g, "up", "2024-03-01", now) // before the first evaluation: history, not an event
	if got := eager(); len(got) != 0 {
		t.Fatalf("first evaluation fired %v", got)
	}
	// Three days of up: down runs for them; week does not yet (down's
	// promotions come with that run).
	promote(t, st, g, "up", "2024-03-01...2024-03-03", now)
	if got := eager(); got["eager down"] != "2024-03-01...2024-03-03" || len(got) != 1 {
		t.Fatalf("after up: %v", got)
	}
	// down's promotions: week for the days whose trailing 7 days of down
	// are all there (the first days clip at the start).
	if got := eager(); got["eager week"] != "2024-03-01...2024-03-03" || len(got) != 1 {
		t.Fatalf("after down: %v", got)
	}
	if got := eager(); len(got) != 0 {
		t.Fatalf("nothing new, yet %v", got)
	}
	// A year of up in one backfill: one down run over it, then one week run.
	clk.Advance(time.Hour)
	promote(t, st, g, "up", "2024-03-01...2025-03-01", clk.Now())
	if got := eager(); got["eager down"] != "2024-03-01...2025-03-01" || len(got) != 1 {
		t.Fatalf("after a year of up: %v", got)
	}
	if got := eager(); got["eager week"] != "2024-03-01...2025-03-01" || len(got) != 1 {
		t.Fatalf("after a year of down: %v", got)
	}
	// One day of up again (a new version): down recomputes that day,
	// week the seven days that read it.
	clk.Advance(time.Hour)
	promote(t, st, g, "up", "2024-06-10", clk.Now())
	if got := eager(); got["eager down"] != "2024-06-10" {
		t.Fatalf("after up again: %v", got)
	}
	if got := eager(); got["eager week"] != "2024-06-10...2024-06-16" {
		t.Fatalf("after down again: %v", got)
	}
}

// BenchmarkEagerHandoff measures, per op, an upstream partition promoted
// anew to its eager downstream run stored: the daemon's own part of the
// handoff (Run calls EvaluateEager on the wake-up the promotion sends).
func BenchmarkEagerHandoff(b *testing.B) {
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "UTC"})
	noop := func(context.Context, *pipelines.Task) error { return nil }
	g := lineage.Must(
		&pipelines.Asset{Key: "up", Partitions: days, Compute: noop},
		&pipelines.Asset{Key: "down", Partitions: days, Deps: []pipelines.Dep{pipelines.On("up")}, Eager: true, Compute: noop},
	)
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &schedule.Daemon{Store: st, Graph: g, Clock: clock.NewFake(now)}
	if _, err := d.EvaluateEager(context.Background()); err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		key := days.Key(int64(i % 300))
		promote(b, st, g, "up", key, now)
		start := time.Now()
		fired, err := d.EvaluateEager(context.Background())
		if err != nil || len(fired) != 1 || fired[0].Run.Partitions != key {
			b.Fatalf("op %d: %+v %v", i, fired, err)
		}
		took = append(took, time.Since(start))
		promoteRun(b, st, fired[0].Run.ID, now)
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
}
