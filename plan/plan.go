package plan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/store"
)

// Reprocess says which requested partitions run again.
type Reprocess string

// Reprocess policies.
const (
	// ReprocessMissing runs partitions that were never materialized.
	ReprocessMissing Reprocess = "missing"
	// ReprocessFailed runs partitions whose last attempt failed.
	ReprocessFailed Reprocess = "failed"
	// ReprocessAll runs every requested partition.
	ReprocessAll Reprocess = "all"
	// ReprocessStale runs the requested partitions that are stale (see
	// Staleness), those below stale ones included.
	ReprocessStale Reprocess = "stale"
)

// ParseReprocess checks a policy name.
func ParseReprocess(s string) (Reprocess, error) {
	switch r := Reprocess(s); r {
	case ReprocessMissing, ReprocessFailed, ReprocessAll, ReprocessStale:
		return r, nil
	case "":
		return ReprocessMissing, nil
	}
	return "", fmt.Errorf("reprocess policy %q is not one of missing, failed, stale, all", s)
}

// Request is what to make fresh.
type Request struct {
	// Selection is a selection expression (see lineage.Graph.Select).
	Selection string
	// Partitions is the compact partition form ("2024-01-01...2024-01-31",
	// "2024-01-05", "a,b"), parsed with each selected asset's definition.
	// Required when a selected asset is partitioned; unpartitioned assets
	// ignore it.
	Partitions string
	// Reprocess defaults to ReprocessMissing.
	Reprocess Reprocess
}

// StatusReader is the part of the state store the planner reads.
type StatusReader interface {
	PartitionStateChanges(ctx context.Context, asset string, since int64, fn func(*store.PartitionState) error) (int64, error)
	StatusSummaryGet(ctx context.Context, asset string) (*store.StatusSummary, error)
	StatusSummaryPut(ctx context.Context, sums ...store.StatusSummary) error
	DynamicPartitionList(ctx context.Context, name string) ([]string, error)
	TaskActiveList(ctx context.Context, asset string) ([]store.ActiveTask, error)
	TaskActiveRuns(ctx context.Context, assets []string) ([]store.ActiveRun, error)
	TaskSpanList(ctx context.Context, firstID, lastID int64) ([]store.ActiveTask, error)
}

// Planner plans runs.
type Planner struct {
	Graph  *lineage.Graph
	Status StatusReader
}

// Plan is the work a request needs, per asset, as interval sets.
type Plan struct {
	// Graph is the asset graph the plan was made from.
	Graph   *lineage.Graph
	Request Request
	// Now is the time the plan resolved open-ended partitions at.
	Now time.Time
	// Assets are the selected assets in topological order.
	Assets []*AssetPlan
}

// AssetPlan is the plan for one asset.
type AssetPlan struct {
	Asset *pipelines.Asset
	// Def is the asset's partitions definition, dynamic keys bound.
	Def partitions.Definition
	// Requested are the partitions the request names.
	Requested partitions.Subset
	// Materialized and Failed are the asset's status before the run.
	Materialized, Failed partitions.Subset
	// InFlight are requested partitions already queued or running in
	// another run: not queued twice.
	InFlight partitions.Subset
	// InFlightRuns are the runs holding them.
	InFlightRuns []int64
	// ToRun are the partitions the run computes; Requested minus ToRun is
	// skipped as fresh or in flight.
	ToRun partitions.Subset
	// Deps are the asset's dependencies.
	Deps []DepPlan
	// Why says, with ReprocessStale, why the partitions to run are stale:
	// each reason with the partitions of ToRun it covers.
	Why []StaleReason
}

// Kept returns the requested partitions the reprocess policy leaves as they
// are: neither run here nor queued in another run. Under ReprocessMissing
// each has a current version (fresh or stale: the plan does not read
// staleness for it); under the other policies some may have none
// (KeptMissing).
func (a *AssetPlan) Kept() partitions.Subset {
	return a.Requested.Difference(a.ToRun).Difference(a.InFlight)
}

// KeptMissing returns the kept partitions that have no current version.
func (a *AssetPlan) KeptMissing() partitions.Subset { return a.Kept().Difference(a.Materialized) }

// DepPlan is one dependency of a planned asset.
type DepPlan struct {
	Asset   string
	Def     partitions.Definition
	Mapping partitions.Mapping
	// Planned is the upstream's plan when it is selected too, else nil.
	Planned *AssetPlan
	// Active are the upstream's tasks queued or running in other runs
	// over partitions the asset's planned tasks read: what they wait for.
	Active []ActiveTask
}

// ActiveTask is a task of another run, pending or running, over a range
// of an asset's partitions.
type ActiveTask struct {
	ID    int64
	RunID int64
	Range partitions.Range
}

// TaskCount returns the number of tasks the plan expands to.
func (p *Plan) TaskCount() int64 {
	var n int64
	for _, a := range p.Assets {
		n += a.TaskCount()
	}
	return n
}

