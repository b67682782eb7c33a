package lineage_test

import (
	"context"
	"fmt"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
)

// Validate assets as one graph: deps, partition mappings, cycles, every
// problem at once.
func ExampleNew() {
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin"})
	orders := &pipelines.Asset{
		Key:        "orders",
		Partitions: days,
		Compute: func(ctx context.Context, t *pipelines.Task) error {
			w, err := t.Output.Create(ctx, t.Keys[0], "orders.csv")
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "id,amount\n1,9.99\n")
			return w.Close()
		},
	}
	weekly := &pipelines.Asset{
		Key:        "weekly_orders",
		Partitions: days,
		Deps:       []pipelines.Dep{pipelines.OnMapped("orders", partitions.Trailing(7))},
		Compute:    func(ctx context.Context, t *pipelines.Task) error { return nil },
	}
	defs, err := lineage.New(weekly, orders)
	if err != nil {
		panic(err)
	}
	fmt.Println(defs.Keys())
	fmt.Println(defs.Mapping("weekly_orders", "orders"))

	// A dependency cycle is reported with its path.
	_, err = lineage.New(
		&pipelines.Asset{Key: "a", Deps: []pipelines.Dep{pipelines.On("b")}, Compute: weekly.Compute},
		&pipelines.Asset{Key: "b", Deps: []pipelines.Dep{pipelines.On("a")}, Compute: weekly.Compute},
	)
	fmt.Println(err)
	// Output:
	// [orders weekly_orders]
	// trailing 7
	// dependency cycle: a -> b -> a
}
