package scheduler

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/weir-dev/weir/internal/urlredact"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
)

// taskInfo is a leased task resolved against this worker's definitions.
type taskInfo struct {
	asset *pipelines.Asset
	def   partitions.Definition
	rng   partitions.Range
	keys  []string
	deps  []plan.DepPlan
}

// resolve finds a task's asset, partitions and deps in the worker's graph.
func (w *Worker) resolve(ctx context.Context, t *store.Task) (*taskInfo, error) {
	defs := w.Graph
	a, err := defs.Asset(t.Asset)
	if err != nil {
		return nil, pipelines.Permanent(fmt.Errorf("this worker's binary does not define the task's asset: %w", err))
	}
	def, err := plan.BindDefinition(ctx, w.Store, a)
	if err != nil {
		return nil, err
	}
	lo, err1 := def.Index(t.PartitionFirst)
	hi, err2 := def.Index(t.PartitionLast)
	if err := errors.Join(err1, err2); err != nil || hi-lo+1 != t.PartitionCount {
		return nil, pipelines.Permanent(fmt.Errorf("task partitions %s...%s (%d) no longer fit %s's partitions %s: %v",
			t.PartitionFirst, t.PartitionLast, t.PartitionCount, a.Key, def, err))
	}
	ti := &taskInfo{asset: a, def: def, rng: partitions.Range{Lo: lo, Hi: hi + 1}}
	ti.keys = partitions.Keys(def, partitions.Span(lo, hi+1))
	for _, d := range a.Deps {
		up, _ := defs.Asset(d.Asset)
		upDef, err := plan.BindDefinition(ctx, w.Store, up)
		if err != nil {
			return nil, err
		}
		ti.deps = append(ti.deps, plan.DepPlan{Asset: d.Asset, Def: upDef, Mapping: defs.Mapping(a.Key, d.Asset)})
	}
	return ti, nil
}

// runTask runs one leased attempt and records how it ended. A task in its
// compute phase computes and stages its output, then goes on to its verify
// phase (a new attempt, fenced by a new token) in the same goroutine; a task
// leased in its verify phase (its first verifier died, or verification hit
// a passing error) only verifies and promotes what was staged.
func (w *Worker) runTask(ctx context.Context, t *store.Task) {
	// Bookkeeping must land even while the task is being interrupted.
	bg := context.WithoutCancel(ctx)
	started := w.Clock.Now()
	w.emit(taskEvent(EventStarted, t))
	cur := t // the attempt the task is in now
	ti, err := w.resolve(ctx, t)
	if err == nil && t.Phase != store.PhaseVerify {
		cur, err = w.computePhase(ctx, t, ti)
	}
	var done verified
	if err == nil {
		if done, err = w.verifyPhase(ctx, cur, ti); err != nil {
			w.recordFailedAttempt(bg, cur, err)
		}
	}
	finished := w.Clock.Now()
	ev := taskEvent(EventSucceeded, cur)
	ev.Duration, ev.Err = finished.Sub(started), err
	if err == nil {
		ev.Bytes = done.bytes
		w.emit(ev)
		if done.runEnded != "" {
			w.runEnded(bg, cur.RunID, done.runEnded, finished)
		}
		return
	}
	cause := context.Cause(ctx)
	switch {
	case errors.Is(err, store.ErrLeaseLost) || errors.Is(cause, store.ErrLeaseLost):
		ev.Kind = EventLeaseLost
		w.emit(ev)
		return
	case ctx.Err() != nil:
		// Interrupted (the worker is stopping), not broken: give it back.
		ev.Kind = EventReleased
		if rerr := w.Store.TaskRelease(bg, store.TaskReleaseParams{ID: cur.ID, LeaseToken: cur.LeaseToken, Reason: "released: " + cause.Error(), At: finished}); rerr != nil && !errors.Is(rerr, store.ErrLeaseLost) {
			w.Logger.Error("release task", "task", cur.ID, "error", rerr)
		}
		w.emit(ev)
		return
	}
	fin := store.TaskFinishParams{ID: cur.ID, LeaseToken: cur.LeaseToken, State: store.TaskFailed, Error: urlredact.Text(err.Error()), At: finished}
	if cur.Attempt < cur.MaxAttempts && !pipelines.IsPermanent(err) {
		policy := pipelines.RetryPolicy{} // resolving failed: default backoff
		if ti != nil {
			policy = ti.asset.Retry
		}
		ev.Kind, ev.RetryIn = EventRetrying, policy.Backoff(cur.Attempt, w.jitter())
		fin.State, fin.NotBefore = store.TaskPending, finished.Add(ev.RetryIn)
	} else {
		ev.Kind = EventFailed
	}
	r, ferr := w.commits.finish.do(fin)
	if ferr == nil {
		ferr = r.Err
	}
	res := r.Result
	if ferr != nil {
		if errors.Is(ferr, store.ErrLeaseLost) {
			ev.Kind = EventLeaseLost
		} else {
			w.Logger.Error("finish task", "task", cur.ID, "error", ferr)
		}
		w.emit(ev)
		return
	}
	w.emit(ev)
	if fin.State == store.TaskFailed {
		cause := store.FailWork
		if cf := (*verify.CheckFailure)(nil); errors.As(err, &cf) {
			cause = store.FailCheck
		}
		w.recordFailure(bg, res, cause)
	}
	if res != nil && res.RunFinished {
		w.runEnded(bg, cur.RunID, res.RunStatus, finished)
	}
}

