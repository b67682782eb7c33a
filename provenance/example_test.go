package provenance_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/weir-dev/weir/provenance"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// What the current version of a daily report read, to the sources: one
// promotion of orders, then one of report reading it.
func ExampleUpstream() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "provenance")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	at := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	promote := func(asset, version string, inputs ...store.Input) {
		run, _, err := st.RunInsert(ctx, store.RunInsertParams{Kind: "example", CreatedAt: at, Tasks: slices.Values([]store.TaskInsertParams{
			{Asset: asset, PartitionFirst: "2024-01-01", PartitionLast: "2024-01-01", PartitionCount: 1, MaxAttempts: 1}})})
		if err != nil {
			panic(err)
		}
		lr, err := st.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "w", RunID: run.ID, Now: at, LeaseFor: time.Minute})
		if err != nil {
			panic(err)
		}
		t := lr.Tasks[0]
		if _, err := st.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: t.ID, LeaseToken: t.LeaseToken, RunID: run.ID,
			Attempt: t.Attempt, Asset: asset, CodeVersion: "1", StartedAt: at, PromotedAt: at,
			Partitions: []store.PromotedPartition{{Key: "2024-01-01", Version: version, ManifestSHA256: "m", Inputs: inputs}}}); err != nil {
			panic(err)
		}
	}
	promote("orders", "o1")
	promote("report", "r1", store.Input{Asset: "orders", PartitionKey: "2024-01-01", Version: "o1"})

	tree, err := provenance.Upstream(ctx, st, "report", "2024-01-01", -1)
	if err != nil {
		panic(err)
	}
	provenance.WriteText(os.Stdout, tree)
	fmt.Println()
	provenance.WriteMermaid(os.Stdout, tree, true)
	// Output:
	// report 2024-01-01 r1 (code 1, run 2)
	//   orders 2024-01-01 o1 (code 1, run 1)
	//
	// flowchart LR
	//   n0["report 2024-01-01 r1"]
	//   n1["orders 2024-01-01 o1"]
	//   n1 --> n0
}
