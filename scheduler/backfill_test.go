package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/postgres"
	"github.com/weir-dev/weir/store/postgres/pgtest"
	"github.com/weir-dev/weir/verify"
)

// enqueue plans req and stores it with opts.
func enqueue(t *testing.T, st store.Store, g *lineage.Graph, req plan.Request, opts scheduler.EnqueueOpts) *store.Run {
	t.Helper()
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(context.Background(), req, t0)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Now.IsZero() {
		opts.Now = t0
	}
	run, _, err := scheduler.Enqueue(context.Background(), st, tg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// gate is a compute that blocks every task until released, and records the
// order tasks started in.
type gate struct {
	mu      sync.Mutex
	started []string
	entered chan string
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan string, 1000), release: make(chan struct{})} }

func (g *gate) compute(ctx context.Context, t *pipelines.Task) error {
	name := t.Asset.Key + " " + t.Keys[0]
	g.mu.Lock()
	g.started = append(g.started, name)
	g.mu.Unlock()
	g.entered <- name
	select {
	case <-g.release:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return writeKey(ctx, t)
}

func (g *gate) order() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.started)
}

// TestHighPriorityRunOvertakesQueuedBackfill: a scheduled-style run
// submitted while a large backfill holds the only worker slot starts before
// every queued task of the backfill.
func TestHighPriorityRunOvertakesQueuedBackfill(t *testing.T) {
	gt := newGate()
	e := newEnv(t,
		&pipelines.Asset{Key: "history", Partitions: daily, Compute: gt.compute},
		&pipelines.Asset{Key: "nightly", Partitions: daily, Compute: gt.compute},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	backfill := enqueue(t, e.store, e.graph, plan.Request{Selection: "history", Partitions: "2024-01-01...2024-01-31"},
		scheduler.EnqueueOpts{Kind: "backfill", Priority: store.PriorityNormal})
	w := &scheduler.Worker{Store: e.store, Bucket: e.bucket, Graph: e.graph, Clock: e.clock, Concurrency: 1}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if got := <-gt.entered; got != "history 2024-01-01" {
		t.Fatalf("first task %q", got)
	}
	nightlyRun := enqueue(t, e.store, e.graph, plan.Request{Selection: "nightly", Partitions: "2024-01-29...2024-01-31"},
		scheduler.EnqueueOpts{Priority: store.PriorityHigh})
	// Let the backfill's task finish; then the next three starts are the
	// nightly run's, though 30 backfill tasks were queued first.
	for range 4 {
		gt.release <- struct{}{}
		<-gt.entered
	}
	got := gt.order()[1:4]
	want := []string{"nightly 2024-01-29", "nightly 2024-01-30", "nightly 2024-01-31"}
	if !slices.Equal(got, want) {
		t.Fatalf("after the first backfill task, started %v; want the high-priority run first: %v", got, want)
	}
	cancel()
	close(gt.release)
	<-done
	if r, _ := e.store.RunGet(context.Background(), nightlyRun.ID); r.Status != store.RunSucceeded {
		t.Fatalf("nightly run %s", r.Status)
	}
	if r, _ := e.store.RunGet(context.Background(), backfill.ID); r.Tasks[store.TaskSucceeded] < 1 {
		t.Fatalf("backfill %+v", r.Tasks)
	}
}

// leaseSpy reports every lease call's result.
type leaseSpy struct {
	store.Store
	leases chan *store.LeaseResult
}

func (s *leaseSpy) TaskLeaseMany(ctx context.Context, p store.TaskLeaseManyParams) (*store.LeaseResult, error) {
	lr, err := s.Store.TaskLeaseMany(ctx, p)
	if err == nil {
		s.leases <- lr
	}
	return lr, err
}

// TestPauseStopsStartsAndCancelPublishesNothing: pausing lets the running
// task finish, and the very next lease (and every one after) starts
// nothing; cancelling while a task computes revokes its lease, so it
// publishes nothing, the partition keeps no version, and nothing of the
// backfill is left running.
func TestPauseStopsStartsAndCancelPublishesNothing(t *testing.T) {
	gt := newGate()
	e := newEnv(t, &pipelines.Asset{Key: "history", Partitions: daily, Compute: gt.compute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := enqueue(t, e.store, e.graph, plan.Request{Selection: "history", Partitions: "2024-01-01...2024-01-31"},
		scheduler.EnqueueOpts{Kind: "backfill"})
	spy := &leaseSpy{Store: e.store, leases: make(chan *store.LeaseResult, 100)}
	events := make(chan scheduler.Event, 100)
	w := &scheduler.Worker{Store: spy, Bucket: e.bucket, Graph: e.graph, Clock: e.clock, Concurrency: 1, LeaseTimeout: 30 * time.Second,
		OnEvent: func(ev scheduler.Event) { events <- ev }}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-gt.entered // history 2024-01-01 computes
	if lr := <-spy.leases; len(lr.Tasks) != 1 {
		t.Fatalf("first lease %+v", lr)
	}
	if _, err := e.store.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunPaused, Actor: "oncall", At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	gt.release <- struct{}{} // the running task finishes
	for cycle := range 3 {
		if lr := <-spy.leases; len(lr.Tasks) != 0 {
			t.Fatalf("lease cycle %d after pause started %d tasks", cycle, len(lr.Tasks))
		}
		// Look again. The lease above ran after the worker took its
		// wake-up channel, so this wake-up cannot be missed (advancing the
		// fake clock could be: a poll timer abandoned by an earlier
		// wake-up counts as a waiter, and would take the Advance).
		e.store.(interface{ Wake() }).Wake()
	}
	if r, _ := e.store.RunGet(ctx, run.ID); r.Tasks[store.TaskRunning] != 0 || r.Tasks[store.TaskPending] != 30 || r.Tasks[store.TaskSucceeded] != 1 {
		t.Fatalf("paused backfill tasks %v", r.Tasks)
	}

	if _, err := e.store.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunRunning, Actor: "oncall", At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range spy.leases { // keep the spy from blocking the worker
		}
	}()
	interrupted := <-gt.entered // history 2024-01-02 computes
	res, err := e.store.RunCancel(ctx, store.RunCancelParams{ID: run.ID, Actor: "oncall", At: e.clock.Now()})
	if err != nil || res.Interrupted != 1 || res.Pending != 29 {
		t.Fatalf("cancel %+v %v", res, err)
	}
	// The worker learns at its next heartbeat (every 10 s) and interrupts
	// the compute; its promotion is refused.
	e.clock.Advance(10 * time.Second)
	for ev := range events {
		if ev.Kind == scheduler.EventLeaseLost {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r, _ := e.store.RunGet(context.Background(), run.ID)
	if r.Status != store.RunCancelled || r.Tasks[store.TaskRunning] != 0 || r.Tasks[store.TaskPending] != 0 || r.Tasks[store.TaskSucceeded] != 1 {
		t.Fatalf("cancelled backfill %s %v", r.Status, r.Tasks)
	}
	status, err := e.store.PartitionStatusList(context.Background(), "history")
	if err != nil || len(status) != 1 || status[0].PartitionKey != "2024-01-01" {
		t.Fatalf("partitions with a status after cancel: %+v (want only 2024-01-01; %s was interrupted)", status, interrupted)
	}
	if _, err := verify.ReadPointer(context.Background(), e.bucket, "history", "2024-01-02"); !errors.Is(err, verify.ErrMissing) {
		t.Fatalf("pointer of the interrupted partition: %v", err)
	}
}

// TestBackfillThrottlesHoldAcrossWorkers: a month of the example pipeline
// as a backfill with --max-concurrent 2 --rate 5/s, run by three workers
// with their own connections (as on three hosts) against PostgreSQL.
// Sampled throughout, the store never shows more than 2 of its tasks
// running, and its task starts, from the store's timestamps, are at least
// 1/5 s apart: never more than 5 in any second (GCRA, no burst; tolerance
// 1 ms for timestamp rounding).
func TestBackfillThrottlesHoldAcrossWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ~25 s at 5 starts/s")
	}
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	open := func() store.Store { return openPostgres(t, dsn) }
	main := open()
	// Each task works 400 ms, so at 5 starts/s three would overlap
	// without the cap of 2.
	var assets []*pipelines.Asset
	for _, a := range nightly.Assets() {
		slow := *a
		slow.Compute = func(ctx context.Context, t *pipelines.Task) error {
			<-time.After(400 * time.Millisecond)
			return a.Compute(ctx, t)
		}
		assets = append(assets, &slow)
	}
	graph := lineage.Must(assets...)
	run := enqueue(t, main, graph, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-31"},
		scheduler.EnqueueOpts{Kind: "backfill", Throttle: store.Throttle{MaxConcurrent: 2, RatePerSec: 5}, Now: time.Now()})
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	var wg sync.WaitGroup
	for i := range 3 {
		w := &scheduler.Worker{Store: open(), Bucket: bucket, Graph: graph, ID: fmt.Sprint("w", i), Concurrency: 4, RunID: run.ID}
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	samples, peak := 0, 0
	for {
		r, err := main.RunGet(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		samples++
		peak = max(peak, int(r.Tasks[store.TaskRunning]))
		if n := r.Tasks[store.TaskRunning]; n > 2 {
			t.Errorf("sample %d: %d tasks running, max-concurrent 2", samples, n)
		}
		if r.Status != store.RunRunning {
			break
		}
	}
	wg.Wait()
	tasks, err := main.TaskList(ctx, store.TaskListParams{RunID: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Time // of the compute attempts: the leases the rate limits
	for _, tk := range tasks {
		_, attempts, err := main.TaskGet(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tk.State != store.TaskSucceeded || len(attempts) != 2 || attempts[0].Phase != store.PhaseCompute {
			t.Fatalf("task %d %s after %d attempts: %s", tk.ID, tk.State, len(attempts), tk.Error)
		}
		starts = append(starts, attempts[0].StartedAt)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 200*time.Millisecond-time.Millisecond {
			t.Errorf("starts %d and %d only %s apart at 5/s", i-1, i, gap)
		}
	}
	for i := range starts {
		n := 0
		for j := i; j < len(starts) && starts[j].Sub(starts[i]) < time.Second; j++ {
			n++
		}
		if n > 5 {
			t.Errorf("%d starts in the second from %s", n, starts[i].Format(time.RFC3339Nano))
		}
	}
	if len(tasks) != 124 || samples < 50 || peak != 2 {
		t.Fatalf("%d tasks, %d samples, peak %d", len(tasks), samples, peak)
	}
	t.Logf("%d tasks in %s, %d samples of the store, at most %d running", len(tasks), starts[len(starts)-1].Sub(starts[0]), samples, peak)
}

// openPostgres opens a store on dsn (a connection pool of its own, as on a
// host of its own); the test closes it.
func openPostgres(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRunWaitsForAnotherRunsTasks: a run that reads partitions queued in
// another run does not queue them again; its tasks wait for that run's, and
// an executor working on it alone (the embedded store, one process) runs
// the other run's tasks too, so neither is stuck.
func TestRunWaitsForAnotherRunsTasks(t *testing.T) {
	e := newEnv(t,
		&pipelines.Asset{Key: "up", Partitions: daily, Compute: writeKey},
		&pipelines.Asset{Key: "down", Partitions: daily, Deps: []pipelines.Dep{pipelines.On("up")}, Compute: writeKey},
	)
	first := enqueue(t, e.store, e.graph, plan.Request{Selection: "up", Partitions: "2024-01-01...2024-01-10"}, scheduler.EnqueueOpts{})
	_, err := (&plan.Planner{Graph: e.graph, Status: e.store}).Plan(context.Background(),
		plan.Request{Selection: "down", Partitions: "2024-01-05...2024-01-12"}, t0)
	var missing *plan.MissingUpstreamError
	if !errors.As(err, &missing) || missing.Partitions != "2024-01-11...2024-01-12" {
		t.Fatalf("plan reading partly queued upstream: %v (want only 2024-01-11...2024-01-12 missing)", err)
	}
	second := enqueue(t, e.store, e.graph, plan.Request{Selection: "+down", Partitions: "2024-01-05...2024-01-12"}, scheduler.EnqueueOpts{})
	if fmt.Sprint(second.WaitsFor) != fmt.Sprint([]int64{first.ID}) || second.TaskCount() != 10 { // up 11, 12; down 05...12
		t.Fatalf("second run waits for %v with %d tasks", second.WaitsFor, second.TaskCount())
	}
	res, err := (&scheduler.Executor{Store: e.store, Bucket: e.bucket, Clock: e.clock}).Resume(context.Background(), e.graph, second.ID)
	if err != nil || res.Status != store.RunSucceeded {
		t.Fatalf("second run %v %v", res, err)
	}
	if r, _ := e.store.RunGet(context.Background(), first.ID); r.Status != store.RunSucceeded {
		t.Fatalf("first run %s: its tasks did not run with the run waiting for them", r.Status)
	}
	status, _ := e.store.PartitionStatusList(context.Background(), "down")
	if len(status) != 8 {
		t.Fatalf("down has %d partitions, want 8", len(status))
	}
}

// TestNewestFirstOrder: a newest-first backfill starts with its latest
// partitions (and, as always, finishes a partition's chain before starting
// older ones).
func TestNewestFirstOrder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	record := func(ctx context.Context, task *pipelines.Task) error {
		mu.Lock()
		order = append(order, task.Asset.Key+" "+task.Keys[0])
		mu.Unlock()
		return writeKey(ctx, task)
	}
	e := newEnv(t,
		&pipelines.Asset{Key: "up", Partitions: daily, Compute: record},
		&pipelines.Asset{Key: "down", Partitions: daily, Deps: []pipelines.Dep{pipelines.On("up")}, Compute: record},
	)
	run := enqueue(t, e.store, e.graph, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-03"},
		scheduler.EnqueueOpts{Kind: "backfill", Order: scheduler.NewestFirst})
	if _, err := (&scheduler.Executor{Store: e.store, Bucket: e.bucket, Clock: e.clock, Concurrency: 1}).Resume(context.Background(), e.graph, run.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{"up 2024-01-03", "down 2024-01-03", "up 2024-01-02", "down 2024-01-02", "up 2024-01-01", "down 2024-01-01"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}