// runEnded emits EventRunEnded for a run this process saw end, with its
// status ("": as the store has it) and how long it took from its creation.
func (w *Worker) runEnded(ctx context.Context, runID int64, status store.RunStatus, at time.Time) {
	if w.OnEvent == nil {
		return
	}
	ev := Event{Kind: EventRunEnded, RunID: runID, RunStatus: status}
	if run, err := w.Store.RunGet(ctx, runID); err == nil {
		ev.RunKind, ev.Duration = run.Kind, at.Sub(run.CreatedAt)
		if ev.RunStatus == "" {
			ev.RunStatus = run.Status
		}
	}
	w.emit(ev)
}

// staged is what a compute phase wrote, kept on the task (JSON) for the
// verify phase, which may run on another worker.
type staged struct {
	Version    string            `json:"version"`
	Started    time.Time         `json:"started"`
	Partitions []stagedPartition `json:"partitions"`
}

type stagedPartition struct {
	Key            string        `json:"key"`
	ManifestSHA256 string        `json:"manifest_sha256"`
	Files          int           `json:"files"`
	Bytes          int64         `json:"bytes"`
	Inputs         []store.Input `json:"inputs,omitempty"`
}

// StagedVersion returns the version a task in its verify phase staged and
// has not promoted yet; ok is false for other tasks.
func StagedVersion(t *store.Task) (version string, ok bool) {
	if t.Phase != store.PhaseVerify || t.State == store.TaskSucceeded {
		return "", false
	}
	var st staged
	if json.Unmarshal([]byte(t.Staged), &st) != nil || st.Version == "" {
		return "", false
	}
	return st.Version, true
}

