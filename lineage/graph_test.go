package lineage_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
)

func noop(context.Context, *pipelines.Task) error { return nil }

func TestNewValidatesTheGraph(t *testing.T) {
	daily := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
	regions := partitions.MustStatic("eu", "us")
	for _, tc := range []struct {
		name   string
		assets []*pipelines.Asset
		want   []string
	}{
		{"cycle names its path", []*pipelines.Asset{
			{Key: "a", Deps: []pipelines.Dep{pipelines.On("c")}, Compute: noop},
			{Key: "b", Deps: []pipelines.Dep{pipelines.On("a")}, Compute: noop},
			{Key: "c", Deps: []pipelines.Dep{pipelines.On("b")}, Compute: noop},
		}, []string{"dependency cycle: a -> c -> b -> a"}},
		{"unknown dep suggests", []*pipelines.Asset{
			{Key: "orders", Compute: noop},
			{Key: "revenue", Deps: []pipelines.Dep{pipelines.On("order")}, Compute: noop},
		}, []string{`asset "revenue": depends on unknown asset "order" (did you mean "orders"?)`}},
		{"duplicate key and bad name", []*pipelines.Asset{
			{Key: "a", Compute: noop}, {Key: "a", Compute: noop}, {Key: "../x", Compute: noop},
		}, []string{`asset "a" is declared twice`, `asset key "../x" is not a valid name`}},
		{"incompatible partitions", []*pipelines.Asset{
			{Key: "by_region", Partitions: regions, Compute: noop},
			{Key: "by_day", Partitions: daily, Deps: []pipelines.Dep{pipelines.On("by_region")}, Compute: noop},
		}, []string{`asset "by_day": dep "by_region": partitions "daily from 2024-01-01 in UTC" and "static [eu us]" differ`}},
		{"mapping that does not fit", []*pipelines.Asset{
			{Key: "by_region", Partitions: regions, Compute: noop},
			{Key: "by_day", Partitions: daily, Deps: []pipelines.Dep{pipelines.OnMapped("by_region", partitions.Trailing(7))}, Compute: noop},
		}, []string{"both sides must be time-window partitions"}},
		{"eager without deps", []*pipelines.Asset{
			{Key: "a", Eager: true, Compute: noop},
		}, []string{`asset "a": Eager, but it depends on nothing`}},
		{"every problem reported", []*pipelines.Asset{
			{Key: "a"}, {Key: "b", Deps: []pipelines.Dep{pipelines.On("zzz")}},
		}, []string{`asset "a": no Compute function`, `asset "b": no Compute function`, `unknown asset "zzz"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lineage.New(tc.assets...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	_, err := lineage.New(&pipelines.Asset{Key: "a", Deps: []pipelines.Dep{pipelines.On("a")}, Compute: noop})
	if err == nil || !strings.Contains(err.Error(), "depends on itself") {
		t.Errorf("self dep: %v", err)
	}
	var ce *lineage.CycleError
	_, err = lineage.New(&pipelines.Asset{Key: "x", Deps: []pipelines.Dep{pipelines.On("y")}, Compute: noop}, &pipelines.Asset{Key: "y", Deps: []pipelines.Dep{pipelines.On("x")}, Compute: noop})
	if !errors.As(err, &ce) || len(ce.Path) != 3 {
		t.Errorf("CycleError: %v", err)
	}
}

func TestTopologicalOrder(t *testing.T) {
	d := lineage.Must(
		&pipelines.Asset{Key: "c", Deps: []pipelines.Dep{pipelines.On("b")}, Compute: noop},
		&pipelines.Asset{Key: "b", Deps: []pipelines.Dep{pipelines.On("a")}, Compute: noop},
		&pipelines.Asset{Key: "a", Compute: noop},
		&pipelines.Asset{Key: "z", Compute: noop},
	)
	if got := strings.Join(d.Keys(), " "); got != "a b c z" {
		t.Fatalf("order %s", got)
	}
}
