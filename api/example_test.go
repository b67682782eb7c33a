package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store/sqlite"
)

// A server over a store with a queued backfill, and a client asking it
// what weir backfill status --api shows.
func ExampleClient() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "weir-example")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	g := lineage.Must(nightly.Assets()...)
	now := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "raw_orders", Partitions: "2024-01-01...2024-01-31"}, now)
	if err != nil {
		panic(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		panic(err)
	}
	if _, _, err := scheduler.Enqueue(ctx, st, tg, scheduler.EnqueueOpts{Kind: "backfill", CreatedBy: "oncall", Now: now}); err != nil {
		panic(err)
	}
	srv := httptest.NewServer((&api.Server{Store: st, Bucket: memblob.OpenBucket(nil), Graph: g, Token: "s3cret"}).Handler())
	defer srv.Close()

	c, err := api.NewClient(srv.URL, "s3cret")
	if err != nil {
		panic(err)
	}
	p, err := c.Backfill(ctx, 1)
	if err != nil {
		panic(err)
	}
	fmt.Printf("backfill %d (%s, %s by %s): %s, %d of %d tasks pending\n", p.RunID, p.Selection, p.Partitions, p.CreatedBy, p.Status, p.Pending, p.TasksTotal)
	_, err = c.Backfill(ctx, 2)
	fmt.Println(api.IsNotFound(err))
	// Output:
	// backfill 1 (raw_orders, 2024-01-01...2024-01-31 by oncall): queued, 31 of 31 tasks pending
	// true
}
