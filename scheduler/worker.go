package scheduler

import (
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

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/store"
)

// Worker leases runnable tasks from the state store and runs them: any
// number of workers, in any number of processes on any number of hosts,
// can share one store. A worker heartbeats its leases, reaps the expired
// leases of dead workers, wakes as soon as upstream work is promoted, and on
// shutdown lets running tasks finish (up to Grace) and gives back the rest.
type Worker struct {
	// Store is the shared state store. Required.
	Store store.Store
	// Bucket receives the outputs. Required.
	Bucket *blob.Bucket
	// Graph holds the assets this worker can run. Required.
	Graph *lineage.Graph
	// ID names the worker in task attempts. Defaults to HOST:PID.
	ID string
	// Concurrency caps the tasks this worker runs at once. Defaults to 4.
	Concurrency int
	// Pools limits the worker to tasks of these pools. Empty means all.
	Pools []string
	// RunID limits the worker to one run and makes Run return once that
	// run has finished. 0 means every run, until the context ends.
	RunID int64
	// AlsoRunIDs, with RunID, lets the worker run tasks of these runs too:
	// the runs whose tasks RunID's tasks wait for (store.Run.WaitsFor), so
	// a run waiting for another is not stuck when this is the only worker.
	AlsoRunIDs []int64
	// LeaseTimeout is how long a lease lives without a heartbeat; the
	// worker heartbeats every third of it. Defaults to 30s.
	LeaseTimeout time.Duration
	// PollInterval is how often the worker looks for work when no wake-up
	// comes. Defaults to 1s.
	PollInterval time.Duration
	// AgeEvery is how long a waiting run takes to rise one priority level
	// (see store.TaskLeaseManyParams). Defaults to 5 minutes.
	AgeEvery time.Duration
	// Grace is how long running tasks may go on after the context ends
	// before they are interrupted and their leases released. Defaults to 0.
	Grace time.Duration
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Jitter returns a random number in [0, 1) for retry backoff. Defaults
	// to math/rand/v2.Float64. Called under a lock.
	Jitter func() float64
	// OnEvent, if set, receives task events, one call at a time.
	OnEvent func(Event)

	mu      sync.Mutex // guards held, jitter and OnEvent calls
	held    map[int64]*heldTask
	evmu    sync.Mutex
	commits *committers
}

type heldTask struct {
	task   *store.Task
	cancel context.CancelCauseFunc
	// staging is set while TaskStage moves the task's lease token on to
	// its verify attempt: a heartbeat that carried the old token may be
	// refused meanwhile, and that says nothing about the new lease.
	staging bool
}

// EventKind says what happened to a task.
type EventKind string

// Task events.
const (
	EventStarted EventKind = "started"
	// EventStaged: the compute phase wrote and staged the output; the
	// verify phase follows.
	EventStaged    EventKind = "staged"
	EventSucceeded EventKind = "succeeded"
	EventRetrying  EventKind = "retrying"
	EventFailed    EventKind = "failed"
	EventSkipped   EventKind = "skipped"
	// EventReleased: the worker gave the lease back (it is stopping).
	EventReleased EventKind = "released"
	// EventLeaseLost: another worker owns the task now; this attempt's
	// writes were refused.
	EventLeaseLost EventKind = "lease-lost"
	// EventReaped: the lease of a dead worker's task expired.
	EventReaped EventKind = "reaped"
	// EventRunEnded: the task that just ended was its run's last; the
	// event has RunID, RunKind, RunStatus and Duration (from the run's
	// creation to its end), no task.
	EventRunEnded EventKind = "run-ended"
)

// Event is one thing that happened to a task.
type Event struct {
	Kind       EventKind
	RunID      int64
	TaskID     int64
	Asset      string
	Partitions string // compact form
	Attempt    int
	Worker     string
	Duration   time.Duration
	RetryIn    time.Duration
	Err        error
	// Done and Total count the run's finished tasks, where known.
	Done, Total int
	// Bytes, on EventSucceeded, is what the task promoted: written,
	// checksummed and verified.
	Bytes int64
	// RunKind and RunStatus are set on EventRunEnded.
	RunKind   string
	RunStatus store.RunStatus
}

func (w *Worker) emit(ev Event) {
	if w.OnEvent == nil {
		return
	}
	w.evmu.Lock()
	defer w.evmu.Unlock()
	w.OnEvent(ev)
}

func taskEvent(kind EventKind, t *store.Task) Event {
	return Event{Kind: kind, RunID: t.RunID, TaskID: t.ID, Asset: t.Asset, Partitions: TaskPartitions(t), Attempt: t.Attempt, Worker: t.Worker}
}