// TaskCount returns the number of tasks the asset's partitions to run
// expand to: each range in chunks of MaxPartitionsPerRun.
func (a *AssetPlan) TaskCount() int64 {
	per := a.Asset.PartitionsPerRun()
	var n int64
	for _, r := range a.ToRun.Ranges() {
		n += (r.Len() + per - 1) / per
	}
	return n
}

// Empty reports whether nothing needs to run.
func (p *Plan) Empty() bool { return p.TaskCount() == 0 }

// MissingUpstreamError reports upstream partitions a plan needs that are
// neither materialized, nor planned, nor queued in another run.
type MissingUpstreamError struct {
	Asset, Upstream string
	Partitions      string // compact form
	Count           int64
}

func (e *MissingUpstreamError) Error() string {
	return fmt.Sprintf("asset %q reads %d partitions of %q that are neither materialized nor selected (%s); select them too, e.g. --select +%s",
		e.Asset, e.Count, e.Upstream, e.Partitions, e.Asset)
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}

// InFlight reads the tasks of an asset that are pending or running in any
// run, ordered by partition, with the partitions they cover and their runs.
func InFlight(ctx context.Context, r StatusReader, asset string, def partitions.Definition) (partitions.Subset, []int64, []ActiveTask, error) {
	tasks, err := r.TaskActiveList(ctx, asset)
	if err != nil {
		return partitions.Subset{}, nil, nil, err
	}
	var b partitions.Builder
	var runs []int64
	active := make([]ActiveTask, 0, len(tasks))
	for _, t := range tasks {
		lo, err1 := def.Index(t.PartitionFirst)
		hi, err2 := def.Index(t.PartitionLast)
		if err1 != nil || err2 != nil {
			continue
		}
		r := partitions.Range{Lo: lo, Hi: hi + 1}
		b.AddRange(r)
		active = append(active, ActiveTask{ID: t.ID, RunID: t.RunID, Range: r})
		runs = append(runs, t.RunID)
	}
	slices.SortFunc(active, func(a, b ActiveTask) int { return cmp.Compare(a.Range.Lo, b.Range.Lo) })
	slices.Sort(runs)
	return b.Subset(), slices.Compact(runs), active, nil
}

