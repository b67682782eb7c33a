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
}

// Result holds the figures of one Run.
type Result struct {
	Tasks, Workers, Concurrency, Chain int
	// Enqueue is the time to plan, expand and store Tasks tasks.
	Enqueue time.Duration
	// Complete is the time from the first lease to the run's end.
	Complete time.Duration
	// Handoffs are upstream-promoted to downstream-started latencies.
	Handoffs []time.Duration
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
	return fmt.Sprintf("%d tasks, %d workers × %d: enqueue %.0f tasks/s (%s), complete %.0f tasks/s (%s); handoff over a chain of %d: p50 %s, p95 %s",
		r.Tasks, r.Workers, r.Concurrency, r.EnqueueRate(), r.Enqueue.Round(time.Millisecond), r.CompletionRate(), r.Complete.Round(time.Millisecond),
		r.Chain, r.Handoff(0.5).Round(10*time.Microsecond), r.Handoff(0.95).Round(10*time.Microsecond))
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
	res := &Result{Tasks: o.Tasks, Workers: o.Workers, Concurrency: o.Concurrency, Chain: o.Chain}
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
	assets := []*pipelines.Asset{{Key: prefix + "fanout", Partitions: hours, Compute: noop}}
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
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
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
	work := func(runID int64) (time.Duration, error) {
		var stores []store.Store
		for i := 0; i < o.Workers; i++ {
			st, err := o.Open(ctx)
			if err != nil {
				return 0, err
			}
			defer st.Close()
			stores = append(stores, st)
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, o.Workers)
		for i, st := range stores {
			w := &scheduler.Worker{Store: st, Bucket: bucket, Graph: graph, ID: fmt.Sprintf("bench-%d", i), Concurrency: o.Concurrency, RunID: runID,
				PollInterval: 50 * time.Millisecond}
			wg.Go(func() { errs[i] = w.Run(ctx) })
		}
		wg.Wait()
		return time.Since(start), errors.Join(errs...)
	}

	t0 := time.Now()
	run, err := enqueue(prefix+"fanout", hours.Key(0)+partitions.RangeSep+hours.Key(int64(o.Tasks)-1))
	if err != nil {
		return nil, err
	}
	res.Enqueue = time.Since(t0)
	if res.Complete, err = work(run.ID); err != nil {
		return nil, err
	}

	// The chain: each task starts when the one before is promoted. The
	// latency comes from the store's own timestamps (promoted_at of the
	// upstream, started_at of the downstream lease), not from events, which
	// a fast downstream start can overtake.
	chain, err := enqueue(prefix+"chain000+", "")
	if err != nil {
		return nil, err
	}
	if _, err := work(chain.ID); err != nil {
		return nil, err
	}
	tasks, err := main.TaskList(ctx, store.TaskListParams{RunID: chain.ID})
	if err != nil {
		return nil, err
	}
	started := map[string]time.Time{}
	for _, t := range tasks {
		started[t.Asset] = t.StartedAt
	}
	for i := 1; i < o.Chain; i++ {
		up, err := main.MaterializationList(ctx, store.MaterializationListParams{Asset: fmt.Sprintf("%schain%03d", prefix, i-1), Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(up) == 1 {
			res.Handoffs = append(res.Handoffs, started[fmt.Sprintf("%schain%03d", prefix, i)].Sub(up[0].PromotedAt))
		}
	}
	return res, nil
}
