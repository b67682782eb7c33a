package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
)

// Order says which partitions of a run start first.
type Order string

// Orders.
const (
	OldestFirst Order = "oldest-first"
	NewestFirst Order = "newest-first"
)

// ParseOrder checks an order name; "" is OldestFirst.
func ParseOrder(s string) (Order, error) {
	switch o := Order(s); o {
	case OldestFirst, NewestFirst:
		return o, nil
	case "":
		return OldestFirst, nil
	}
	return "", fmt.Errorf("order %q is not one of oldest-first, newest-first", s)
}

// EnqueueOpts describes who queues a run, and how it runs.
type EnqueueOpts struct {
	// Kind defaults to "materialize".
	Kind string
	// CreatedBy defaults to CurrentUser(nil).
	CreatedBy string
	// Priority of the run: higher leases first (store.PriorityHigh for
	// interactive and scheduled runs, store.PriorityNormal for backfills).
	Priority int
	// Order defaults to OldestFirst.
	Order Order
	// Pool, if set, puts every task in this pool instead of its asset's.
	Pool     string
	Throttle store.Throttle
	Breaker  store.Breaker
	// Now is when the run was requested.
	Now time.Time
	// Ticks are the schedule ticks the run fires, recorded with it (see
	// store.RunInsertParams.Ticks).
	Ticks []store.Tick
	// Sensor is the sensor evaluation the run starts, recorded with it
	// (see store.RunInsertParams.Sensor).
	Sensor *store.SensorTick
}

// Enqueue stores the run of g with all its tasks in one transaction, each
// with its count of unfinished upstream tasks and its dependents, so that
// any worker can run it and a crash loses nothing. Tasks stream to the store
// in batches straight from the task graph. Tasks that read partitions queued
// in other runs wait for those runs' tasks. It returns the run and the id of
// its first task (task i has id first+i).
func Enqueue(ctx context.Context, st store.Store, g *plan.TaskGraph, opts EnqueueOpts) (*store.Run, int64, error) {
	if opts.Kind == "" {
		opts.Kind = "materialize"
	}
	if opts.CreatedBy == "" {
		opts.CreatedBy = CurrentUser(nil)
	}
	order, err := ParseOrder(string(opts.Order))
	if err != nil {
		return nil, 0, err
	}
	if err := opts.Throttle.Validate(); err != nil {
		return nil, 0, fmt.Errorf("enqueue: throttle: %w", err)
	}
	if b := opts.Breaker; math.IsNaN(b.MaxFailureRate) || b.MaxFailureRate < 0 || b.MaxFailureRate > 1 || b.MinTasks < 0 || b.MaxConsecutive < 0 {
		return nil, 0, fmt.Errorf("enqueue: breaker %+v: the failure rate is a share from 0 to 1, the counts 0 or more", b)
	}
	p := g.Plan
	params := store.RunInsertParams{Kind: opts.Kind, Selection: p.Request.Selection, Partitions: p.Request.Partitions,
		Reprocess: string(p.Request.Reprocess), CreatedBy: opts.CreatedBy, CreatedAt: opts.Now, Priority: opts.Priority,
		Order: string(order), Pool: opts.Pool, Throttle: opts.Throttle, Breaker: opts.Breaker, Ticks: opts.Ticks, Sensor: opts.Sensor}
	summary, err := json.Marshal(g.Plan.Summarize()) // plan.ParseSummary reads it back
	if err != nil {
		return nil, 0, fmt.Errorf("enqueue: plan summary: %w", err)
	}
	params.Plan = string(summary)
	for _, a := range p.Assets {
		params.Assets = append(params.Assets, a.Asset.Key)
	}
	nAssets := int64(len(p.Assets))
	params.Tasks = func(yield func(store.TaskInsertParams) bool) {
		for i, t := range g.Tasks {
			a := p.Assets[t.Asset]
			// Ready downstream tasks lease first, then the oldest (or
			// newest) partitions: a partition's chain finishes before new
			// ones start, so results arrive early and few partitions are
			// half done when a run stops.
			first, assetEnd := g.AssetTasks(t.Asset)
			pos := int64(i - first)
			if order == NewestFirst {
				pos = int64(assetEnd - 1 - i) // tasks of an asset are in partition order
			}
			tp := store.TaskInsertParams{Asset: a.Asset.Key, PartitionFirst: a.Def.Key(t.Range.Lo), PartitionLast: a.Def.Key(t.Range.Hi - 1),
				PartitionCount: t.Range.Len(), MaxAttempts: a.Asset.Retry.Attempts(), Pool: a.Asset.PoolName(),
				Rank: (nAssets-1-int64(t.Asset))<<40 + pos, Waiting: len(g.Deps(i)), Dependents: g.Dependents(i), WaitsFor: g.External(i)}
			if !yield(tp) {
				return
			}
		}
	}
	return st.RunInsert(ctx, params)
}