func (w *Worker) defaults() error {
	if w.Store == nil || w.Bucket == nil || w.Graph == nil {
		return errors.New("worker needs a Store, a Bucket and a Graph")
	}
	if w.ID == "" {
		w.ID = DefaultWorkerID()
	}
	if w.Concurrency <= 0 {
		w.Concurrency = 4
	}
	if w.LeaseTimeout <= 0 {
		w.LeaseTimeout = 30 * time.Second
	}
	if w.PollInterval <= 0 {
		w.PollInterval = time.Second
	}
	if w.Clock == nil {
		w.Clock = clock.Real{}
	}
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	w.held = map[int64]*heldTask{}
	return nil
}

func (w *Worker) jitter() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Jitter != nil {
		return w.Jitter()
	}
	return rand.Float64()
}

// Run works until ctx ends (or, with RunID set, until that run has
// finished). When ctx ends it leases nothing more, lets running tasks
// finish for up to Grace, then interrupts them and releases their leases.
// It returns nil on a clean stop.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.defaults(); err != nil {
		return err
	}
	if err := w.Store.WorkerRegister(ctx, store.WorkerRegisterParams{ID: w.ID, Host: hostname(), PID: os.Getpid(), Pools: w.Pools,
		Concurrency: w.Concurrency, LeaseTimeout: w.LeaseTimeout, At: w.Clock.Now()}); err != nil {
		return err
	}
	defer func() {
		if err := w.Store.WorkerStop(context.WithoutCancel(ctx), w.ID, w.Clock.Now()); err != nil {
			w.Logger.Error("record the worker's stop", "error", err)
		}
	}()
	// hard ends running tasks: at the end of the grace period.
	hard, stopHard := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopHard(nil)
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	w.commits = w.newCommitters()
	w.commits.start(bg, &wg)
	wg.Go(func() { w.heartbeats(bg) })
	wg.Go(func() { w.reaper(bg) })
	done := make(chan struct{}, w.Concurrency)
	running := 0
	var runErr error
loop:
	for ctx.Err() == nil {
		wake := w.Store.TaskWake()
		poll := w.PollInterval
		if running < w.Concurrency {
			// Not cancelled by the stop: a lease that commits as the worker
			// is told to stop must come back here and run (within the
			// grace period), not be left running in the store, leased to
			// nobody, until its lease expires.
			lr, err := w.Store.TaskLeaseMany(context.WithoutCancel(ctx), store.TaskLeaseManyParams{Worker: w.ID, Pools: w.Pools, RunID: w.RunID,
				AlsoRunIDs: w.AlsoRunIDs, Limit: w.Concurrency - running, Now: w.Clock.Now(), LeaseFor: w.LeaseTimeout, AgeEvery: w.AgeEvery})
			if err != nil && ctx.Err() == nil {
				w.Logger.Error("lease tasks", "error", err)
			}
			var tasks []*store.Task
			if lr != nil {
				tasks = lr.Tasks
				// A rate-limited run may start its next task then.
				if !lr.ThrottledUntil.IsZero() {
					poll = min(poll, max(lr.ThrottledFor, time.Millisecond))
				}
			}
			for _, t := range tasks {
				running++
				w.commits.gate.add(1)
				tctx, cancel := context.WithCancelCause(hard)
				w.mu.Lock()
				w.held[t.ID] = &heldTask{task: t, cancel: cancel}
				w.mu.Unlock()
				wg.Go(func() {
					w.runTask(tctx, t)
					w.commits.gate.add(-1)
					w.mu.Lock()
					delete(w.held, t.ID)
					w.mu.Unlock()
					cancel(nil)
					done <- struct{}{}
				})
			}
			if len(tasks) > 0 && running < w.Concurrency {
				continue // there may be more
			}
		}
		if w.RunID != 0 && running == 0 {
			run, err := w.Store.RunGet(ctx, w.RunID)
			if err != nil && ctx.Err() == nil {
				runErr = err
				break loop
			}
			if err == nil && run.Status != store.RunRunning {
				break loop
			}
		}
		select {
		case <-done:
			running--
			// Tasks end in batches (group commit): lease for all the
			// free slots at once.
			for drained := false; !drained; {
				select {
				case <-done:
					running--
				default:
					drained = true
				}
			}
		case <-wake:
		case <-w.Clock.After(poll):
		case <-ctx.Done():
		}
	}
	var grace <-chan time.Time
	if running > 0 {
		w.Logger.Info("stopping: waiting for running tasks", "running", running, "grace", w.Grace.String())
		grace = w.Clock.After(w.Grace)
	}
	for running > 0 {
		select {
		case <-done:
			running--
		case <-grace:
			stopHard(errWorkerStopping)
			grace = nil
		}
	}
	stopBg()
	wg.Wait()
	return runErr
}

