package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/internal/store/sqlite"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/scheduler"
)

// Plan a request, expand it into tasks and run them in this process.
func ExamplePlanner() {
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
	graph := lineage.NewGraph(pipelines.MustDefinitions(
		&pipelines.Asset{Key: "events", Partitions: days, Compute: write},
		&pipelines.Asset{Key: "sessions", Partitions: days, Deps: []pipelines.Dep{pipelines.On("events")}, Compute: write},
	))
	planner := &scheduler.Planner{Graph: graph, Status: st}
	plan, err := planner.Plan(ctx, scheduler.PlanRequest{Selection: "*", Partitions: "2024-01-01...2024-01-03"}, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	fmt.Print(plan.Summary())
	tasks, _ := plan.Expand()
	res, err := (&scheduler.Executor{Store: st, Bucket: bucket}).Run(ctx, tasks, scheduler.RunOpts{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Succeeded, "tasks")

	again, _ := planner.Plan(ctx, scheduler.PlanRequest{Selection: "*", Partitions: "2024-01-01...2024-01-03"}, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println("fresh now:", again.Empty())
	// Output:
	// events: run 2024-01-01...2024-01-03, skip 0 fresh
	// sessions: run 2024-01-01...2024-01-03, skip 0 fresh
	// succeeded 6 tasks
	// fresh now: true
}
