package plan_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"
	"pgregory.net/rapid"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// TestAssetHealthOfSomeAssetsIsTheirsInTheWhole: asking for a few assets
// (staleness computed over them and their ancestors only) answers what
// asking for all of them answers for those.
func TestAssetHealthOfSomeAssetsIsTheirsInTheWhole(t *testing.T) {
	ctx := context.Background()
	st, days := openStore(t)
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

// TestRunningMatchesInFlight: the partitions status shows in flight, read
// as stretches of consecutive tasks (plan.Running), are the ones reading
// every unfinished task gives (plan.InFlight), for runs whose tasks cover
// partitions in chunks with gaps between them, some leased, finished or
// failed; each case's runs are cancelled after it.
func TestRunningMatchesInFlight(t *testing.T) {
	ctx := context.Background()
	st, days := openStore(t)
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	rapid.Check(t, func(rt *rapid.T) {
		gaps := false // between two tasks of an asset in a run
		var runs []int64
		defer func() { // each case starts from no unfinished run
			for _, id := range runs {
				if r, err := st.RunGet(ctx, id); err != nil || !r.FinishedAt.IsZero() {
					continue // it ended: every task finished
				}
				if _, err := st.RunCancel(ctx, store.RunCancelParams{ID: id, Actor: "test", At: at}); err != nil {
					rt.Fatal(err)
				}
			}
		}()
		for range rapid.IntRange(1, 2).Draw(rt, "runs") {
			var tasks []store.TaskInsertParams
			gappy := rapid.Bool().Draw(rt, "gappy")
			for _, asset := range []string{"a", "b"} {
				next := rapid.Int64Range(0, 20).Draw(rt, "start")
				for i := range rapid.IntRange(0, 12).Draw(rt, "tasks") {
					var gap int64
					if gappy {
						gap = rapid.Int64Range(0, 2).Draw(rt, "gap")
					}
					gaps = gaps || (gap > 0 && i > 0)
					lo := next + gap
					hi := lo + rapid.Int64Range(0, 3).Draw(rt, "extra")
					next = hi + 1
					tasks = append(tasks, store.TaskInsertParams{Asset: asset, PartitionFirst: days.Key(lo), PartitionLast: days.Key(hi),
						PartitionCount: hi - lo + 1, MaxAttempts: 1, Pool: "default", Rank: int64(len(tasks))})
				}
			}
			if len(tasks) == 0 {
				continue
			}
			runs = append(runs, insertAndWork(ctx, rt, st, tasks, at))
		}
		for _, asset := range []string{"a", "b"} {
			want, _, _, err := plan.InFlight(ctx, st, asset, days)
			if err != nil {
				rt.Fatal(err)
			}
			r := &listCounter{Store: st}
			running, err := plan.Running(ctx, r, map[string]partitions.Definition{asset: days, "c": days})
			got := running[asset]
			if err != nil || !got.Equal(want) || !running["c"].IsEmpty() {
				rt.Fatalf("%s: Running = %s, %v; InFlight = %s", asset, got, err, want)
			}
			if r.lists > 0 && !gaps {
				rt.Fatalf("%s: Running read every unfinished task, though no run left partitions out between its tasks", asset)
			}
		}
	})
}

// listCounter counts the reads of every unfinished task.
type listCounter struct {
	store.Store
	lists int
}

func (c *listCounter) TaskActiveList(ctx context.Context, asset string) ([]store.ActiveTask, error) {
	c.lists++
	return c.Store.TaskActiveList(ctx, asset)
}

// openStore opens a new SQLite store for the test and returns it with a
// daily partition definition from 2024-01-01.
func openStore(t *testing.T) (store.Store, partitions.Definition) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
}

