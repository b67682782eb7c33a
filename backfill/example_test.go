package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/weir-dev/weir/backfill"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/store/sqlite"
)

// Preview a backfill with throttles and a breaker, then store it: its
// tasks wait in the state store for workers (scheduler.Worker) to run
// them under the throttles.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "weir-example-")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	defer st.Close()
	graph := lineage.Must(nightly.Assets()...)
	now := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

	o := backfill.Defaults()
	o.Select, o.Partitions = "*", "2024-01-01...2024-01-31"
	o.MaxConcurrent, o.Rate, o.Priority = 2, "5/s", "low"
	o.MaxFailureRate = 0.2
	p, err := backfill.PlanOf(ctx, st, graph, o, now)
	if err != nil {
		panic(err)
	}
	pre, _ := p.Preview(ctx, st, 4)
	fmt.Println("tasks:", pre.Plan.Tasks)
	fmt.Println("throttle:", pre.Throttle)
	run, err := p.Create(ctx, st, "oncall")
	if err != nil {
		panic(err)
	}
	fmt.Println("backfill", run.ID, run.State(), run.TaskCount(), "tasks")

	// Bad options name the option and what it allows, and store nothing.
	o.Rate = "fast"
	_, err = backfill.PlanOf(ctx, st, graph, o, now)
	fmt.Println(errors.Is(err, backfill.ErrInput), err)
	var oe *backfill.OptionError
	if errors.As(err, &oe) {
		fmt.Println(oe.Flag())
	}
	// Output:
	// tasks: 124
	// throttle: priority low, at most 2 running, at most 5/s starts
	// backfill 1 queued 124 tasks
	// true rate "fast" is not a rate R/s, R/m or R/h, e.g. 5/s, 120/m or 30/h
	// --rate "fast" is not a rate R/s, R/m or R/h, e.g. 5/s, 120/m or 30/h
}
