package scheduler

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/weir-dev/weir/internal/store"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/verify"
)

// attempt runs attempt number n of task i and records its end.
func (r *runner) attempt(ctx context.Context, i, n int) outcome {
	// Bookkeeping must land even when the run is being cancelled.
	bg := context.WithoutCancel(ctx)
	id := r.first + int64(i)
	started := r.clk.Now()
	token, err := r.e.Store.TaskStart(bg, store.TaskStartParams{ID: id, Worker: r.worker, At: started})
	if err != nil {
		return outcome{task: i, fatal: err}
	}
	err = r.materialize(ctx, i, n, token)
	finished := r.clk.Now()
	o := outcome{task: i, err: err, took: finished.Sub(started)}
	a := r.g.AssetPlan(i).Asset
	fin := store.TaskFinishParams{ID: id, LeaseToken: token, State: store.TaskSucceeded, At: finished}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrLeaseLost):
		// Another attempt owns the task; it records the outcome.
		o.fatal = err
		return o
	case ctx.Err() != nil:
		// Interrupted, not broken: the partition is not marked failed.
		o.cancelled = true
		fin.State, fin.Error = store.TaskCancelled, "cancelled: "+err.Error()
	case n < a.Retry.Attempts() && !pipelines.IsPermanent(err):
		o.retry, o.retryIn = true, a.Retry.Backoff(n, r.jitter())
		fin.State, fin.Error, fin.NotBefore = store.TaskPending, err.Error(), finished.Add(o.retryIn)
	default:
		fin.State, fin.Error = store.TaskFailed, err.Error()
	}
	if ferr := r.e.Store.TaskFinish(bg, fin); ferr != nil {
		o.fatal = ferr
		return o
	}
	if fin.State == store.TaskFailed {
		ferr := r.e.Store.PartitionFail(bg, store.PartitionFailParams{Asset: a.Key, Keys: r.g.Keys(i), RunID: r.runID, Error: fin.Error, At: finished})
		if ferr != nil {
			o.fatal = ferr
		}
	}
	return o
}

// materialize computes task i into a new version, audits it, runs the
// checks and promotes it, fenced by token, then publishes the pointers.
func (r *runner) materialize(ctx context.Context, i, n int, token int64) error {
	ap := r.g.AssetPlan(i)
	a := ap.Asset
	rng := r.g.Tasks[i].Range
	keys := r.g.Keys(i)
	started := r.clk.Now()
	inputs, reads, err := r.inputs(ctx, ap, rng)
	if err != nil {
		return err
	}
	version := verify.NewVersionID(started)
	stage := verify.NewStage(r.e.Bucket, a.Key, version, keys)
	task := pipelines.NewTask(a, keys, rng, inputs, stage)
	task.RunID, task.Attempt = r.runID, n
	task.Logger = r.log.With("asset", a.Key, "partitions", partitions.FormatRange(ap.Def, rng), "attempt", n)

	cctx, cancel := ctx, context.CancelFunc(func() {})
	if a.Timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, a.Timeout)
	}
	err = compute(cctx, a.Compute, task)
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	if err != nil {
		if timedOut {
			return fmt.Errorf("compute timed out after %s: %w", a.Timeout, err)
		}
		return fmt.Errorf("compute: %w", err)
	}
	sealed, err := stage.Seal(ctx)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	results, err := verify.RunChecks(ctx, a.Checks, stage)
	for _, c := range results {
		if !c.Passed && c.Warn {
			task.Logger.Warn("check failed (warning only)", "check", c.Name, "error", c.Error)
		}
	}
	if err != nil {
		return err
	}
	promoted := r.clk.Now()
	pp := store.MaterializationPromoteParams{TaskID: r.first + int64(i), LeaseToken: token, RunID: r.runID, Attempt: n, Asset: a.Key,
		CodeVersion: a.CodeVersion, StartedAt: started, PromotedAt: promoted}
	for k, s := range sealed {
		pp.Partitions = append(pp.Partitions, store.PromotedPartition{Key: s.Key, Version: version, ManifestSHA256: s.ManifestSHA256,
			Files: len(s.Manifest.Files), Bytes: s.Manifest.Bytes(), Inputs: reads(rng.Lo + int64(k))})
	}
	if err := r.e.Store.MaterializationPromote(context.WithoutCancel(ctx), pp); err != nil {
		return err
	}
	for _, s := range sealed {
		ptr := verify.Pointer{Asset: a.Key, Partition: s.Key, Version: version, ManifestSHA256: s.ManifestSHA256, PromotedAt: promoted.UTC()}
		if err := verify.Publish(context.WithoutCancel(ctx), r.e.Bucket, ptr); err != nil {
			return err
		}
	}
	return nil
}

// inputs opens the current versions of the upstream partitions task range
// rng of ap reads. reads returns, for one partition index, the versions it
// read, for runtime lineage.
func (r *runner) inputs(ctx context.Context, ap *AssetPlan, rng partitions.Range) ([]pipelines.Input, func(int64) []store.Input, error) {
	type depVersions struct {
		dep   DepPlan
		byKey map[string]verify.PartitionVersion
		all   []store.Input
	}
	var ins []pipelines.Input
	var deps []depVersions
	for _, dep := range ap.Deps {
		need, err := dep.Mapping.Upstream(ap.Def, dep.Def, partitions.Span(rng.Lo, rng.Hi), r.g.Plan.Now)
		if err != nil {
			return nil, nil, pipelines.Permanent(fmt.Errorf("dep %q: %w", dep.Asset, err))
		}
		keys := partitions.Keys(dep.Def, need)
		cur, err := r.e.Store.PartitionCurrentList(ctx, dep.Asset, keys)
		if err != nil {
			return nil, nil, err
		}
		dv := depVersions{dep: dep, byKey: map[string]verify.PartitionVersion{}}
		for _, c := range cur {
			dv.byKey[c.PartitionKey] = verify.PartitionVersion{Key: c.PartitionKey, Version: c.Version, ManifestSHA256: c.ManifestSHA256}
		}
		versions := make([]verify.PartitionVersion, 0, len(keys))
		for _, k := range keys {
			v, ok := dv.byKey[k]
			if !ok {
				return nil, nil, fmt.Errorf("upstream %s partition %s has no promoted version", dep.Asset, k)
			}
			versions = append(versions, v)
			dv.all = append(dv.all, store.Input{Asset: dep.Asset, PartitionKey: k, Version: v.Version})
		}
		ins = append(ins, verify.NewInput(r.e.Bucket, dep.Asset, versions))
		deps = append(deps, dv)
	}
	reads := func(idx int64) []store.Input {
		var out []store.Input
		for _, dv := range deps {
			if rng.Len() == 1 {
				out = append(out, dv.all...)
				continue
			}
			need, err := dv.dep.Mapping.Upstream(ap.Def, dv.dep.Def, partitions.Of(idx), r.g.Plan.Now)
			if err != nil {
				continue
			}
			for _, k := range partitions.Keys(dv.dep.Def, need) {
				out = append(out, store.Input{Asset: dv.dep.Asset, PartitionKey: k, Version: dv.byKey[k].Version})
			}
		}
		return out
	}
	return ins, reads, nil
}

// compute calls fn, turning a panic into an error with its stack.
func compute(ctx context.Context, fn pipelines.ComputeFunc, t *pipelines.Task) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx, t)
}