// computePhase computes a task into a new version under its own prefix,
// writes each partition's manifest (checksums taken as the bytes streamed
// out), and stages it: the task moves to its verify phase, as a new attempt
// leased to this worker, which it returns.
func (w *Worker) computePhase(ctx context.Context, t *store.Task, ti *taskInfo) (_ *store.Task, err error) {
	a := ti.asset
	started := w.Clock.Now()
	inputs, reads, err := w.inputs(ctx, ti, started)
	if err != nil {
		return t, err
	}
	// The store chose the version when it leased the attempt and recorded
	// it first: garbage collection finds every prefix from the store.
	version := t.Version
	if version == "" {
		return t, pipelines.Permanent(fmt.Errorf("task %d attempt %d was leased without a version id: the state store predates this weir (migration 19)", t.ID, t.Attempt))
	}
	stage := verify.NewStage(w.Bucket, a.Key, version, ti.keys)
	task := pipelines.NewTask(a, ti.keys, ti.rng, inputs, stage)
	task.RunID, task.Attempt = t.RunID, t.Attempt
	var logged func(error)
	task.Logger, logged = w.captureLog(ctx, t, w.taskLogger(t, ti))
	defer func() { logged(err) }()

	cctx, cancel := ctx, context.CancelFunc(func() {})
	if a.Timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, a.Timeout)
	}
	err = compute(cctx, a.Compute, task)
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	if err != nil {
		if timedOut {
			return t, fmt.Errorf("compute timed out after %s: %w", a.Timeout, err)
		}
		if bad := corruptInput(err, inputs); bad != nil {
			return t, pipelines.Permanent(fmt.Errorf("compute: corrupt input, not retried: %w", bad))
		}
		return t, fmt.Errorf("compute: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return t, err
	}
	sealed, err := stage.Commit(ctx)
	if err != nil {
		return t, fmt.Errorf("stage: %w", err)
	}
	out := staged{Version: version, Started: started.UTC()}
	for k, s := range sealed {
		out.Partitions = append(out.Partitions, stagedPartition{Key: s.Key, ManifestSHA256: s.ManifestSHA256, Files: len(s.Manifest.Files),
			Bytes: s.Manifest.Bytes(), Inputs: reads(ti.rng.Lo + int64(k))})
	}
	data, err := json.Marshal(out)
	if err != nil {
		return t, err
	}
	w.setStaging(t.ID, true, nil)
	r, err := w.commits.stage.do(store.TaskStageParams{ID: t.ID, LeaseToken: t.LeaseToken, Staged: string(data), At: w.Clock.Now(), LeaseFor: w.LeaseTimeout})
	if err == nil {
		err = r.Err
	}
	v := r.Task
	if err != nil {
		w.setStaging(t.ID, false, nil)
		return t, err
	}
	w.setStaging(t.ID, false, v) // heartbeat the verify attempt's lease from now on
	w.emit(taskEvent(EventStaged, t))
	return v, nil
}

// setStaging marks a held task as moving to its verify attempt (on), or
// done moving, with the attempt it holds now (v, if not nil).
func (w *Worker) setStaging(id int64, on bool, v *store.Task) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h, ok := w.held[id]; ok {
		h.staging = on
		if v != nil {
			h.task = v
		}
	}
}

func (w *Worker) taskLogger(t *store.Task, ti *taskInfo) *slog.Logger {
	return w.Logger.With("run", t.RunID, "task", t.ID, "asset", ti.asset.Key, "partitions", partitions.FormatRange(ti.def, ti.rng), "attempt", t.Attempt)
}

// verifyPhase re-reads the staged version from the bucket against its
// manifests, runs the asset's checks on it, and promotes it fenced by the
// attempt's lease token (which also ends the task), then publishes the
// pointers. Bytes that are not the staged bytes, and failing blocking
// checks, fail the task for good (a retry computes again); other errors
// (the bucket timing out, say) retry the verification alone.
// verified is what a verify phase that promoted did: the bytes it
// promoted, and the run's status when this task was its last.
type verified struct {
	bytes    int64
	runEnded store.RunStatus
}

