package plan

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/store"
)

// flight is what other runs hold of one asset: the partitions their
// unfinished tasks cover, the runs, and the stretches of consecutive task
// ids those tasks form (store.Store.TaskActiveRuns), read once per plan.
// A plan reads the tasks themselves only where its own tasks read their
// partitions (tasks), so that planning one partition beside a backfill of
// millions of pending tasks reads a few rows, not all of them.
type flight struct {
	def       partitions.Definition
	inFlight  partitions.Subset
	runs      []int64
	stretches []stretch // by partition
	// all holds every unfinished task when the stretches could not be
	// used (a run left partitions out between its tasks): InFlight's read.
	all []ActiveTask
}

// stretch is a run's consecutive unfinished tasks first..last, whose
// partitions are exactly span.
type stretch struct {
	first, last int64
	span        partitions.Range
}

// stretchesOf maps a run's stretches of unfinished tasks of an asset onto
// def, and reports whether they add up to the run's counts (tasks and
// partitions), which makes each stretch's span exactly its tasks'
// partitions: false when the run left partitions out between its tasks,
// or a key is not def's.
func stretchesOf(def partitions.Definition, run store.ActiveRun) ([]stretch, bool) {
	out := make([]stretch, 0, len(run.Stretches))
	var tasks, spanned int64
	for _, st := range run.Stretches {
		lo, err1 := def.Index(st.PartitionFirst)
		hi, err2 := def.Index(st.PartitionLast)
		if err1 != nil || err2 != nil || hi < lo {
			return nil, false
		}
		tasks += st.LastTaskID - st.FirstTaskID + 1
		spanned += hi - lo + 1
		out = append(out, stretch{first: st.FirstTaskID, last: st.LastTaskID, span: partitions.Range{Lo: lo, Hi: hi + 1}})
	}
	return out, tasks == run.Tasks && spanned == run.Partitions
}

// readFlights reads what other runs hold of each asset of defs: the
// stretches of all of them in one statement, then, for an asset whose
// stretches do not add up (see stretchesOf), every unfinished task of it
// (InFlight).
func readFlights(ctx context.Context, r StatusReader, defs map[string]partitions.Definition) (map[string]*flight, error) {
	keys := slices.Sorted(maps.Keys(defs))
	runs, err := r.TaskActiveRuns(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*flight, len(keys))
	exact := make(map[string]bool, len(keys))
	builders := make(map[string]*partitions.Builder, len(keys))
	for _, k := range keys {
		out[k], exact[k], builders[k] = &flight{def: defs[k]}, true, &partitions.Builder{}
	}
	for _, run := range runs {
		f := out[run.Asset]
		if f == nil || !exact[run.Asset] {
			continue
		}
		sts, ok := stretchesOf(f.def, run)
		for _, st := range sts {
			builders[run.Asset].AddRange(st.span)
		}
		f.stretches = append(f.stretches, sts...)
		f.runs = append(f.runs, run.RunID)
		exact[run.Asset] = ok
	}
	for _, k := range keys {
		f := out[k]
		if !exact[k] {
			f.stretches = nil
			if f.inFlight, f.runs, f.all, err = InFlight(ctx, r, k, f.def); err != nil {
				return nil, err
			}
			continue
		}
		slices.SortFunc(f.stretches, func(a, b stretch) int { return cmp.Compare(a.span.Lo, b.span.Lo) })
		slices.Sort(f.runs)
		f.inFlight = builders[k].Subset()
	}
	return out, nil
}

// tasks returns the unfinished tasks that cover a partition of want,
// ordered by partition. In a stretch the tasks that do are found by
// binary search over its ids (each task's partitions follow the previous
// one's), then read in one range.
func (f *flight) tasks(ctx context.Context, r StatusReader, want partitions.Subset) ([]ActiveTask, error) {
	if f.stretches == nil {
		return f.all, nil
	}
	var out []ActiveTask
	for _, s := range f.stretches {
		in := want.Intersect(partitions.Span(s.span.Lo, s.span.Hi))
		if in.IsEmpty() {
			continue
		}
		lo, _ := in.Min()
		hi, _ := in.Max()
		first, err := f.taskOf(ctx, r, s, lo, s.first)
		if err != nil {
			return nil, err
		}
		last, err := f.taskOf(ctx, r, s, hi, s.last)
		if err != nil {
			return nil, err
		}
		got, err := f.read(ctx, r, first, last)
		if err != nil {
			return nil, err
		}
		for _, t := range got {
			if in.Overlaps(t.Range) {
				out = append(out, t)
			}
		}
	}
	slices.SortFunc(out, func(a, b ActiveTask) int { return cmp.Compare(a.Range.Lo, b.Range.Lo) })
	return out, nil
}

// taskOf returns the id of the task of stretch s that covers partition p,
// or orElse (an end of s) if a task it looks at finished since the
// stretches were read: the range read then covers more than needed, never
// less.
func (f *flight) taskOf(ctx context.Context, r StatusReader, s stretch, p, orElse int64) (int64, error) {
	lo, hi := s.first, s.last
	for lo < hi {
		mid := lo + (hi-lo)/2
		got, err := f.read(ctx, r, mid, mid)
		if err != nil {
			return 0, err
		}
		if len(got) != 1 {
			return orElse, nil
		}
		switch rg := got[0].Range; {
		case p < rg.Lo:
			hi = mid - 1
		case p >= rg.Hi:
			lo = mid + 1
		default:
			return mid, nil
		}
	}
	return lo, nil
}

// read returns the unfinished tasks with ids first..last.
func (f *flight) read(ctx context.Context, r StatusReader, first, last int64) ([]ActiveTask, error) {
	tasks, err := r.TaskSpanList(ctx, first, last)
	if err != nil {
		return nil, err
	}
	out := make([]ActiveTask, 0, len(tasks))
	for _, t := range tasks {
		lo, err1 := f.def.Index(t.PartitionFirst)
		hi, err2 := f.def.Index(t.PartitionLast)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, ActiveTask{ID: t.ID, RunID: t.RunID, Range: partitions.Range{Lo: lo, Hi: hi + 1}})
	}
	return out, nil
}

// flights reads each asset's flight once per plan.
type flights struct {
	r    StatusReader
	byID map[string]*flight
}

func (fs *flights) of(ctx context.Context, asset string, def partitions.Definition) (*flight, error) {
	if f, ok := fs.byID[asset]; ok {
		return f, nil
	}
	read, err := readFlights(ctx, fs.r, map[string]partitions.Definition{asset: def})
	if err != nil {
		return nil, err
	}
	f := read[asset]
	if fs.byID == nil {
		fs.byID = map[string]*flight{}
	}
	fs.byID[asset] = f
	return f, nil
}
