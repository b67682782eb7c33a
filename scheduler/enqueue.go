package scheduler

import (
	"context"
	"time"

	"github.com/weir-dev/weir/internal/store"
)

// EnqueueOpts describes who queues a run.
type EnqueueOpts struct {
	// Kind defaults to "materialize".
	Kind string
	// CreatedBy defaults to CurrentUser(nil).
	CreatedBy string
	// Priority of every task: higher leases first. Defaults to 0.
	Priority int
	// Now is when the run was requested.
	Now time.Time
}

// Enqueue stores the run of g with all its tasks in one transaction, each
// with its count of unfinished upstream tasks and its dependents, so that
// any worker can run it and a crash loses nothing. It returns the run and
// the id of its first task (task i has id first+i).
func Enqueue(ctx context.Context, st store.Store, g *TaskGraph, opts EnqueueOpts) (*store.Run, int64, error) {
	if opts.Kind == "" {
		opts.Kind = "materialize"
	}
	if opts.CreatedBy == "" {
		opts.CreatedBy = CurrentUser(nil)
	}
	p := g.Plan
	params := store.RunInsertParams{Kind: opts.Kind, Selection: p.Request.Selection, Partitions: p.Request.Partitions,
		Reprocess: string(p.Request.Reprocess), CreatedBy: opts.CreatedBy, CreatedAt: opts.Now, Tasks: make([]store.TaskInsertParams, len(g.Tasks))}
	for _, a := range p.Assets {
		params.Assets = append(params.Assets, a.Asset.Key)
	}
	nAssets := int64(len(p.Assets))
	for i, t := range g.Tasks {
		a := p.Assets[t.Asset]
		params.Tasks[i] = store.TaskInsertParams{Asset: a.Asset.Key, PartitionFirst: a.Def.Key(t.Range.Lo), PartitionLast: a.Def.Key(t.Range.Hi - 1),
			PartitionCount: t.Range.Len(), MaxAttempts: a.Asset.Retry.Attempts(), Pool: a.Asset.PoolName(), Priority: opts.Priority,
			// Ready downstream tasks lease first, then the oldest
			// partitions: a partition's chain finishes before new ones
			// start, so results arrive early and few partitions are half
			// done when a run stops.
			Rank:    (nAssets-1-int64(t.Asset))<<40 + int64(i),
			Waiting: len(g.Deps(i)), Dependents: g.Dependents(i)}
	}
	return st.RunInsert(ctx, params)
}
