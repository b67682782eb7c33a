package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/user"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/internal/clock"
	"github.com/weir-dev/weir/internal/store"
	"github.com/weir-dev/weir/partitions"
)

// Executor runs task graphs in this process.
type Executor struct {
	// Store records the run, its tasks and materializations. Required.
	Store store.Store
	// Bucket receives the outputs. Required.
	Bucket *blob.Bucket
	// Concurrency caps the tasks running at once. Defaults to 4.
	Concurrency int
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Worker names this process in task attempts. Defaults to HOST:PID.
	Worker string
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Jitter returns a random number in [0, 1) for retry backoff. Defaults
	// to math/rand/v2.Float64. Called under a lock.
	Jitter func() float64
	// OnEvent, if set, receives every task event, one call at a time.
	OnEvent func(Event)
}

// EventKind says what happened to a task.
type EventKind string

// Task events.
const (
	EventStarted   EventKind = "started"
	EventSucceeded EventKind = "succeeded"
	EventRetrying  EventKind = "retrying"
	EventFailed    EventKind = "failed"
	EventSkipped   EventKind = "skipped"
)

// Event is one thing that happened to a task.
type Event struct {
	Kind       EventKind
	RunID      int64
	TaskID     int64
	Asset      string
	Partitions string // compact form
	Attempt    int
	Duration   time.Duration
	RetryIn    time.Duration
	Err        error
	// Done and Total count finished (succeeded, failed or skipped) tasks.
	Done, Total int
}

// RunOpts describes who runs what, for the run's record.
type RunOpts struct {
	// Kind defaults to "materialize".
	Kind string
	// CreatedBy defaults to CurrentUser(nil).
	CreatedBy string
}

// Result is the outcome of a run.
type Result struct {
	RunID              int64
	Status             store.RunStatus
	Started, Finished  time.Time
	Assets             []AssetResult
	Failures           []Failure
	Tasks, Attempts    int
	Succeeded, Failed  int
	Skipped, Cancelled int
}

// AssetResult is what a run did to one asset.
type AssetResult struct {
	Asset                      string
	Def                        partitions.Definition
	Requested                  partitions.Subset
	Succeeded, Failed, Skipped partitions.Subset
	// Cancelled were interrupted or never started because the run stopped.
	Cancelled       partitions.Subset
	Tasks, Attempts int
}

// Failure is a task that failed for good.
type Failure struct {
	TaskID     int64
	Asset      string
	Partitions string
	Attempts   int
	Err        string
}

const (
	statePending uint8 = iota
	stateRunning
	stateSucceeded
	stateFailed
	stateSkipped
	stateCancelled
)

type outcome struct {
	task    int
	err     error         // the attempt's error, nil on success
	retryIn time.Duration // > 0 or retry set: the task waits and runs again
	retry   bool
	// cancelled: the run's context ended during the attempt.
	cancelled bool
	fatal     error // the run cannot go on (the store failed)
	took      time.Duration
}