func (w *Worker) verifyPhase(ctx context.Context, t *store.Task, ti *taskInfo) (done verified, err error) {
	a := ti.asset
	var st staged
	if err := json.Unmarshal([]byte(t.Staged), &st); err != nil {
		return done, pipelines.Permanent(fmt.Errorf("task %d's staged output record is unreadable: %w", t.ID, err))
	}
	parts := make([]verify.PartitionVersion, len(st.Partitions))
	for i, p := range st.Partitions {
		parts[i] = verify.PartitionVersion{Key: p.Key, Version: st.Version, ManifestSHA256: p.ManifestSHA256}
	}
	version, verr := verify.Verify(ctx, w.Bucket, a.Key, st.Version, parts)
	var ce *verify.ChecksumError
	switch {
	case errors.As(verr, &ce) || errors.Is(verr, verify.ErrMissing):
		return done, pipelines.Permanent(fmt.Errorf("verify: %w", verr))
	case verr != nil:
		return done, fmt.Errorf("verify: %w", verr)
	}
	results, err := verify.RunChecks(ctx, a.Checks, version)
	if len(results) > 0 {
		logger := w.taskLogger(t, ti)
		rows := make([]store.CheckResult, len(results))
		for i, c := range results {
			if !c.Passed && c.Warn {
				logger.Warn("check failed (warning only)", "check", c.Name, "error", c.Error)
			}
			rows[i] = store.CheckResult{Asset: a.Key, Partitions: partitions.FormatRange(ti.def, ti.rng), RunID: t.RunID, TaskID: t.ID,
				Attempt: t.Attempt, Name: c.Name, Warn: c.Warn, Passed: c.Passed, Value: c.Value, Error: c.Error, CheckedAt: w.Clock.Now()}
		}
		if _, rerr := w.commits.checks.do(rows); rerr != nil {
			return done, rerr
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return done, err
		}
		return done, pipelines.Permanent(err)
	}
	promoted := w.Clock.Now()
	pp := store.MaterializationPromoteParams{TaskID: t.ID, LeaseToken: t.LeaseToken, RunID: t.RunID, Attempt: t.Attempt, Asset: a.Key,
		CodeVersion: a.CodeVersion, StartedAt: st.Started, PromotedAt: promoted}
	for _, p := range st.Partitions {
		pp.Partitions = append(pp.Partitions, store.PromotedPartition{Key: p.Key, Version: st.Version, ManifestSHA256: p.ManifestSHA256,
			Files: p.Files, Bytes: p.Bytes, Inputs: p.Inputs})
		done.bytes += p.Bytes
	}
	r, err := w.commits.promote.do(pp)
	if err != nil || r.Err != nil {
		return verified{}, cmp.Or(err, r.Err)
	}
	if r.Result != nil && r.Result.RunFinished {
		done.runEnded = r.Result.RunStatus
	}
	// The store is the source of truth from here on; the pointers are for
	// readers outside weir. A failed write is logged, not retried as a new
	// attempt: the partition is promoted.
	ptrs := make([]verify.Pointer, len(st.Partitions))
	for i, p := range st.Partitions {
		ptrs[i] = verify.Pointer{Asset: a.Key, Partition: p.Key, Version: st.Version, ManifestSHA256: p.ManifestSHA256, PromotedAt: promoted.UTC()}
	}
	errs, err := w.commits.publish.do(ptrs)
	for i, perr := range errs {
		if perr != nil {
			w.Logger.Error("publish pointer", "asset", a.Key, "partition", ptrs[i].Partition, "error", perr)
		}
	}
	if err != nil {
		w.Logger.Error("publish pointers", "asset", a.Key, "error", err)
	}
	return done, nil
}

// inputs opens the current versions of the upstream partitions the task
// reads. reads returns, for one partition index, the versions it read, for
// runtime lineage.
func (w *Worker) inputs(ctx context.Context, ti *taskInfo, now time.Time) ([]pipelines.Input, func(int64) []store.Input, error) {
	type depVersions struct {
		dep   plan.DepPlan
		byKey map[string]verify.PartitionVersion
		all   []store.Input
	}
	var ins []pipelines.Input
	var deps []depVersions
	span := partitions.Span(ti.rng.Lo, ti.rng.Hi)
	for _, dep := range ti.deps {
		need, err := dep.Mapping.Upstream(ti.def, dep.Def, span, now)
		if err != nil {
			return nil, nil, pipelines.Permanent(fmt.Errorf("dep %q: %w", dep.Asset, err))
		}
		keys := partitions.Keys(dep.Def, need)
		cur, err := w.Store.PartitionCurrentList(ctx, dep.Asset, keys)
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
		ins = append(ins, verify.NewInput(w.Bucket, dep.Asset, versions))
		deps = append(deps, dv)
	}
	reads := func(idx int64) []store.Input {
		var out []store.Input
		for _, dv := range deps {
			if ti.rng.Len() == 1 {
				out = append(out, dv.all...)
				continue
			}
			need, err := dv.dep.Mapping.Upstream(ti.def, dv.dep.Def, partitions.Of(idx), now)
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

// corruptInput returns the integrity failure behind a compute's error: a
// checksum mismatch or missing file in err's chain, or one an input met
// (the compute may have lost the error's type, passing it through DuckDB,
// say). Bytes that are wrong stay wrong: retrying cannot help.
func corruptInput(err error, inputs []pipelines.Input) error {
	var ce *verify.ChecksumError
	if errors.As(err, &ce) {
		return ce
	}
	for _, in := range inputs {
		if c, ok := in.(interface{ Corrupt() error }); ok {
			if bad := c.Corrupt(); bad != nil {
				return bad
			}
		}
	}
	return nil
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
