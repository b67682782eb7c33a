package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
	"github.com/weir-dev/weir/verify"
)

// A backfill from declaration to a verified partition, the way a program
// of your own drives weir: declare assets, open the embedded store, enqueue
// a throttled backfill, run a worker on it, read its progress, and verify a
// promoted partition against the checksums the store recorded.
func ExampleWorker() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "weir-example-")
	defer os.RemoveAll(dir)

	// Declare assets.
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
	write := func(ctx context.Context, t *pipelines.Task) error {
		for _, k := range t.Keys {
			w, err := t.Output.Create(ctx, k, "rows.csv")
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "day,asset\n%s,%s\n", k, t.Asset.Key)
			if err := w.Close(); err != nil {
				return err
			}
		}
		return nil
	}
	graph, err := lineage.New(
		&pipelines.Asset{Key: "events", Partitions: days, Compute: write},
		&pipelines.Asset{Key: "sessions", Partitions: days, Deps: []pipelines.Dep{pipelines.On("events")}, Compute: write},
	)
	if err != nil {
		panic(err)
	}

	// Open a SQLite store and a bucket.
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()

	// Enqueue a backfill of the first week, at most 2 tasks at a time.
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	pl, err := (&plan.Planner{Graph: graph, Status: st}).Plan(ctx, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-07"}, now)
	if err != nil {
		panic(err)
	}
	tasks, err := pl.Expand()
	if err != nil {
		panic(err)
	}
	run, _, err := scheduler.Enqueue(ctx, st, tasks, scheduler.EnqueueOpts{Kind: "backfill", Now: now, Throttle: store.Throttle{MaxConcurrent: 2}})
	if err != nil {
		panic(err)
	}

	// Run a worker until the backfill has finished (without RunID it
	// would serve every run until its context ends).
	w := &scheduler.Worker{Store: st, Bucket: bucket, Graph: graph, ID: "example", RunID: run.ID, Clock: clock.NewFake(now)}
	if err := w.Run(ctx); err != nil {
		panic(err)
	}

	// Read its progress.
	p, err := scheduler.RunProgressAt(ctx, st, run.ID, now)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %d %s: %d of %d tasks succeeded\n", p.Kind, p.RunID, p.Status, p.TasksSucceeded, p.TasksTotal)
	for _, a := range p.Assets {
		fmt.Printf("  %s: %d of %d partitions\n", a.Asset, a.Succeeded, a.Total)
	}

	// Verify a partition: re-read its files against the manifest whose
	// SHA-256 the store recorded at promotion.
	cur, err := st.PartitionCurrentList(ctx, "sessions", []string{"2024-01-03"})
	if err != nil || len(cur) != 1 {
		panic(err)
	}
	m, err := verify.Audit(ctx, bucket, "sessions", "2024-01-03", cur[0].Version, cur[0].ManifestSHA256)
	fmt.Println("sessions 2024-01-03:", len(m.Files), "file,", m.Bytes(), "bytes, verified:", err == nil)
	// Output:
	// backfill 1 succeeded: 14 of 14 tasks succeeded
	//   events: 7 of 7 partitions
	//   sessions: 7 of 7 partitions
	// sessions 2024-01-03: 1 file, 30 bytes, verified: true
}
