package plan_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
)

// memStatus is a StatusReader over fixed materialized partitions.
type memStatus map[string][]string

func (m memStatus) PartitionStateChanges(_ context.Context, asset string, _ int64, fn func(*store.PartitionState) error) (int64, error) {
	for _, k := range m[asset] {
		if err := fn(&store.PartitionState{Key: k, Current: true}); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// It keeps no summaries: every read reads every partition.
func (m memStatus) StatusSummaryGet(context.Context, string) (*store.StatusSummary, error) {
	return nil, nil
}
func (m memStatus) StatusSummaryPut(context.Context, ...store.StatusSummary) error { return nil }
func (m memStatus) DynamicPartitionList(context.Context, string) ([]string, error) { return nil, nil }
func (m memStatus) TaskActiveList(context.Context, string) ([]store.ActiveTask, error) {
	return nil, nil
}
func (m memStatus) TaskActiveRuns(context.Context, []string) ([]store.ActiveRun, error) {
	return nil, nil
}
func (m memStatus) TaskSpanList(context.Context, int64, int64) ([]store.ActiveTask, error) {
	return nil, nil
}

func noop(context.Context, *pipelines.Task) error { return nil }

var daily = partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin"})

// TestPlanMatchesReference checks the planner and the task graph against a
// key-by-key reference on random small graphs: what runs is the requested
// keys minus the materialized ones, and task t depends on task u exactly
// when u's partitions meet the upstream partitions t's partitions read.
func TestPlanMatchesReference(t *testing.T) {
	now := time.Date(2024, 1, 20, 0, 0, 0, 0, time.UTC)
	mappings := []partitions.Mapping{nil, partitions.Trailing(3), partitions.Offset(-1), partitions.TimeWindowMapping{StartOffset: -1, EndOffset: 1}}
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 5).Draw(rt, "assets")
		var assets []*pipelines.Asset
		status := memStatus{}
		for i := 0; i < n; i++ {
			a := &pipelines.Asset{Key: fmt.Sprintf("a%d", i), Partitions: daily, Compute: noop, MaxPartitionsPerRun: rapid.IntRange(1, 4).Draw(rt, "per")}
			for j := 0; j < i; j++ {
				if rapid.Bool().Draw(rt, "edge") {
					a.Deps = append(a.Deps, pipelines.Dep{Asset: fmt.Sprintf("a%d", j), Mapping: mappings[rapid.IntRange(0, len(mappings)-1).Draw(rt, "m")]})
				}
			}
			assets = append(assets, a)
			for d := 0; d < 12; d++ {
				if rapid.IntRange(0, 3).Draw(rt, "mat") == 0 {
					status[a.Key] = append(status[a.Key], daily.Key(int64(d)))
				}
			}
		}
		g := lineage.Must(assets...)
		lo := rapid.Int64Range(0, 10).Draw(rt, "lo")
		hi := lo + rapid.Int64Range(0, 8).Draw(rt, "len")
		req := plan.Request{Selection: "*", Partitions: daily.Key(lo) + "..." + daily.Key(hi)}
		plan, err := (&plan.Planner{Graph: g, Status: status}).Plan(context.Background(), req, now)
		if err != nil {
			return // a missing upstream: covered elsewhere
		}
		for _, ap := range plan.Assets {
			var want []string
			for i := lo; i <= hi; i++ {
				if !slices.Contains(status[ap.Asset.Key], daily.Key(i)) {
					want = append(want, daily.Key(i))
				}
			}
			if got := partitions.Keys(daily, ap.ToRun); !slices.Equal(got, want) {
				rt.Fatalf("%s: to run %v, want %v", ap.Asset.Key, got, want)
			}
		}
		tg, err := plan.Expand()
		if err != nil {
			rt.Fatal(err)
		}
		if int64(len(tg.Tasks)) != plan.TaskCount() {
			rt.Fatalf("%d tasks, TaskCount %d", len(tg.Tasks), plan.TaskCount())
		}
		for ti, task := range tg.Tasks {
			ap := tg.AssetPlan(ti)
			var want []int32
			for ui, up := range tg.Tasks {
				upPlan := tg.AssetPlan(ui)
				for _, dep := range ap.Deps {
					if dep.Asset != upPlan.Asset.Key {
						continue
					}
					need, _ := dep.Mapping.Upstream(daily, daily, partitions.Span(task.Range.Lo, task.Range.Hi), now)
					if !need.Intersect(partitions.Span(up.Range.Lo, up.Range.Hi)).IsEmpty() {
						want = append(want, int32(ui))
					}
				}
			}
			if got := tg.Deps(ti); !slices.Equal(got, want) {
				rt.Fatalf("task %d deps %v, want %v", ti, got, want)
			}
			for _, d := range want {
				if !slices.Contains(tg.Dependents(int(d)), int32(ti)) {
					rt.Fatalf("task %d missing from dependents of %d", ti, d)
				}
			}
		}
	})
}