// Run stores a run for g and executes it. A non-nil error means weir could
// not run the work (the store failed); work that ran and failed is reported
// in the Result with Status failed.
func (e *Executor) Run(ctx context.Context, g *TaskGraph, opts RunOpts) (*Result, error) {
	if e.Store == nil || e.Bucket == nil {
		return nil, errors.New("executor needs a Store and a Bucket")
	}
	clk := e.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	conc := e.Concurrency
	if conc <= 0 {
		conc = 4
	}
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	worker := e.Worker
	if worker == "" {
		host, _ := os.Hostname()
		worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	var jmu sync.Mutex
	jitter := func() float64 {
		jmu.Lock()
		defer jmu.Unlock()
		if e.Jitter != nil {
			return e.Jitter()
		}
		return rand.Float64()
	}
	if opts.Kind == "" {
		opts.Kind = "materialize"
	}
	if opts.CreatedBy == "" {
		opts.CreatedBy = CurrentUser(nil)
	}

	p := g.Plan
	params := store.RunInsertParams{Kind: opts.Kind, Selection: p.Request.Selection, Partitions: p.Request.Partitions,
		Reprocess: string(p.Request.Reprocess), CreatedBy: opts.CreatedBy, CreatedAt: clk.Now(), Tasks: make([]store.TaskInsertParams, len(g.Tasks))}
	for _, a := range p.Assets {
		params.Assets = append(params.Assets, a.Asset.Key)
	}
	for i, t := range g.Tasks {
		a := p.Assets[t.Asset]
		params.Tasks[i] = store.TaskInsertParams{Asset: a.Asset.Key, PartitionFirst: a.Def.Key(t.Range.Lo), PartitionLast: a.Def.Key(t.Range.Hi - 1),
			PartitionCount: t.Range.Len(), MaxAttempts: a.Asset.Retry.Attempts(), Pool: a.Asset.PoolName()}
	}
	run, first, err := e.Store.RunInsert(ctx, params)
	if err != nil {
		return nil, err
	}
	params.Tasks = nil
	r := &runner{e: e, g: g, clk: clk, log: log.With("run", run.ID), worker: worker, jitter: jitter, runID: run.ID, first: first,
		state: make([]uint8, len(g.Tasks)), attempts: make([]int, len(g.Tasks)), waiting: make([]int32, len(g.Tasks)),
		outcomes: make(chan outcome), retries: make(chan int)}
	res, err := r.run(ctx, conc)
	if err != nil {
		return nil, err
	}
	res.Started = run.CreatedAt
	return res, nil
}

// runner is the state of one run. The dispatcher goroutine owns every field
// below the channels; attempt goroutines only read g and send outcomes.
type runner struct {
	e      *Executor
	g      *TaskGraph
	clk    clock.Clock
	log    *slog.Logger
	worker string
	jitter func() float64
	runID  int64
	first  int64

	outcomes chan outcome
	retries  chan int

	state    []uint8
	attempts []int
	waiting  []int32 // unfinished deps per task
	ready    taskHeap
	errs     map[int]error
	done     int
}

func (r *runner) emit(ev Event) {
	if r.e.OnEvent == nil {
		return
	}
	ev.RunID, ev.Done, ev.Total = r.runID, r.done, len(r.g.Tasks)
	r.e.OnEvent(ev)
}

func (r *runner) event(kind EventKind, i int) Event {
	t := r.g.Tasks[i]
	a := r.g.Plan.Assets[t.Asset]
	return Event{Kind: kind, TaskID: r.first + int64(i), Asset: a.Asset.Key, Partitions: partitions.FormatRange(a.Def, t.Range), Attempt: r.attempts[i]}
}

func (r *runner) run(parent context.Context, conc int) (*Result, error) {
	// A fatal error stops the run like a cancellation: attempts see it
	// through their context, retry timers stop waiting.
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	r.ready.asset = func(i int32) int32 { return r.g.Tasks[i].Asset }
	for i := range r.g.Tasks {
		r.waiting[i] = int32(len(r.g.Deps(i)))
		if r.waiting[i] == 0 {
			heap.Push(&r.ready, int32(i))
		}
	}
	r.errs = map[int]error{}
	var wg sync.WaitGroup
	running, sleeping := 0, 0
	var fatal error
	stopped := func() bool { return ctx.Err() != nil || fatal != nil }
	for {
		for running < conc && r.ready.Len() > 0 && !stopped() {
			i := int(heap.Pop(&r.ready).(int32))
			r.state[i] = stateRunning
			r.attempts[i]++
			running++
			r.emit(r.event(EventStarted, i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.outcomes <- r.attempt(ctx, i, r.attempts[i])
			}()
		}
		if running == 0 && (sleeping == 0 || stopped()) {
			break
		}
		select {
		case o := <-r.outcomes:
			running--
			if o.fatal != nil && fatal == nil {
				fatal = o.fatal
				cancel(fatal)
			}
			r.finish(o, &sleeping, &wg, ctx)
		case i := <-r.retries:
			sleeping--
			if i >= 0 {
				r.state[i] = statePending
				heap.Push(&r.ready, int32(i))
			}
		}
	}
	// Retry timers end on ctx.Done; wait for them and every attempt.
	go func() {
		for range r.retries {
		}
	}()
	wg.Wait()
	close(r.retries)
	return r.result(parent, fatal)
}

// finish applies an attempt's outcome.
func (r *runner) finish(o outcome, sleeping *int, wg *sync.WaitGroup, ctx context.Context) {
	i := o.task
	switch {
	case o.err == nil && o.fatal == nil:
		r.state[i] = stateSucceeded
		r.done++
		ev := r.event(EventSucceeded, i)
		ev.Duration = o.took
		r.emit(ev)
		for _, d := range r.g.Dependents(i) {
			if r.waiting[d]--; r.waiting[d] == 0 && r.state[d] == statePending {
				heap.Push(&r.ready, d)
			}
		}
	case o.cancelled && o.fatal == nil:
		r.state[i] = stateCancelled
		r.done++
	case o.retry:
		*sleeping++
		ev := r.event(EventRetrying, i)
		ev.Err, ev.RetryIn, ev.Duration = o.err, o.retryIn, o.took
		r.emit(ev)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-r.clk.After(o.retryIn):
				r.retries <- i
			case <-ctx.Done():
				r.retries <- -1
			}
		}()
	default:
		r.state[i] = stateFailed
		r.errs[i] = errors.Join(o.err, o.fatal)
		r.done++
		ev := r.event(EventFailed, i)
		ev.Err, ev.Duration = r.errs[i], o.took
		r.emit(ev)
		r.skipDependents(i)
	}
}

// skipDependents marks every task downstream of i as skipped.
func (r *runner) skipDependents(i int) {
	stack := []int32{int32(i)}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range r.g.Dependents(int(t)) {
			if r.state[d] == statePending {
				r.state[d] = stateSkipped
				r.done++
				r.emit(r.event(EventSkipped, int(d)))
				stack = append(stack, d)
			}
		}
	}
}

