package alert

import (
	"time"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
)

// Late is a range of partitions past their freshness deadline without a
// promoted version, and why.
type Late struct {
	Partitions partitions.Subset
	// Why is "running", "failed" (its last attempt failed, a blocking
	// check included) or "not started".
	Why string
	// By is how late the oldest of them is.
	By time.Duration
}

// LateOf returns the partitions of h that are past the deadline f at now
// and have no promoted version, grouped by why: what `weir assets status`
// shows beside the deadline's alerts. Nil when none is late.
func LateOf(h plan.Health, f Freshness, now time.Time) []Late {
	tw, ok := h.Def.(partitions.Windowed)
	if !ok || f.validate() != nil {
		return nil
	}
	due := partitions.Span(0, f.due(tw, now))
	late := due.Difference(h.Fresh).Difference(h.Stale)
	if late.IsEmpty() {
		return nil
	}
	running := late.Intersect(h.Running)
	failed := late.Intersect(h.Failed).Difference(running)
	var out []Late
	for _, l := range []Late{
		{Partitions: running, Why: "running"},
		{Partitions: failed, Why: "failed"},
		{Partitions: late.Difference(running).Difference(failed), Why: "not started"},
	} {
		if l.Partitions.IsEmpty() {
			continue
		}
		first, _ := l.Partitions.Min()
		_, end := tw.Window(first)
		l.By = now.Sub(f.Deadline(end))
		out = append(out, l)
	}
	return out
}
