package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/connectors/parquet"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
	"github.com/weir-dev/weir/verify"
)

var (
	t0    = time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
	daily = partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin"})
)

type env struct {
	store  store.Store
	bucket *blob.Bucket
	clock  *clock.Fake
	graph  *lineage.Graph
}

func newEnv(t *testing.T, assets ...*pipelines.Asset) *env {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { s.Close(); b.Close() })
	return &env{store: s, bucket: b, clock: clock.NewFake(t0), graph: lineage.Must(assets...)}
}

func (e *env) run(t *testing.T, req plan.Request) *scheduler.Result {
	t.Helper()
	pl, err := (&plan.Planner{Graph: e.graph, Status: e.store}).Plan(context.Background(), req, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	ex := &scheduler.Executor{Store: e.store, Bucket: e.bucket, Clock: e.clock, Concurrency: 3, Jitter: func() float64 { return 0 }}
	res, err := ex.Run(context.Background(), g, scheduler.RunOpts{CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// writeKey writes the partition key and what it read from every input.
func writeKey(ctx context.Context, t *pipelines.Task) error {
	for _, k := range t.Keys {
		w, err := t.Output.Create(ctx, k, "data.txt")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s=%s", t.Asset.Key, k)
		for _, dep := range t.Asset.Deps {
			in := t.Input(dep.Asset)
			for _, uk := range in.Keys() {
				r, err := in.Open(ctx, uk, "data.txt")
				if err != nil {
					return err
				}
				b, err := io.ReadAll(r)
				r.Close()
				if err != nil {
					return err
				}
				fmt.Fprintf(w, " [%s]", b)
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

func chain() []*pipelines.Asset {
	return []*pipelines.Asset{
		{Key: "raw", Partitions: daily, Compute: writeKey},
		{Key: "clean", Partitions: daily, Deps: []pipelines.Dep{pipelines.On("raw")}, Compute: writeKey, MaxPartitionsPerRun: 3},
		{Key: "weekly", Partitions: daily, Deps: []pipelines.Dep{pipelines.OnMapped("clean", partitions.Trailing(7))}, Compute: writeKey},
	}
}

func TestRunThenNothingThenReprocessAll(t *testing.T) {
	e := newEnv(t, chain()...)
	req := plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-10"}
	res := e.run(t, req)
	if res.Status != store.RunSucceeded || res.Succeeded != 10+4+10 || res.Tasks != 24 {
		t.Fatalf("first run: %+v", res)
	}
	// What weekly read for 2024-01-10: the 7 days ending that day, as promoted.
	st, _ := e.store.PartitionCurrentList(context.Background(), "weekly", []string{"2024-01-10"})
	in := verify.NewInput(e.bucket, "weekly", []verify.PartitionVersion{{Key: "2024-01-10", Version: st[0].Version, ManifestSHA256: st[0].ManifestSHA256}})
	r, err := in.Open(context.Background(), "2024-01-10", "data.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if got := string(b); !strings.HasPrefix(got, "weekly=2024-01-10 [clean=2024-01-04 [raw=2024-01-04]") || strings.Count(got, "clean=") != 7 {
		t.Fatalf("weekly read %q", got)
	}
	mats, _ := e.store.MaterializationList(context.Background(), store.MaterializationListParams{Asset: "weekly", PartitionKey: "2024-01-10"})
	ins, _ := e.store.MaterializationInputs(context.Background(), mats[0].ID)
	if len(ins) != 7 || ins[0].PartitionKey != "2024-01-04" || ins[6].PartitionKey != "2024-01-10" {
		t.Fatalf("recorded inputs %+v", ins)
	}

	pl, err := (&plan.Planner{Graph: e.graph, Status: e.store}).Plan(context.Background(), req, t0)
	if err != nil || !pl.Empty() {
		t.Fatalf("second plan not empty: %s %v", pl.Summary(), err)
	}
	req.Reprocess = plan.ReprocessAll
	if res := e.run(t, req); res.Succeeded != 24 {
		t.Fatalf("reprocess all: %+v", res)
	}
	// History is kept: two materializations of the same partition.
	mats, _ = e.store.MaterializationList(context.Background(), store.MaterializationListParams{Asset: "raw", PartitionKey: "2024-01-01"})
	if len(mats) != 2 || mats[0].Version == mats[1].Version {
		t.Fatalf("history %+v", mats)
	}
}

func TestMissingUpstreamIsAPlanError(t *testing.T) {
	e := newEnv(t, chain()...)
	_, err := (&plan.Planner{Graph: e.graph, Status: e.store}).Plan(context.Background(),
		plan.Request{Selection: "weekly", Partitions: "2024-01-05"}, t0)
	var me *plan.MissingUpstreamError
	if !errors.As(err, &me) || me.Partitions != "2024-01-01...2024-01-05" || !strings.Contains(err.Error(), "--select +weekly") {
		t.Fatalf("got %v", err)
	}
	for _, tc := range []struct {
		req  plan.Request
		want string
	}{
		{plan.Request{Selection: "raw", Partitions: "2024-02-30"}, `partition key "2024-02-30"`},
		{plan.Request{Selection: "raw"}, "is partitioned"},
		{plan.Request{Selection: "nosuch", Partitions: "2024-01-01"}, `unknown asset "nosuch"`},
		{plan.Request{Selection: "raw", Partitions: "2024-01-01", Reprocess: "some"}, `reprocess policy "some"`},
	} {
		if _, err := (&plan.Planner{Graph: e.graph, Status: e.store}).Plan(context.Background(), tc.req, t0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Plan(%+v) = %v, want %q", tc.req, err, tc.want)
		}
	}
}

func TestRetriesFailuresAndSkips(t *testing.T) {
	var calls sync.Map // key -> *atomic.Int32
	flaky := func(ctx context.Context, task *pipelines.Task) error {
		c, _ := calls.LoadOrStore(task.Keys[0], new(atomic.Int32))
		n := c.(*atomic.Int32).Add(1)
		switch task.Keys[0] {
		case "2024-01-02":
			if n == 1 {
				return errors.New("transient")
			}
		case "2024-01-03":
			return errors.New("always broken")
		case "2024-01-04":
			return pipelines.Permanent(errors.New("bad data"))
		case "2024-01-05":
			panic("compute bug")
		}
		return writeKey(ctx, task)
	}
	e := newEnv(t,
		&pipelines.Asset{Key: "raw", Partitions: daily, Compute: flaky, Retry: pipelines.RetryPolicy{MaxAttempts: 3}},
		&pipelines.Asset{Key: "clean", Partitions: daily, Deps: []pipelines.Dep{pipelines.On("raw")}, Compute: writeKey},
	)
	res := e.run(t, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-05"})
	if res.Status != store.RunFailed || res.Succeeded != 4 || res.Failed != 3 || res.Skipped != 3 || res.NotRun != 0 {
		t.Fatalf("result %+v", res)
	}
	attempts := map[string]int{}
	for _, f := range res.Failures {
		attempts[f.Partitions] = f.Attempts
	}
	if attempts["2024-01-03"] != 3 || attempts["2024-01-04"] != 1 || attempts["2024-01-05"] != 3 {
		t.Fatalf("attempts %v", attempts)
	}
	if c, _ := calls.Load("2024-01-02"); c.(*atomic.Int32).Load() != 2 {
		t.Fatalf("flaky partition ran %d times", c.(*atomic.Int32).Load())
	}
	if !strings.Contains(res.Failures[2].Err, "panic: compute bug") {
		t.Fatalf("panic not reported: %q", res.Failures[2].Err)
	}
	// Failed partitions are recorded; --reprocess failed plans just them.
	pl, err := (&plan.Planner{Graph: e.graph, Status: e.store}).Plan(context.Background(),
		plan.Request{Selection: "raw", Partitions: "2024-01-01...2024-01-05", Reprocess: plan.ReprocessFailed}, t0)
	if err != nil || partitions.Format(daily, pl.Assets[0].ToRun) != "2024-01-03...2024-01-05" {
		t.Fatalf("failed plan %v %v", pl.Summary(), err)
	}
	run, _ := e.store.RunGet(context.Background(), res.RunID)
	if run.Status != store.RunFailed || run.Tasks[store.TaskSkipped] != 3 || run.Error != "3 of 10 tasks failed, 3 skipped" {
		t.Fatalf("stored run %+v", run)
	}
}

func TestTimeoutIsTheContextDeadline(t *testing.T) {
	e := newEnv(t, &pipelines.Asset{Key: "slow", Timeout: time.Millisecond, Compute: func(ctx context.Context, _ *pipelines.Task) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	res := e.run(t, plan.Request{Selection: "slow"})
	if res.Failed != 1 || !strings.Contains(res.Failures[0].Err, "compute timed out after 1ms") {
		t.Fatalf("result %+v", res.Failures)
	}
}

// TestBackoffWaitsOnTheClock: a failed attempt is retried after its
// backoff and not before. In a synctest bubble the worker's clock is the
// bubble's: the half-hour backoff passes as soon as everything waits for
// it, with no clock to step by hand.
func TestBackoffWaitsOnTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		asset := &pipelines.Asset{Key: "a", Retry: pipelines.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Hour, MaxBackoff: 2 * time.Hour},
			Compute: func(ctx context.Context, task *pipelines.Task) error {
				if n.Add(1) == 1 {
					return errors.New("first try fails")
				}
				return writeKey(ctx, task)
			}}
		ctx := context.Background()
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		bucket := memblob.OpenBucket(nil)
		defer bucket.Close()
		graph := lineage.Must(asset)
		start := time.Now()
		pl, _ := (&plan.Planner{Graph: graph, Status: st}).Plan(ctx, plan.Request{Selection: "a"}, start)
		g, _ := pl.Expand()
		var kinds []scheduler.EventKind
		var retryAt time.Time
		ended := 0 // the run's end, seen by the task or by the reaper
		ex := &scheduler.Executor{Store: st, Bucket: bucket, Jitter: func() float64 { return 0.5 }, OnEvent: func(ev scheduler.Event) {
			if ev.Kind == scheduler.EventRunEnded {
				ended++
				return
			}
			kinds = append(kinds, ev.Kind)
			switch ev.Kind {
			case scheduler.EventRetrying:
				if ev.RetryIn != 30*time.Minute {
					t.Errorf("retry in %s, want 30m (half of the 1h ceiling)", ev.RetryIn)
				}
				retryAt = time.Now().Add(ev.RetryIn)
			case scheduler.EventStarted:
				if !retryAt.IsZero() && time.Now().Before(retryAt) {
					t.Errorf("retried at %s, before its backoff ended at %s", time.Now(), retryAt)
				}
			}
		}}
		res, err := ex.Run(ctx, g, scheduler.RunOpts{})
		if err != nil {
			t.Fatal(err)
		}
		// Attempts: the failed compute, the compute that staged, its verification.
		if res.Succeeded != 1 || res.Attempts != 3 || fmt.Sprint(kinds) != "[started retrying started staged succeeded]" || ended != 1 {
			t.Fatalf("result %+v events %v, run ended %d times", res, kinds, ended)
		}
		if took := time.Since(start); took < 30*time.Minute {
			t.Fatalf("the run took %s of the bubble's time, less than the backoff", took)
		}
	})
}

func TestInterruptedRunResumes(t *testing.T) {
	started := make(chan struct{})
	var interrupted atomic.Bool
	e := newEnv(t, &pipelines.Asset{Key: "a", Partitions: daily, Compute: func(ctx context.Context, task *pipelines.Task) error {
		if task.Keys[0] == "2024-01-02" && !interrupted.Load() {
			interrupted.Store(true)
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}
		return writeKey(ctx, task)
	}})
	pl, _ := (&plan.Planner{Graph: e.graph, Status: e.store}).Plan(context.Background(),
		plan.Request{Selection: "a", Partitions: "2024-01-01...2024-01-03"}, t0)
	g, _ := pl.Expand()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	ex := &scheduler.Executor{Store: e.store, Bucket: e.bucket, Clock: e.clock, Concurrency: 1}
	res, err := ex.Run(ctx, g, scheduler.RunOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != store.RunRunning || res.Succeeded != 1 || res.Failed != 0 || res.NotRun != 2 {
		t.Fatalf("result %+v", res)
	}
	tasks, _ := e.store.TaskList(context.Background(), store.TaskListParams{RunID: res.RunID})
	task, attempts, _ := e.store.TaskGet(context.Background(), tasks[1].ID)
	if task.State != store.TaskPending || len(attempts) != 1 || attempts[0].State != store.AttemptReleased {
		t.Fatalf("interrupted task %+v attempts %+v", task, attempts)
	}
	st, _ := e.store.PartitionStatusList(context.Background(), "a")
	for _, s := range st {
		if s.Failed {
			t.Fatalf("interrupted partition marked failed: %+v", s)
		}
	}
	// Resume carries on where it stopped; nothing promoted runs again.
	res, err = ex.Resume(context.Background(), e.graph, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != store.RunSucceeded || res.Succeeded != 3 {
		t.Fatalf("resumed %+v", res)
	}
	mats, _ := e.store.MaterializationList(context.Background(), store.MaterializationListParams{Asset: "a"})
	if len(mats) != 3 {
		t.Fatalf("%d materializations, want one per partition", len(mats))
	}
}

func TestChecksGatePromotion(t *testing.T) {
	var blockNext atomic.Bool
	e := newEnv(t, &pipelines.Asset{Key: "a", Partitions: daily,
		Checks: []pipelines.Check{
			{Name: "blocking", Func: func(context.Context, pipelines.Staged) (string, error) {
				if blockNext.Load() {
					return "7 bad rows", errors.New("want 0 bad rows")
				}
				return "0 bad rows", nil
			}},
			{Name: "warning", Warn: true, Func: func(context.Context, pipelines.Staged) (string, error) {
				return "slow day", errors.New("fewer rows than usual")
			}},
		},
		Compute: writeKey})
	req := plan.Request{Selection: "a", Partitions: "2024-01-01"}
	if res := e.run(t, req); res.Status != store.RunSucceeded {
		t.Fatalf("a failing warning check blocked promotion: %+v", res)
	}
	before, _ := e.store.PartitionCurrentList(context.Background(), "a", []string{"2024-01-01"})
	blockNext.Store(true)
	req.Reprocess = plan.ReprocessAll
	res := e.run(t, req)
	if res.Status != store.RunFailed || !strings.Contains(res.Failures[0].Err, `check "blocking" failed: want 0 bad rows`) {
		t.Fatalf("a failing blocking check did not block: %+v", res)
	}
	after, _ := e.store.PartitionCurrentList(context.Background(), "a", []string{"2024-01-01"})
	if after[0].Version != before[0].Version {
		t.Fatal("a blocked attempt was promoted")
	}
	checks, _ := e.store.CheckResultList(context.Background(), store.CheckResultListParams{Asset: "a"})
	if len(checks) != 4 || checks[0].Name != "warning" || checks[1].Name != "blocking" || checks[1].Passed || checks[1].Value != "7 bad rows" ||
		!checks[3].Passed || checks[2].Passed || !checks[2].Warn {
		t.Fatalf("recorded checks %+v", checks)
	}
}

func TestSQLChecksGatePromotion(t *testing.T) {
	var negatives atomic.Bool
	schema := arrow.NewSchema([]arrow.Field{{Name: "amount", Type: arrow.PrimitiveTypes.Float64}}, nil)
	e := newEnv(t, &pipelines.Asset{Key: "orders", Partitions: daily,
		Checks: []pipelines.Check{
			duckdb.SQL("no negative amounts", "SELECT count(*) FROM data WHERE amount < 0", duckdb.ExpectZero),
			verify.Warn(duckdb.RowCountAtLeast(100)),
		},
		Compute: func(ctx context.Context, task *pipelines.Task) error {
			b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			b.Field(0).(*array.Float64Builder).AppendValues([]float64{1, 2, 3}, nil)
			if negatives.Load() {
				b.Field(0).(*array.Float64Builder).Append(-4)
			}
			tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{b.NewRecordBatch()})
			return parquet.WriteFile(ctx, task.Output, task.Keys[0], "data.parquet", tbl)
		}})
	req := plan.Request{Selection: "orders", Partitions: "2024-01-01"}
	if res := e.run(t, req); res.Status != store.RunSucceeded {
		t.Fatalf("a failing warning (3 rows < 100) blocked promotion: %+v", res)
	}
	before, _ := e.store.PartitionCurrentList(context.Background(), "orders", []string{"2024-01-01"})
	negatives.Store(true)
	req.Reprocess = plan.ReprocessAll
	res := e.run(t, req)
	if res.Status != store.RunFailed || !strings.Contains(res.Failures[0].Err, `check "no negative amounts" failed`) {
		t.Fatalf("a failing blocking SQL check did not block: %+v", res)
	}
	after, _ := e.store.PartitionCurrentList(context.Background(), "orders", []string{"2024-01-01"})
	if after[0].Version != before[0].Version {
		t.Fatal("a blocked attempt was promoted")
	}
	checks, _ := e.store.CheckResultList(context.Background(), store.CheckResultListParams{Asset: "orders"})
	if len(checks) != 4 || checks[1].Name != "no negative amounts" || checks[1].Passed || checks[1].Value != "1" ||
		checks[0].Passed || !checks[0].Warn || checks[0].Value != "4" || !checks[3].Passed || checks[3].Value != "0" {
		t.Fatalf("recorded checks %+v", checks)
	}
}

// TestRunResultReadsALargeRunPageByPage: a run of 25,000 tasks (three
// pages) is counted and summarized as ranges, each task once.
func TestRunResultReadsALargeRunPageByPage(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hours := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Hourly, Start: "2020-01-01", Location: "UTC"})
	g := lineage.Must(&pipelines.Asset{Key: "clicks", Partitions: hours, Compute: func(context.Context, *pipelines.Task) error { return nil }})
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	last := hours.Key(24999)
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "clicks", Partitions: hours.Key(0) + "..." + last}, now)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := scheduler.Enqueue(ctx, st, tg, scheduler.EnqueueOpts{Kind: "backfill", CreatedBy: "test", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scheduler.RunResult(ctx, st, g, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tasks != 25000 || res.NotRun != 25000 || len(res.Assets) != 1 || res.Assets[0].NotRun.Len() != 25000 ||
		partitions.Format(hours, res.Assets[0].NotRun) != hours.Key(0)+"..."+last {
		t.Fatalf("result: %d tasks, %d not run, %+v", res.Tasks, res.NotRun, res.Assets)
	}
}