// Plan resolves req at now.
func (pl *Planner) Plan(ctx context.Context, req Request, now time.Time) (*Plan, error) {
	reprocess, err := ParseReprocess(string(req.Reprocess))
	if err != nil {
		return nil, err
	}
	req.Reprocess = reprocess
	keys, err := pl.Graph.Select(req.Selection)
	if err != nil {
		return nil, err
	}
	defs := pl.Graph
	plan := &Plan{Graph: pl.Graph, Request: req, Now: now}
	var stale map[string]*Stale
	var statuses map[string]AssetStatus // read by staleness (or statusOf below), not read again
	if reprocess == ReprocessStale {
		sr, ok := pl.Status.(StaleReader)
		if !ok {
			return nil, fmt.Errorf("reprocess stale: the status reader (%T) cannot say what is stale", pl.Status)
		}
		only, err := ancestors(pl.Graph, keys)
		if err != nil {
			return nil, err
		}
		if stale, statuses, err = staleness(ctx, sr, pl.Graph, now, only); err != nil {
			return nil, err
		}
	}
	byKey := map[string]*AssetPlan{}
	held := &flights{r: pl.Status} // what other runs hold, read once per asset
	var kept summaries             // the status summaries its reads make, kept at the end
	defer kept.put(ctx, pl.Status)
	if statuses == nil {
		statuses = map[string]AssetStatus{}
	}
	// statusOf reads an asset's status once: a selected asset and the
	// upstream several of them read.
	statusOf := func(key string, def partitions.Definition) (AssetStatus, error) {
		if st, ok := statuses[key]; ok {
			return st, nil
		}
		st, err := kept.read(ctx, pl.Status, key, def)
		if err == nil {
			statuses[key] = st
		}
		return st, err
	}
	bound := map[string]partitions.Definition{}
	bind := func(a *pipelines.Asset) (partitions.Definition, error) {
		if d, ok := bound[a.Key]; ok {
			return d, nil
		}
		d, err := BindDefinition(ctx, pl.Status, a)
		if err != nil {
			return nil, err
		}
		bound[a.Key] = d
		return d, nil
	}
	for _, key := range keys {
		a, _ := defs.Asset(key)
		def, err := bind(a)
		if err != nil {
			return nil, err
		}
		ap := &AssetPlan{Asset: a, Def: def}
		if partitions.IsUnpartitioned(def) {
			ap.Requested = partitions.Span(0, 1)
		} else if req.Partitions == "" {
			return nil, fmt.Errorf("asset %q is partitioned (%s); name partitions, e.g. --partition-range %s",
				key, def, partitions.ExampleRange(def, now))
		} else if ap.Requested, err = partitions.Parse(def, req.Partitions, now); err != nil {
			return nil, fmt.Errorf("asset %q: %w", key, err)
		}
		st, err := statusOf(key, def)
		if err != nil {
			return nil, err
		}
		ap.Materialized, ap.Failed = st.Materialized, st.Failed
		switch reprocess {
		case ReprocessMissing:
			ap.ToRun = ap.Requested.Difference(ap.Materialized)
		case ReprocessFailed:
			ap.ToRun = ap.Requested.Intersect(ap.Failed)
		case ReprocessAll:
			ap.ToRun = ap.Requested
		case ReprocessStale:
			ap.ToRun = ap.Requested.Intersect(stale[key].All)
		}
		if reprocess == ReprocessStale {
			for _, why := range stale[key].Reasons {
				if in := why.Partitions.Intersect(ap.ToRun); !in.IsEmpty() {
					ap.Why = append(ap.Why, StaleReason{Why: why.Why, Partitions: in})
				}
			}
		}
		f, err := held.of(ctx, key, def)
		if err != nil {
			return nil, err
		}
		ap.InFlight = ap.ToRun.Intersect(f.inFlight)
		if !ap.InFlight.IsEmpty() {
			ap.InFlightRuns = f.runs
			ap.ToRun = ap.ToRun.Difference(f.inFlight)
		}
		plan.Assets = append(plan.Assets, ap)
		byKey[key] = ap
	}
	// Every upstream partition that a planned partition reads must be
	// materialized already, computed in this run, or queued in another
	// run (the reading task then waits for that run's task).
	var errs []error
	for _, ap := range plan.Assets {
		for _, dep := range ap.Asset.Deps {
			up, _ := defs.Asset(dep.Asset)
			upDef, err := bind(up)
			if err != nil {
				return nil, err
			}
			dp := DepPlan{Asset: dep.Asset, Def: upDef, Mapping: defs.Mapping(ap.Asset.Key, dep.Asset), Planned: byKey[dep.Asset]}
			if ap.ToRun.IsEmpty() {
				ap.Deps = append(ap.Deps, dp)
				continue
			}
			need, err := dp.Mapping.Upstream(ap.Def, upDef, ap.ToRun, now)
			if err != nil {
				return nil, fmt.Errorf("asset %q: dep %q: %w", ap.Asset.Key, dep.Asset, err)
			}
			var have partitions.Subset
			if dp.Planned != nil {
				have = dp.Planned.Materialized.Union(dp.Planned.ToRun)
			} else {
				st, err := statusOf(dep.Asset, upDef)
				if err != nil {
					return nil, err
				}
				have = st.Materialized
			}
			f, err := held.of(ctx, dep.Asset, upDef)
			if err != nil {
				return nil, err
			}
			// The tasks of other runs this asset's tasks wait for: only
			// those over partitions they read.
			if dp.Active, err = f.tasks(ctx, pl.Status, need); err != nil {
				return nil, err
			}
			queued := f.inFlight
			ap.Deps = append(ap.Deps, dp)
			if missing := need.Difference(have.Union(queued)); !missing.IsEmpty() {
				errs = append(errs, &MissingUpstreamError{Asset: ap.Asset.Key, Upstream: dep.Asset, Partitions: partitions.Format(upDef, missing), Count: missing.Len()})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return plan, nil
}

// AssetStatus is an asset's partition status as interval sets.
type AssetStatus struct {
	// Def is the asset's definition with dynamic keys bound.
	Def partitions.Definition
	// Materialized have a current version; Failed failed last, Blocked
	// (a part of Failed) because a blocking check refused the output.
	Materialized, Failed, Blocked partitions.Subset
	// ByCode are the materialized partitions by the code version that
	// made their current version.
	ByCode map[string]partitions.Subset
	// VerifyFailed are the partitions whose current version failed
	// verification; InputStale those whose current version read a
	// partition that has another current version now.
	VerifyFailed, InputStale partitions.Subset
}

// BindDefinition returns a's partitions definition with its dynamic keys
// read from r.
func BindDefinition(ctx context.Context, r StatusReader, a *pipelines.Asset) (partitions.Definition, error) {
	d, err := partitions.Bind(a.PartitionsDef(), func(name string) ([]string, error) { return r.DynamicPartitionList(ctx, name) })
	if err != nil {
		return nil, fmt.Errorf("asset %q: %w", a.Key, err)
	}
	return d, nil
}

// Summary describes the plan in one line per asset, for dry runs and logs.
func (p *Plan) Summary() string {
	var b strings.Builder
	for _, a := range p.Assets {
		fmt.Fprintf(&b, "%s: run %s, keep %d", a.Asset.Key, partitions.Format(a.Def, a.ToRun), a.Kept().Len())
		if !a.InFlight.IsEmpty() {
			fmt.Fprintf(&b, " and %d queued in run %s", a.InFlight.Len(), joinIDs(a.InFlightRuns))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