func (r *runner) result(ctx context.Context, fatal error) (*Result, error) {
	bg := context.WithoutCancel(ctx)
	now := r.clk.Now()
	res := &Result{RunID: r.runID, Tasks: len(r.g.Tasks), Finished: now}
	var skipped, notRun []int64
	per := make([]struct{ ok, failed, skipped, cancelled partitions.Builder }, len(r.g.Plan.Assets))
	for i, t := range r.g.Tasks {
		res.Attempts += r.attempts[i]
		b := &per[t.Asset]
		switch r.state[i] {
		case stateSucceeded:
			res.Succeeded++
			b.ok.AddRange(t.Range)
		case stateFailed:
			res.Failed++
			b.failed.AddRange(t.Range)
			a := r.g.Plan.Assets[t.Asset]
			res.Failures = append(res.Failures, Failure{TaskID: r.first + int64(i), Asset: a.Asset.Key, Partitions: partitions.FormatRange(a.Def, t.Range),
				Attempts: r.attempts[i], Err: r.errs[i].Error()})
		case stateSkipped:
			res.Skipped++
			b.skipped.AddRange(t.Range)
			skipped = append(skipped, r.first+int64(i))
		case stateCancelled:
			res.Cancelled++
			b.cancelled.AddRange(t.Range)
		default: // never started: the run was cancelled or stopped
			res.Cancelled++
			b.cancelled.AddRange(t.Range)
			notRun = append(notRun, r.first+int64(i))
		}
	}
	for ai, a := range r.g.Plan.Assets {
		ar := AssetResult{Asset: a.Asset.Key, Def: a.Def, Requested: a.Requested, Succeeded: per[ai].ok.Subset(), Failed: per[ai].failed.Subset(),
			Skipped: per[ai].skipped.Subset(), Cancelled: per[ai].cancelled.Subset()}
		for i := r.g.firstTask[ai]; i < r.g.firstTask[ai+1]; i++ {
			ar.Tasks++
			ar.Attempts += r.attempts[i]
		}
		res.Assets = append(res.Assets, ar)
	}
	stopReason := "run cancelled"
	if fatal != nil {
		stopReason = "run stopped: " + fatal.Error()
	}
	for _, s := range []store.TaskSkipManyParams{
		{IDs: skipped, State: store.TaskSkipped, Reason: "upstream task failed", At: now},
		{IDs: notRun, State: store.TaskCancelled, Reason: stopReason, At: now},
	} {
		if len(s.IDs) == 0 {
			continue
		}
		if err := r.e.Store.TaskSkipMany(bg, s); err != nil && fatal == nil {
			fatal = err
		}
	}
	// Partitions skipped because an upstream task failed count as failed
	// (like Airflow's upstream_failed), so --reprocess failed runs them
	// again with their upstream.
	for ai, a := range r.g.Plan.Assets {
		s := res.Assets[ai].Skipped
		if s.IsEmpty() || fatal != nil {
			continue
		}
		err := r.e.Store.PartitionFail(bg, store.PartitionFailParams{Asset: a.Asset.Key, Keys: partitions.Keys(a.Def, s), RunID: r.runID,
			Error: "not run: an upstream partition failed", At: now})
		if err != nil {
			fatal = err
		}
	}
	res.Status = store.RunSucceeded
	msg := ""
	switch {
	case fatal != nil:
		res.Status, msg = store.RunFailed, fatal.Error()
	case ctx.Err() != nil:
		res.Status, msg = store.RunCancelled, "cancelled: "+context.Cause(ctx).Error()
	case res.Failed > 0:
		res.Status, msg = store.RunFailed, fmt.Sprintf("%d of %d tasks failed", res.Failed, res.Tasks)
	}
	if err := r.e.Store.RunFinish(bg, store.RunFinishParams{ID: r.runID, Status: res.Status, Error: msg, FinishedAt: now}); err != nil && fatal == nil {
		fatal = err
	}
	if fatal != nil {
		return res, fmt.Errorf("run %d: %w", r.runID, fatal)
	}
	return res, nil
}

// taskHeap pops ready tasks of the most downstream asset first, then the
// oldest partitions: a partition's chain finishes before new partitions
// start, so results arrive early and few partitions are half done when a run
// stops.
type taskHeap struct {
	ids   []int32
	asset func(int32) int32
}

func (h taskHeap) Len() int { return len(h.ids) }
func (h taskHeap) Less(i, j int) bool {
	ai, aj := h.asset(h.ids[i]), h.asset(h.ids[j])
	if ai != aj {
		return ai > aj
	}
	return h.ids[i] < h.ids[j]
}
func (h taskHeap) Swap(i, j int) { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *taskHeap) Push(x any)   { h.ids = append(h.ids, x.(int32)) }
func (h *taskHeap) Pop() any {
	x := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return x
}

// CurrentUser names who starts a run: $WEIR_USER, else $USER, else the
// operating system's user name, else "unknown". getenv defaults to
// os.Getenv.
func CurrentUser(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, k := range []string{"WEIR_USER", "USER", "USERNAME"} {
		if v := getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
