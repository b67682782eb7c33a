package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// Plan a request, expand it into tasks and run them in this process.
func ExampleExecutor() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "weir-example-")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	defer st.Close()
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()

	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
	write := func(ctx context.Context, t *pipelines.Task) error {
		w, err := t.Output.Create(ctx, t.Keys[0], "out.txt")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s %s\n", t.Asset.Key, t.Keys[0])
		return w.Close()
	}
	graph := lineage.Must(
		&pipelines.Asset{Key: "events", Partitions: days, Compute: write},
		&pipelines.Asset{Key: "sessions", Partitions: days, Deps: []pipelines.Dep{pipelines.On("events")}, Compute: write},
	)
	planner := &plan.Planner{Graph: graph, Status: st}
	pl, err := planner.Plan(ctx, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-03"}, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	fmt.Print(pl.Summary())
	tasks, _ := pl.Expand()
	res, err := (&scheduler.Executor{Store: st, Bucket: bucket}).Run(ctx, tasks, scheduler.RunOpts{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Succeeded, "tasks")

	again, _ := planner.Plan(ctx, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-03"}, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println("fresh now:", again.Empty())
	// Output:
	// events: run 2024-01-01...2024-01-03, keep 0
	// sessions: run 2024-01-01...2024-01-03, keep 0
	// succeeded 6 tasks
	// fresh now: true
}

// Store a throttled backfill: any worker on any host may run it, and the
// state store holds it to 2 running tasks and 5 starts a second.
func ExampleEnqueue() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "weir-example-")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	defer st.Close()

	hours := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Hourly, Start: "2024-01-01", Location: "UTC"})
	graph := lineage.Must(&pipelines.Asset{Key: "clicks", Partitions: hours,
		Compute: func(context.Context, *pipelines.Task) error { return nil }})
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	pl, err := (&plan.Planner{Graph: graph, Status: st}).Plan(ctx,
		plan.Request{Selection: "clicks", Partitions: "2024-01-01T00:00+00:00...2024-01-31T23:00+00:00", Reprocess: plan.ReprocessAll}, now)
	if err != nil {
		panic(err)
	}
	tasks, _ := pl.Expand()
	run, _, err := scheduler.Enqueue(ctx, st, tasks, scheduler.EnqueueOpts{Kind: "backfill", CreatedBy: "oncall", Now: now,
		Priority: store.PriorityLow, Order: scheduler.NewestFirst,
		Throttle: store.Throttle{MaxConcurrent: 2, RatePerSec: 5},
		Breaker:  store.Breaker{MaxFailureRate: 0.2, MinTasks: 20}})
	if err != nil {
		panic(err)
	}
	fmt.Println(run.Kind, run.ID, run.Status, run.TaskCount(), "tasks,", run.Order)
	fmt.Printf("at most %d running, %g starts/s\n", run.Throttle.MaxConcurrent, run.Throttle.RatePerSec)
	// Output:
	// backfill 1 running 744 tasks, newest-first
	// at most 2 running, 5 starts/s
}