var errWorkerStopping = errors.New("worker stopping: grace period over")

// heartbeats extends the leases of running tasks every third of the lease
// timeout, and interrupts tasks whose lease was lost.
func (w *Worker) heartbeats(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.Clock.After(w.LeaseTimeout / 3):
		}
		w.mu.Lock()
		leases := make([]store.Lease, 0, len(w.held))
		for _, h := range w.held {
			leases = append(leases, store.Lease{TaskID: h.task.ID, Token: h.task.LeaseToken})
		}
		w.mu.Unlock()
		// Heartbeat also without leases: `weir workers list` shows the
		// worker alive.
		lost, err := w.Store.TaskHeartbeat(ctx, store.TaskHeartbeatParams{Leases: leases, Now: w.Clock.Now(), LeaseFor: w.LeaseTimeout, Worker: w.ID})
		if err != nil {
			w.Logger.Error("heartbeat", "error", err)
			continue
		}
		sent := make(map[int64]int64, len(leases))
		for _, l := range leases {
			sent[l.TaskID] = l.Token
		}
		w.mu.Lock()
		for _, id := range lost {
			// Only the lease this heartbeat carried is lost: the task may
			// have moved on to its verify attempt (a new token) since.
			if h, ok := w.held[id]; ok && !h.staging && h.task.LeaseToken == sent[id] {
				h.cancel(store.ErrLeaseLost)
			}
		}
		w.mu.Unlock()
	}
}

// reaper returns the expired leases of dead workers to the queue.
func (w *Worker) reaper(ctx context.Context) {
	for {
		res, err := w.Store.TaskReapExpired(ctx, store.TaskReapExpiredParams{Now: w.Clock.Now(), DeadWorkers: w.deadLocalWorkers(ctx)})
		if err != nil && ctx.Err() == nil {
			w.Logger.Error("reap expired leases", "error", err)
		}
		// A process that died after its run's last task committed left
		// the run active.
		if ended, err := w.Store.RunFinishIdle(ctx, w.Clock.Now()); err != nil && ctx.Err() == nil {
			w.Logger.Error("finish idle runs", "error", err)
		} else if len(ended) > 0 {
			w.Logger.Info("finished runs whose last task had ended", "runs", ended)
			// Also a run whose last task ended here a moment ago: the
			// reaper may end it between that task's commit and the
			// worker's own check.
			for _, id := range ended {
				w.runEnded(ctx, id, "", w.Clock.Now())
			}
		}
		for _, r := range res {
			ev := taskEvent(EventReaped, r.Task)
			ev.Err = errors.New(r.Task.Error)
			w.emit(ev)
			if r.Task.State == store.TaskFailed {
				w.recordFailure(ctx, r, store.FailWork)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.Clock.After(w.LeaseTimeout / 2):
		}
	}
}

// deadLocalWorkers returns the workers registered on this host whose
// process no longer exists (killed, crashed): their leases need not wait
// to expire. Workers on other hosts are left to their leases' expiry.
func (w *Worker) deadLocalWorkers(ctx context.Context) []string {
	workers, err := w.Store.WorkerList(ctx, store.WorkerListParams{Host: hostname(), Active: true})
	if err != nil {
		if ctx.Err() == nil {
			w.Logger.Error("list this host's workers", "error", err)
		}
		return nil
	}
	var dead []string
	for _, o := range workers {
		if o.ID != w.ID && o.PID != os.Getpid() && processGone(o.PID) {
			dead = append(dead, o.ID)
		}
	}
	return dead
}

// DefaultWorkerID names a worker that was given no id: HOST:PID.
func DefaultWorkerID() string { return fmt.Sprintf("%s:%d", hostname(), os.Getpid()) }

// hostname names this host in the workers registry.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return h
}

// recordFailure marks the partitions of a failed task, and of the tasks
// skipped below it, as failed, so --reprocess failed finds them.
func (w *Worker) recordFailure(ctx context.Context, r *store.TaskFinishResult, cause store.FailCause) {
	record := func(t *store.Task, msg string, cause store.FailCause) {
		ti, err := w.resolve(ctx, t)
		if err != nil {
			w.Logger.Error("record failed partitions", "task", t.ID, "error", err)
			return
		}
		if err := w.Store.PartitionFail(ctx, store.PartitionFailParams{Asset: t.Asset, Keys: ti.keys, RunID: t.RunID, Error: msg, Cause: cause, At: w.Clock.Now()}); err != nil {
			w.Logger.Error("record failed partitions", "task", t.ID, "error", err)
		}
	}
	record(r.Task, r.Task.Error, cause)
	for _, s := range r.Skipped {
		record(s, "not run: an upstream partition failed", store.FailUpstream)
		w.emit(taskEvent(EventSkipped, s))
	}
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
