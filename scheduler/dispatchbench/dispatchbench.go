// Package dispatchbench measures weir's queue against its state store: no-op
// tasks through the real enqueue, lease, stage, verify and fenced promotion,
// with the rates and the upstream-promoted to downstream-started latency
// that `weir bench dispatch` reports.
package dispatchbench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// Opts configures Run.
type Opts struct {
	// Open opens one connection set to the store; each worker gets its own,
	// as it would on its own host. Required.
	Open func(ctx context.Context) (store.Store, error)
	// Tasks is the number of independent no-op tasks. Defaults to 10,000.
	Tasks int
	// Workers is the number of workers. Defaults to 1.
	Workers int
	// Concurrency per worker. Defaults to 8.
	Concurrency int
	// Chain is the length of the chain of one-task assets whose handoff
	// latency is measured. Defaults to 50.
	Chain int
	// Now stamps the bench runs.
	Now time.Time
	// Paused, if more than 0, first stores a backfill of that many tasks
	// (hourly partitions of an asset of its own) and pauses it: the workers
	// lease with it in view, as a daemon's workers would, so the figures
	// show what a large paused backfill costs a running one.
	Paused int
	// Bucket receives the tasks' outputs. Defaults to an in-memory bucket
	// (mem://): the figures are the queue's. A file:// bucket adds what
	// writing data, manifests and pointers to disk costs.
	Bucket *blob.Bucket
	// DatabaseCPU, if set, returns the CPU time the database server's
	// processes have used so far (LocalPostgresCPU, for a server on this
	// machine); the result then has the server's CPU per task.
	DatabaseCPU func() (time.Duration, error)
}

// Result holds the figures of one Run.
type Result struct {
	Tasks, Workers, Concurrency, Chain, Paused int
	// Enqueue is the time to plan, expand and store Tasks tasks.
	Enqueue time.Duration
	// Complete is the time from the first lease to the run's end.
	Complete time.Duration
	// Handoffs are upstream-promoted to downstream-started latencies.
	Handoffs []time.Duration
	// Transactions counts the transactions the workers' stores ran while
	// completing the tasks (a statement outside a transaction counts as
	// one); -1 when the store does not count them.
	Transactions int64
	// CPU is the CPU time this process used while completing the tasks;
	// DatabaseCPU the database server's, -1 when unknown.
	CPU, DatabaseCPU time.Duration
}

// TransactionsPerTask returns Transactions / Tasks, -1 when unknown.
func (r *Result) TransactionsPerTask() float64 {
	if r.Transactions < 0 {
		return -1
	}
	return float64(r.Transactions) / float64(r.Tasks)
}

// CPUPer1000 returns CPU seconds per 1,000 tasks of d (-1 when d is).
func (r *Result) CPUPer1000(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return d.Seconds() / float64(r.Tasks) * 1000
}

// EnqueueRate returns tasks stored per second.
func (r *Result) EnqueueRate() float64 { return float64(r.Tasks) / r.Enqueue.Seconds() }

// CompletionRate returns tasks completed per second.
func (r *Result) CompletionRate() float64 { return float64(r.Tasks) / r.Complete.Seconds() }

