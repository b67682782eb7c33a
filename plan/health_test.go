package plan_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store/sqlite"
)

// TestAssetHealthOfSomeAssetsIsTheirsInTheWhole: asking for a few assets
// (staleness computed over them and their ancestors only) answers what
// asking for all of them answers for those.
func TestAssetHealthOfSomeAssetsIsTheirsInTheWhole(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
	write := func(ctx context.Context, t *pipelines.Task) error {
		for _, k := range t.Keys {
			w, err := t.Output.Create(ctx, k, "x")
			if err != nil {
				return err
			}
			w.Write([]byte(k))
			if err := w.Close(); err != nil {
				return err
			}
		}
		return nil
	}
	g := lineage.Must(
		&pipelines.Asset{Key: "a", Partitions: days, Compute: write},
		&pipelines.Asset{Key: "b", Partitions: days, Deps: []pipelines.Dep{pipelines.On("a")}, Compute: write},
		&pipelines.Asset{Key: "c", Partitions: days, Deps: []pipelines.Dep{pipelines.OnMapped("b", partitions.Trailing(2))}, Compute: write},
		&pipelines.Asset{Key: "d", Partitions: days, Compute: write},
	)
	now := time.Date(2024, 1, 6, 0, 0, 0, 0, time.UTC)
	ex := &scheduler.Executor{Store: st, Bucket: memblob.OpenBucket(nil)}
	run := func(sel, parts string, r plan.Reprocess) {
		pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: sel, Partitions: parts, Reprocess: r}, now)
		if err != nil {
			t.Fatal(err)
		}
		tg, _ := pl.Expand()
		if _, err := ex.Run(ctx, tg, scheduler.RunOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	run("*", "2024-01-01...2024-01-04", plan.ReprocessMissing)
	run("a", "2024-01-02", plan.ReprocessAll) // b 01-02, c 01-02...01-03 stale
	all, err := plan.AssetHealth(ctx, st, g, g.Keys(), now)
	if err != nil {
		t.Fatal(err)
	}
	for i, key := range g.Keys() {
		one, err := plan.AssetHealth(ctx, st, g, []string{key}, now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(one[0], all[i]) {
			t.Errorf("%s alone: %+v\nin the whole: %+v", key, one[0], all[i])
		}
	}
	if c := all[2]; c.Asset != "c" || partitions.Format(c.Def, c.Stale) != "2024-01-02...2024-01-03" {
		t.Errorf("c stale %s", partitions.Format(c.Def, c.Stale))
	}
}
