package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// EagerCursor names the store cursor eager automation reads promotions
// past.
const EagerCursor = "eager"

// maxPromotions caps the promotions one eager evaluation reads; the rest
// wait for the next.
const maxPromotions = 10_000

// EvaluateEager starts runs of the eager assets (pipelines.Asset.Eager)
// for their partitions that read partitions promoted since the last
// evaluation, once every partition they read is promoted: one run per
// asset per evaluation, over all its partitions the promotions touched.
// The first evaluation on a store starts from the newest promotion: the
// past is not an event. Only the leading daemon should call it (Evaluate
// and Run do).
func (d *Daemon) EvaluateEager(ctx context.Context) ([]Fired, error) {
	if err := d.defaults(); err != nil {
		return nil, err
	}
	var eager []*pipelines.Asset
	for _, a := range d.Graph.Assets() {
		if a.Eager {
			eager = append(eager, a)
		}
	}
	if len(eager) == 0 {
		return nil, nil
	}
	cur, ok, err := d.Store.CursorGet(ctx, EagerCursor)
	if err != nil {
		return nil, err
	}
	if !ok {
		newest, err := d.Store.MaterializationList(ctx, store.MaterializationListParams{Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(newest) > 0 {
			cur = newest[0].ID
		}
		return nil, d.Store.CursorSet(ctx, EagerCursor, cur)
	}
	mats, err := d.Store.MaterializationList(ctx, store.MaterializationListParams{AfterID: cur, Limit: maxPromotions})
	if err != nil || len(mats) == 0 {
		return nil, err
	}
	promoted := map[string][]string{}
	for _, m := range mats {
		promoted[m.Asset] = append(promoted[m.Asset], m.PartitionKey)
	}
	now := d.Clock.Now()
	var out []Fired
	for _, a := range eager {
		f, err := d.eager(ctx, a, promoted, now)
		if err != nil {
			return out, fmt.Errorf("eager %s: %w", a.Key, err)
		}
		if f != nil {
			out = append(out, *f)
		}
	}
	return out, d.Store.CursorSet(ctx, EagerCursor, mats[len(mats)-1].ID)
}

// eager starts the run of one eager asset, if the promotions touched it.
func (d *Daemon) eager(ctx context.Context, a *pipelines.Asset, promoted map[string][]string, now time.Time) (*Fired, error) {
	def, err := plan.BindDefinition(ctx, d.Store, a)
	if err != nil {
		return nil, err
	}
	type dep struct {
		m   partitions.Mapping
		def partitions.Definition
		key string
	}
	var deps []dep
	var touched partitions.Subset
	for _, dp := range a.Deps {
		up, err := d.Graph.Asset(dp.Asset)
		if err != nil {
			return nil, err
		}
		upDef, err := plan.BindDefinition(ctx, d.Store, up)
		if err != nil {
			return nil, err
		}
		m := d.Graph.Mapping(a.Key, dp.Asset)
		deps = append(deps, dep{m, upDef, dp.Asset})
		var b partitions.Builder
		for _, k := range promoted[dp.Asset] {
			if i, err := upDef.Index(k); err == nil {
				b.Add(i)
			}
		}
		down, err := partitions.Downstream(m, def, upDef, b.Subset(), now)
		if err != nil {
			return nil, err
		}
		touched = touched.Union(down)
	}
	if touched.IsEmpty() {
		return nil, nil
	}
	// Of those, the partitions every upstream partition of which is
	// promoted: one read per dependency.
	ready := touched
	for _, dp := range deps {
		need, err := dp.m.Upstream(def, dp.def, touched, now)
		if err != nil {
			return nil, err
		}
		cur, err := d.Store.PartitionCurrentList(ctx, dp.key, partitions.Keys(dp.def, need))
		if err != nil {
			return nil, err
		}
		var have partitions.Builder
		for _, c := range cur {
			if i, err := dp.def.Index(c.PartitionKey); err == nil {
				have.Add(i)
			}
		}
		present := have.Subset()
		var keep partitions.Builder
		for i := range ready.All() {
			if n, err := dp.m.Upstream(def, dp.def, partitions.Of(i), now); err == nil && present.ContainsAll(n) {
				keep.Add(i)
			}
		}
		ready = keep.Subset()
	}
	f := &Fired{Schedule: "eager " + a.Key, At: now}
	if ready.IsEmpty() {
		return nil, nil
	}
	pl, err := (&plan.Planner{Graph: d.Graph, Status: d.Store}).Plan(ctx, plan.Request{Selection: a.Key, Partitions: partitions.Format(def, ready),
		Reprocess: plan.ReprocessAll}, now)
	if err != nil {
		return nil, err
	}
	if pl.TaskCount() == 0 {
		return nil, nil // all of them queued elsewhere already
	}
	g, err := pl.Expand()
	if err != nil {
		return nil, err
	}
	run, _, err := scheduler.Enqueue(ctx, d.Store, g, scheduler.EnqueueOpts{Kind: "eager", CreatedBy: "eager " + a.Key, Priority: store.PriorityHigh, Now: now})
	if err != nil {
		return nil, err
	}
	f.Run = run
	d.Logger.Info("eager run", "asset", a.Key, "run", run.ID, "partitions", run.Partitions)
	return f, nil
}
