// Package graphtest builds asset graphs for tests and benchmarks.
package graphtest

import (
	"context"
	"fmt"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
)

// Noop is a compute function that writes nothing.
func Noop(context.Context, *pipelines.Task) error { return nil }

// ChainAndFan is a 20-asset graph over def: a chain of 10, and 10 assets
// fanning out from the chain's middle and end, some through trailing
// windows.
func ChainAndFan(def partitions.Definition) *lineage.Graph {
	var assets []*pipelines.Asset
	for i := 0; i < 10; i++ {
		a := &pipelines.Asset{Key: fmt.Sprintf("chain%02d", i), Partitions: def, Compute: Noop}
		if i > 0 {
			a.Deps = []pipelines.Dep{pipelines.On(fmt.Sprintf("chain%02d", i-1))}
		}
		assets = append(assets, a)
	}
	for i := 0; i < 10; i++ {
		up := "chain04"
		if i%2 == 1 {
			up = "chain09"
		}
		dep := pipelines.On(up)
		if i%3 == 0 {
			dep = pipelines.OnMapped(up, partitions.Trailing(24))
		}
		assets = append(assets, &pipelines.Asset{Key: fmt.Sprintf("fan%02d", i), Partitions: def, Deps: []pipelines.Dep{dep}, Compute: Noop})
	}
	return lineage.Must(assets...)
}