// TestPlansWaitForTheSameTasksWhateverTheyRead: a plan reads the tasks of
// other runs that its tasks wait for by binary search in their stretches;
// the waits, the partitions left to other runs and the errors are the ones
// reading every unfinished task gives.
func TestPlansWaitForTheSameTasksWhateverTheyRead(t *testing.T) {
	ctx := context.Background()
	st, days := openStore(t)
	write := func(context.Context, *pipelines.Task) error { return nil }
	g := lineage.Must(
		&pipelines.Asset{Key: "a", Partitions: days, Compute: write},
		&pipelines.Asset{Key: "b", Partitions: days, Deps: []pipelines.Dep{pipelines.OnMapped("a", partitions.Trailing(3))}, Compute: write},
	)
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	rapid.Check(t, func(rt *rapid.T) {
		var runs []int64
		defer func() {
			for _, id := range runs {
				if r, err := st.RunGet(ctx, id); err == nil && r.FinishedAt.IsZero() {
					if _, err := st.RunCancel(ctx, store.RunCancelParams{ID: id, Actor: "test", At: now}); err != nil {
						rt.Fatal(err)
					}
				}
			}
		}()
		// Another run holds chunks of a's partitions, some of them done.
		var tasks []store.TaskInsertParams
		next := rapid.Int64Range(0, 10).Draw(rt, "start")
		for range rapid.IntRange(1, 40).Draw(rt, "tasks") {
			lo := next + rapid.Int64Range(0, 1).Draw(rt, "gap")
			hi := lo + rapid.Int64Range(0, 2).Draw(rt, "extra")
			next = hi + 1
			tasks = append(tasks, store.TaskInsertParams{Asset: "a", PartitionFirst: days.Key(lo), PartitionLast: days.Key(hi),
				PartitionCount: hi - lo + 1, MaxAttempts: 1, Pool: "default", Rank: int64(len(tasks))})
		}
		runs = append(runs, insertAndWork(ctx, rt, st, tasks, now))
		lo := rapid.Int64Range(0, 40).Draw(rt, "from")
		req := plan.Request{Selection: rapid.SampledFrom([]string{"b", "+b", "+b", "a"}).Draw(rt, "selection"),
			Partitions: days.Key(lo) + "..." + days.Key(lo+rapid.Int64Range(0, 15).Draw(rt, "days"))}
		describe := func(r plan.StatusReader) string {
			p, err := (&plan.Planner{Graph: g, Status: r}).Plan(ctx, req, now)
			if err != nil {
				return "error: " + err.Error()
			}
			out := ""
			for _, ap := range p.Assets {
				out += fmt.Sprintf("%s: to run %s, in flight %s in %v\n", ap.Asset.Key, ap.ToRun, ap.InFlight, ap.InFlightRuns)
			}
			tg, err := p.Expand()
			if err != nil {
				return "expand: " + err.Error()
			}
			for i, tk := range tg.Tasks {
				out += fmt.Sprintf("task %d %v waits for %v\n", i, tk.Range, tg.External(i))
			}
			return out
		}
		if got, want := describe(st), describe(everyTask{st}); got != want {
			rt.Fatalf("%+v:\nreading stretches:\n%s\nreading every task:\n%s", req, got, want)
		}
	})
}

// everyTask is a store whose stretches never add up, so that the planner
// reads every unfinished task.
type everyTask struct{ store.Store }

func (e everyTask) TaskActiveRuns(ctx context.Context, assets []string) ([]store.ActiveRun, error) {
	runs, err := e.Store.TaskActiveRuns(ctx, assets)
	for i := range runs {
		runs[i].Tasks = -1
	}
	return runs, err
}

// insertAndWork inserts a run of tasks, leases some of them and lets each
// leased one succeed, fail or go on running; it returns the run's id.
func insertAndWork(ctx context.Context, rt *rapid.T, st store.Store, tasks []store.TaskInsertParams, at time.Time) int64 {
	run, _, err := st.RunInsert(ctx, store.RunInsertParams{Kind: "backfill", Selection: "*", Assets: []string{"a", "b"}, Partitions: "*",
		Reprocess: "missing", CreatedBy: "test", CreatedAt: at, Tasks: slices.Values(tasks)})
	if err != nil {
		rt.Fatal(err)
	}
	lr, err := st.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "w", RunID: run.ID, Limit: rapid.IntRange(0, len(tasks)).Draw(rt, "leased"),
		Now: at, LeaseFor: time.Hour})
	if err != nil {
		rt.Fatal(err)
	}
	for _, tk := range lr.Tasks {
		state := rapid.SampledFrom([]store.TaskState{store.TaskRunning, store.TaskSucceeded, store.TaskFailed}).Draw(rt, "state")
		if state == store.TaskRunning {
			continue
		}
		if _, err := st.TaskFinish(ctx, store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: state, At: at}); err != nil {
			rt.Fatal(err)
		}
	}
	return run.ID
}
