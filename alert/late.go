package alert

import (
	"time"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
)

// Why a late partition is late: the first of these that holds.
const (
	LateRunning  = "running"              // a task is pending or running
	LateBlocked  = "blocked by a check"   // a blocking check refused its output
	LateWaiting  = "waiting for upstream" // a partition it reads has no current version
	LateFailed   = "failed"               // its last attempt failed
	LateNotRun   = "not started"          // nothing has tried since it became due
	LateTooOld   = "too old"              // MaxAge: its current version is older than that
	LateNeverRun = "never promoted"       // MaxAge: it has no current version
)

// Late is a range of partitions past their freshness deadline without a
// promoted version, and why.
type Late struct {
	Partitions partitions.Subset
	// Why is one of the Late* reasons: running, blocked by a check,
	// waiting for upstream, failed, not started (or, for MaxAge, too old
	// and never promoted).
	Why string
	// By is how late the oldest of them is.
	By time.Duration
}

// LateOf returns the partitions of h that are past the deadline f at now
// and have no promoted version (for MaxAge: whose version is too old),
// grouped by why: what `weir assets status` shows beside the deadline's
// alerts. Nil when none is late.
func LateOf(h plan.Health, f Freshness, now time.Time) []Late {
	if f.validate() != nil {
		return nil
	}
	if f.MaxAge > 0 {
		return lateByAge(h, f, now)
	}
	tw, ok := h.Def.(partitions.Windowed)
	if !ok {
		return nil
	}
	due := partitions.Span(0, f.due(tw, now))
	late := due.Difference(h.Fresh).Difference(h.Stale)
	var out []Late
	for _, why := range append(reasons(h), reason{LateNotRun, late}) {
		l := Late{Partitions: late.Intersect(why.of), Why: why.name}
		if l.Partitions.IsEmpty() {
			continue
		}
		late = late.Difference(l.Partitions)
		first, _ := l.Partitions.Min()
		_, end := tw.Window(first)
		l.By = now.Sub(f.Deadline(end))
		out = append(out, l)
	}
	return out
}

// reason is why the partitions of is late.
type reason struct {
	name string
	of   partitions.Subset
}

// reasons are h's reasons for lateness, first the one that wins.
func reasons(h plan.Health) []reason {
	return []reason{{LateRunning, h.Running}, {LateBlocked, h.Blocked}, {LateWaiting, h.Waiting}, {LateFailed, h.Failed}}
}

// lateByAge is LateOf for a MaxAge deadline on an unpartitioned asset.
func lateByAge(h plan.Health, f Freshness, now time.Time) []Late {
	if !partitions.IsUnpartitioned(h.Def) {
		return nil
	}
	one := partitions.Span(0, 1)
	switch {
	case h.Promoted.IsZero():
		// No version to be old: late from the first time anyone looks is
		// all it can say (the daemon counts from when it first saw it).
		why := LateNeverRun
		if !h.Running.IsEmpty() {
			why = LateRunning
		}
		return []Late{{Partitions: one, Why: why}}
	case now.Sub(h.Promoted) <= f.MaxAge:
		return nil
	}
	l := Late{Partitions: one, Why: LateTooOld, By: now.Sub(h.Promoted.Add(f.MaxAge))}
	for _, why := range reasons(h) {
		if !why.of.IsEmpty() {
			l.Why = why.name
			break
		}
	}
	return []Late{l}
}
