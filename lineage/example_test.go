package lineage_test

import (
	"context"
	"fmt"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
)

func ExampleGraph_Select() {
	noop := func(context.Context, *pipelines.Task) error { return nil }
	g := lineage.Must(
		&pipelines.Asset{Key: "raw", Compute: noop},
		&pipelines.Asset{Key: "clean", Deps: []pipelines.Dep{pipelines.On("raw")}, Compute: noop},
		&pipelines.Asset{Key: "report", Deps: []pipelines.Dep{pipelines.On("clean")}, Group: "finance", Compute: noop},
	)
	for _, expr := range []string{"+report", "raw+1", "group:finance", "reprot"} {
		keys, err := g.Select(expr)
		fmt.Println(expr, keys, err)
	}
	// Output:
	// +report [raw clean report] <nil>
	// raw+1 [raw clean] <nil>
	// group:finance [report] <nil>
	// reprot [] selection "reprot": unknown asset "reprot" (did you mean "report"?)
}
