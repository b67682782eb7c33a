package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
)

// Executor runs a plan in this process: it enqueues the run in the state
// store, then works on that run alone until it has finished. The run is
// durable from the start, so an interrupted Executor leaves it queued: Resume
// (or any Worker) carries on where it stopped.
type Executor struct {
	// Store records the run. Required.
	Store store.Store
	// Bucket receives the outputs. Required.
	Bucket *blob.Bucket
	// Concurrency caps the tasks running at once. Defaults to 4.
	Concurrency int
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Worker names this process in task attempts. Defaults to HOST:PID.
	Worker string
	// LeaseTimeout is the worker's lease timeout (see Worker). Defaults to
	// 30s.
	LeaseTimeout time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Jitter returns a random number in [0, 1) for retry backoff.
	Jitter func() float64
	// OnEvent, if set, receives task events with Done and Total set.
	OnEvent func(Event)
}

// RunOpts describes who runs what, for the run's record.
type RunOpts struct {
	// Kind defaults to "materialize".
	Kind string
	// CreatedBy defaults to CurrentUser(nil).
	CreatedBy string
	// Priority of the run (store.PriorityHigh for interactive runs).
	Priority int
}

// Result is the outcome of a run.
type Result struct {
	RunID int64
	// Status is running when the Executor was interrupted first.
	Status            store.RunStatus
	Started, Finished time.Time
	Assets            []AssetResult
	// Failures are the tasks that failed for good, at most MaxFailures;
	// FailuresLeftOut counts the others.
	Failures          []Failure
	FailuresLeftOut   int
	Tasks, Attempts   int
	Succeeded, Failed int
	Skipped           int
	// NotRun counts tasks still pending or running (an interrupted run).
	NotRun int
}

// AssetResult is what a run did to one asset.
type AssetResult struct {
	Asset                      string
	Def                        partitions.Definition
	Succeeded, Failed, Skipped partitions.Subset
	// NotRun are partitions still queued (the run was interrupted).
	NotRun          partitions.Subset
	Tasks, Attempts int
}

// Failure is a task that failed for good.
type Failure struct {
	TaskID     int64  `json:"task_id"`
	Asset      string `json:"asset"`
	Partitions string `json:"partitions"`
	Attempts   int    `json:"attempts"`
	Err        string `json:"error"`
}

func (e *Executor) clock() clock.Clock {
	if e.Clock == nil {
		return clock.Real{}
	}
	return e.Clock
}

// Run enqueues g and runs it to the end (or until ctx ends).
func (e *Executor) Run(ctx context.Context, g *plan.TaskGraph, opts RunOpts) (*Result, error) {
	if e.Store == nil || e.Bucket == nil {
		return nil, errors.New("executor needs a Store and a Bucket")
	}
	run, _, err := Enqueue(ctx, e.Store, g, EnqueueOpts{Kind: opts.Kind, CreatedBy: opts.CreatedBy, Priority: opts.Priority, Now: e.clock().Now()})
	if err != nil {
		return nil, err
	}
	return e.Resume(ctx, g.Plan.Graph, run.ID)
}

// Resume works on the queued run runID until it has finished (or until ctx
// ends, leaving the rest queued) and reports its outcome.
func (e *Executor) Resume(ctx context.Context, graph *lineage.Graph, runID int64) (*Result, error) {
	if err := e.Work(ctx, graph, runID); err != nil {
		return nil, err
	}
	return RunResult(context.WithoutCancel(ctx), e.Store, graph, runID)
}

// Work is Resume without the outcome: it returns once the run has
// finished or ctx has ended, without reading the run's tasks back (a
// backfill's caller reports from the run's counters instead).
func (e *Executor) Work(ctx context.Context, graph *lineage.Graph, runID int64) error {
	run, err := e.Store.RunGet(ctx, runID)
	if err != nil {
		return err
	}
	total := int(run.TaskCount())
	done := int(run.Done())
	// Tasks of the runs this one waits for run here too: on the embedded
	// store there may be no other worker.
	w := &Worker{Store: e.Store, Bucket: e.Bucket, Graph: graph, ID: e.Worker, Concurrency: e.Concurrency, RunID: runID, AlsoRunIDs: run.WaitsFor,
		LeaseTimeout: e.LeaseTimeout, Clock: e.Clock, Logger: e.Logger, Jitter: e.Jitter}
	if e.OnEvent != nil {
		w.OnEvent = func(ev Event) {
			switch ev.Kind {
			case EventSucceeded, EventFailed, EventSkipped:
				done++
			}
			ev.Done, ev.Total = done, total
			e.OnEvent(ev)
		}
	}
	return w.Run(ctx)
}

