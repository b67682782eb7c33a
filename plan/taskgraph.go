package plan

import (
	"fmt"
	"sort"

	"github.com/weir-dev/weir/partitions"
)

// TaskSpec is one planned task: an asset (index into Plan.Assets) and a
// consecutive range of its partitions.
type TaskSpec struct {
	Asset int32
	Range partitions.Range
}

// TaskGraph is a plan expanded into tasks and their dependencies. Tasks are
// ordered by asset (topologically) and, within an asset, by partition, so
// every task comes after the tasks it depends on. Dependencies are kept in
// compressed sparse rows: no per-edge allocation, 4 bytes an edge.
type TaskGraph struct {
	Plan  *Plan
	Tasks []TaskSpec
	// firstTask[a] is the index of asset a's first task; firstTask[len] = len(Tasks).
	firstTask      []int
	depStart       []int32 // deps of task i: deps[depStart[i]:depStart[i+1]]
	deps           []int32
	dependentStart []int32
	dependents     []int32
	// external tasks (of other runs) task i waits for:
	// external[externalStart[i]:externalStart[i+1]].
	externalStart []int32
	external      []int64
}

// AssetTasks returns the tasks of asset a (an index into Plan.Assets) as
// indexes into Tasks: first up to, not including, end.
func (g *TaskGraph) AssetTasks(a int32) (first, end int) { return g.firstTask[a], g.firstTask[a+1] }

// Expand turns the plan into tasks.
func (p *Plan) Expand() (*TaskGraph, error) {
	n := p.TaskCount()
	if n > 1<<31-1 {
		return nil, fmt.Errorf("plan has %d tasks; at most %d fit one run (raise MaxPartitionsPerRun)", n, 1<<31-1)
	}
	g := &TaskGraph{Plan: p, Tasks: make([]TaskSpec, 0, n), firstTask: make([]int, len(p.Assets)+1)}
	index := map[*AssetPlan]int32{}
	for ai, a := range p.Assets {
		index[a] = int32(ai)
		g.firstTask[ai] = len(g.Tasks)
		for r := range a.ToRun.Chunks(a.Asset.PartitionsPerRun()) {
			g.Tasks = append(g.Tasks, TaskSpec{Asset: int32(ai), Range: r})
		}
	}
	g.firstTask[len(p.Assets)] = len(g.Tasks)

	g.depStart = make([]int32, len(g.Tasks)+1)
	g.deps = make([]int32, 0, len(g.Tasks))
	g.externalStart = make([]int32, len(g.Tasks)+1)
	var one [1]partitions.Range
	for ti, t := range g.Tasks {
		g.depStart[ti] = int32(len(g.deps))
		g.externalStart[ti] = int32(len(g.external))
		a := p.Assets[t.Asset]
		for _, dep := range a.Deps {
			planned := dep.Planned != nil && !dep.Planned.ToRun.IsEmpty()
			if !planned && len(dep.Active) == 0 {
				continue
			}
			var needs []partitions.Range
			if rm, ok := dep.Mapping.(partitions.RangeMapper); ok {
				if need, ok := rm.UpstreamRange(a.Def, dep.Def, t.Range, p.Now); ok {
					one[0] = need
					needs = one[:]
				}
			}
			if needs == nil {
				need, err := dep.Mapping.Upstream(a.Def, dep.Def, partitions.Span(t.Range.Lo, t.Range.Hi), p.Now)
				if err != nil {
					return nil, fmt.Errorf("asset %q: dep %q: %w", a.Asset.Key, dep.Asset, err)
				}
				needs = need.Ranges()
			}
			last := int32(-1)
			for _, r := range needs {
				if planned {
					g.deps = g.appendOverlapping(g.deps, index[dep.Planned], r, last)
					if n := len(g.deps); n > 0 {
						last = g.deps[n-1]
					}
				}
				g.external = appendActive(g.external, dep.Active, r)
			}
		}
	}
	g.depStart[len(g.Tasks)] = int32(len(g.deps))
	g.externalStart[len(g.Tasks)] = int32(len(g.external))
	g.buildDependents()
	return g, nil
}

// appendOverlapping appends the tasks of asset ai whose ranges overlap r,
// leaving out last (the task appended for the previous range).
func (g *TaskGraph) appendOverlapping(out []int32, ai int32, r partitions.Range, last int32) []int32 {
	lo, hi := g.firstTask[ai], g.firstTask[ai+1]
	tasks := g.Tasks[lo:hi]
	k := sort.Search(len(tasks), func(k int) bool { return tasks[k].Range.Hi > r.Lo })
	for ; k < len(tasks) && tasks[k].Range.Lo < r.Hi; k++ {
		if id := int32(lo + k); id != last {
			out = append(out, id)
		}
	}
	return out
}

// appendActive appends the ids of the tasks of other runs that cover
// partitions of r. active is ordered by partition and disjoint (the planner
// never queues a partition twice). A task may come twice; the store
// counts it once.
func appendActive(out []int64, active []ActiveTask, r partitions.Range) []int64 {
	k := sort.Search(len(active), func(k int) bool { return active[k].Range.Hi > r.Lo })
	for ; k < len(active) && active[k].Range.Lo < r.Hi; k++ {
		out = append(out, active[k].ID)
	}
	return out
}

// External returns the tasks of other runs that task i waits for.
func (g *TaskGraph) External(i int) []int64 {
	return g.external[g.externalStart[i]:g.externalStart[i+1]]
}

func (g *TaskGraph) buildDependents() {
	counts := make([]int32, len(g.Tasks)+1)
	for _, d := range g.deps {
		counts[d+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	g.dependentStart = counts
	g.dependents = make([]int32, len(g.deps))
	fill := make([]int32, len(g.Tasks))
	for ti := range g.Tasks {
		for _, d := range g.Deps(ti) {
			g.dependents[counts[d]+fill[d]] = int32(ti)
			fill[d]++
		}
	}
}

// Deps returns the indexes of the tasks task i waits for.
func (g *TaskGraph) Deps(i int) []int32 { return g.deps[g.depStart[i]:g.depStart[i+1]] }

// Dependents returns the indexes of the tasks that wait for task i.
func (g *TaskGraph) Dependents(i int) []int32 {
	return g.dependents[g.dependentStart[i]:g.dependentStart[i+1]]
}

// Edges returns the number of dependency edges.
func (g *TaskGraph) Edges() int { return len(g.deps) }

// AssetPlan returns the plan of task i's asset.
func (g *TaskGraph) AssetPlan(i int) *AssetPlan { return g.Plan.Assets[g.Tasks[i].Asset] }

// Keys returns the partition keys of task i.
func (g *TaskGraph) Keys(i int) []string {
	t := g.Tasks[i]
	return partitions.Keys(g.Plan.Assets[t.Asset].Def, partitions.Span(t.Range.Lo, t.Range.Hi))
}