// Handoff returns the q-quantile of the handoff latencies.
func (r *Result) Handoff(q float64) time.Duration {
	if len(r.Handoffs) == 0 {
		return 0
	}
	s := slices.Clone(r.Handoffs)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (r *Result) String() string {
	return fmt.Sprintf("%d tasks, %d workers × %d: enqueue %.0f tasks/s (%s), complete %.0f tasks/s (%s), %.3f transactions/task; handoff over a chain of %d: p50 %s, p95 %s",
		r.Tasks, r.Workers, r.Concurrency, r.EnqueueRate(), r.Enqueue.Round(time.Millisecond), r.CompletionRate(), r.Complete.Round(time.Millisecond),
		r.TransactionsPerTask(), r.Chain, r.Handoff(0.5).Round(10*time.Microsecond), r.Handoff(0.95).Round(10*time.Microsecond))
}

// Run measures the queue with no-op tasks (each writes one byte
// to an in-memory bucket, so the whole write-audit-promote path runs):
// enqueue rate, completion rate with Workers workers, and the latency from
// an upstream task's promotion to its downstream task's start.
func Run(ctx context.Context, o Opts) (*Result, error) {
	if o.Tasks <= 0 {
		o.Tasks = 10_000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Chain <= 0 {
		o.Chain = 50
	}
	o.Workers, o.Chain = max(o.Workers, 1), max(o.Chain, 2)
	res := &Result{Tasks: o.Tasks, Workers: o.Workers, Concurrency: o.Concurrency, Chain: o.Chain, Paused: o.Paused}
	noop := func(ctx context.Context, t *pipelines.Task) error {
		for _, k := range t.Keys {
			w, err := t.Output.Create(ctx, k, "x")
			if err != nil {
				return err
			}
			w.Write([]byte{1})
			if err := w.Close(); err != nil {
				return err
			}
		}
		return nil
	}
	hours := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Hourly, Start: "2000-01-01"})
	prefix := fmt.Sprintf("bench_%d_", o.Now.UnixNano())
	// Two centuries of hours for the paused backfill (1.75 M of them).
	oldHours := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Hourly, Start: "1826-01-01"})
	assets := []*pipelines.Asset{{Key: prefix + "fanout", Partitions: hours, Compute: noop}, {Key: prefix + "paused", Partitions: oldHours, Compute: noop}}
	for i := 0; i < o.Chain; i++ {
		a := &pipelines.Asset{Key: fmt.Sprintf("%schain%03d", prefix, i), Compute: noop}
		if i > 0 {
			a.Deps = []pipelines.Dep{pipelines.On(fmt.Sprintf("%schain%03d", prefix, i-1))}
		}
		assets = append(assets, a)
	}
	graph := lineage.Must(assets...)
	main, err := o.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer main.Close()
	bucket := o.Bucket
	if bucket == nil {
		bucket = memblob.OpenBucket(nil)
		defer bucket.Close()
	}
	now := hours.Len(time.Now()) // the hours that exist
	if int64(o.Tasks) > now {
		return nil, fmt.Errorf("at most %d tasks", now)
	}

	enqueue := func(sel, parts string) (*store.Run, error) {
		plan, err := (&plan.Planner{Graph: graph, Status: main}).Plan(ctx, plan.Request{Selection: sel, Partitions: parts}, time.Now())
		if err != nil {
			return nil, err
		}
		g, err := plan.Expand()
		if err != nil {
			return nil, err
		}
		run, _, err := scheduler.Enqueue(ctx, main, g, scheduler.EnqueueOpts{Kind: "bench", CreatedBy: "weir bench", Now: o.Now})
		return run, err
	}
	// work runs the run's tasks to the end and measures what it took.
	type cost struct {
		tx      int64
		cpu, db time.Duration
	}
	var paused []int64
	if o.Paused > 0 {
		if int64(o.Paused) > oldHours.Len(time.Now()) {
			return nil, fmt.Errorf("at most %d paused tasks", oldHours.Len(time.Now()))
		}
		run, err := enqueue(prefix+"paused", oldHours.Key(0)+partitions.RangeSep+oldHours.Key(int64(o.Paused)-1))
		if err != nil {
			return nil, err
		}
		if _, err := main.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunPaused, Actor: "weir bench", At: o.Now}); err != nil {
			return nil, err
		}
		paused = append(paused, run.ID)
	}
	work := func(runID int64) (time.Duration, cost, error) {
		var stores []store.Store
		for i := 0; i < o.Workers; i++ {
			st, err := o.Open(ctx)
			if err != nil {
				return 0, cost{}, err
			}
			defer st.Close()
			stores = append(stores, st)
		}
		txs := func() int64 {
			var n int64
			for _, st := range stores {
				c, ok := st.(interface{ Transactions() int64 })
				if !ok {
					return -1
				}
				n += c.Transactions()
			}
			return n
		}
		tx0, cpu0, db0 := txs(), ProcessCPU(), dbCPU(o.DatabaseCPU)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, o.Workers)
		for i, st := range stores {
			w := &scheduler.Worker{Store: st, Bucket: bucket, Graph: graph, ID: fmt.Sprintf("bench-%d", i), Concurrency: o.Concurrency, RunID: runID,
				AlsoRunIDs: paused, PollInterval: 50 * time.Millisecond}
			wg.Go(func() { errs[i] = w.Run(ctx) })
		}
		wg.Wait()
		took := time.Since(start)
		c := cost{tx: txs(), cpu: ProcessCPU() - cpu0, db: dbCPU(o.DatabaseCPU)}
		if c.tx >= 0 {
			c.tx -= tx0
		}
		if c.db >= 0 && db0 >= 0 {
			c.db -= db0
		} else {
			c.db = -1
		}
		return took, c, errors.Join(errs...)
	}

	t0 := time.Now()
	run, err := enqueue(prefix+"fanout", hours.Key(0)+partitions.RangeSep+hours.Key(int64(o.Tasks)-1))
	if err != nil {
		return nil, err
	}
	res.Enqueue = time.Since(t0)
	var c cost
	if res.Complete, c, err = work(run.ID); err != nil {
		return nil, err
	}
	res.Transactions, res.CPU, res.DatabaseCPU = c.tx, c.cpu, c.db

	// The chain: each task starts when the one before is promoted. The
	// latency comes from the store's own timestamps (promoted_at of the
	// upstream, started_at of the downstream lease), not from events, which
	// a fast downstream start can overtake.
	chain, err := enqueue(prefix+"chain000+", "")
	if err != nil {
		return nil, err
	}
	if _, _, err := work(chain.ID); err != nil {
		return nil, err
	}
	tasks, err := main.TaskList(ctx, store.TaskListParams{RunID: chain.ID})
	if err != nil {
		return nil, err
	}
	// A task's end is stamped in its promotion's transaction, on the same
	// clock as its dependent's start (the database's, on PostgreSQL).
	byAsset := map[string]*store.Task{}
	for _, t := range tasks {
		byAsset[t.Asset] = t
	}
	for i := 1; i < o.Chain; i++ {
		up, down := byAsset[fmt.Sprintf("%schain%03d", prefix, i-1)], byAsset[fmt.Sprintf("%schain%03d", prefix, i)]
		if up == nil || down == nil || up.State != store.TaskSucceeded || down.StartedAt.IsZero() {
			return nil, fmt.Errorf("chain step %d did not run", i)
		}
		res.Handoffs = append(res.Handoffs, down.StartedAt.Sub(up.FinishedAt))
	}
	return res, nil
}