// RunResult reads a run's outcome from the store, as partition ranges per
// asset.
func RunResult(ctx context.Context, st store.Store, graph *lineage.Graph, runID int64) (*Result, error) {
	run, err := st.RunGet(ctx, runID)
	if err != nil {
		return nil, err
	}
	res := &Result{RunID: runID, Status: run.Status, Started: run.CreatedAt, Finished: run.FinishedAt}
	per := map[string]*resultSets{}
	index := map[string]int{}
	for _, key := range run.Assets {
		index[key] = len(res.Assets)
		ar := AssetResult{Asset: key, Def: partitions.Unpartitioned()}
		if a, err := graph.Asset(key); err == nil {
			if ar.Def, err = plan.BindDefinition(ctx, st, a); err != nil {
				return nil, err
			}
		}
		res.Assets = append(res.Assets, ar)
		per[key] = &resultSets{}
	}
	// Page by page in id order: memory holds a page and the ranges,
	// however many tasks the run has (1.75 M for ten years of hours).
	var after int64
	for {
		tasks, err := st.TaskList(ctx, store.TaskListParams{RunID: runID, AfterID: after, Limit: resultPage})
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			res.add(t, index, per)
		}
		if len(tasks) < resultPage {
			break
		}
		after = tasks[len(tasks)-1].ID
	}
	for i := range res.Assets {
		s := per[res.Assets[i].Asset]
		res.Assets[i].Succeeded, res.Assets[i].Failed = s.ok.Subset(), s.failed.Subset()
		res.Assets[i].Skipped, res.Assets[i].NotRun = s.skipped.Subset(), s.notRun.Subset()
	}
	return res, nil
}

// resultPage is how many tasks RunResult reads at a time.
const resultPage = 10000

// MaxFailures caps Result.Failures.
const MaxFailures = 1000

// resultSets are an asset's partitions by outcome, as they are read.
type resultSets struct{ ok, failed, skipped, notRun partitions.Builder }

// add counts task t into res.
func (res *Result) add(t *store.Task, index map[string]int, per map[string]*resultSets) {
	res.Tasks++
	i, ok := index[t.Asset]
	if !ok {
		return
	}
	ar := &res.Assets[i]
	ar.Tasks++
	ar.Attempts += t.Attempt
	res.Attempts += t.Attempt
	lo, err1 := ar.Def.Index(t.PartitionFirst)
	hi, err2 := ar.Def.Index(t.PartitionLast)
	r := partitions.Range{Lo: lo, Hi: hi + 1}
	if err1 != nil || err2 != nil {
		r = partitions.Range{}
	}
	s := per[t.Asset]
	switch t.State {
	case store.TaskSucceeded:
		res.Succeeded++
		s.ok.AddRange(r)
	case store.TaskFailed:
		res.Failed++
		s.failed.AddRange(r)
		if len(res.Failures) == MaxFailures {
			res.FailuresLeftOut++
			return
		}
		parts := t.PartitionFirst
		if t.PartitionCount > 1 {
			parts += partitions.RangeSep + t.PartitionLast
		}
		res.Failures = append(res.Failures, Failure{TaskID: t.ID, Asset: t.Asset, Partitions: parts, Attempts: t.Attempt, Err: t.Error})
	case store.TaskSkipped, store.TaskCancelled:
		res.Skipped++
		s.skipped.AddRange(r)
	default:
		res.NotRun++
		s.notRun.AddRange(r)
	}
}

// String summarizes the result in one line.
func (r *Result) String() string {
	return fmt.Sprintf("run %d %s: %d succeeded, %d failed, %d skipped, %d not run", r.RunID, r.Status, r.Succeeded, r.Failed, r.Skipped, r.NotRun)
}
