package weircli

import (
	"context"
	"fmt"
	"time"

	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// snapshot is a run's progress as the NDJSON progress stream shows it: an
// event name over scheduler.Progress.
type snapshot struct {
	Event string `json:"event"`
	*scheduler.Progress
}

// takeSnapshot reads a run's progress from the store.
func takeSnapshot(ctx context.Context, st store.Store, runID int64, now time.Time) (*snapshot, error) {
	p, err := scheduler.RunProgressAt(ctx, st, runID, now)
	if err != nil {
		return nil, err
	}
	return &snapshot{Event: "progress", Progress: p}, nil
}

// printSnapshot prints a backfill's status as a table.
func (a *app) printSnapshot(run *store.Run, s *snapshot) error {
	w := a.table()
	fmt.Fprintf(w, "backfill:\t%d\n", run.ID)
	fmt.Fprintf(w, "status:\t%s\n", s.Status)
	fmt.Fprintf(w, "selection:\t%s\n", run.Selection)
	fmt.Fprintf(w, "partitions:\t%s (reprocess %s, %s)\n", dash(run.Partitions), run.Reprocess, run.Order)
	fmt.Fprintf(w, "created:\t%s by %s\n", fmtTime(run.CreatedAt), run.CreatedBy)
	fmt.Fprintf(w, "throttle:\t%s\n", s.Throttle)
	fmt.Fprintf(w, "breaker:\t%s\n", s.Breaker)
	if s.TripReason != "" {
		fmt.Fprintf(w, "tripped:\t%s\n", s.TripReason)
	}
	fmt.Fprintf(w, "progress:\t%s; %d tasks/min, %.1f starts/s", s.taskCounts(), s.PerMinute, s.StartsPerS)
	if s.ETASeconds > 0 {
		fmt.Fprintf(w, ", ETA %s", (time.Duration(s.ETASeconds) * time.Second).String())
	}
	fmt.Fprintln(w)
	if !run.FinishedAt.IsZero() {
		fmt.Fprintf(w, "finished:\t%s (took %s)\n", fmtTime(run.FinishedAt), run.FinishedAt.Sub(run.CreatedAt).Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ASSET\tPARTITIONS\tPENDING\tRUNNING\tSUCCEEDED\tFAILED\tSKIPPED\tCANCELLED\tKEPT\tQUEUED ELSEWHERE")
	for _, ap := range s.Assets {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", ap.Asset, ap.Total, ap.Pending, ap.Running, ap.Succeeded, ap.Failed, ap.Skipped,
			ap.Cancelled, ap.Kept, ap.Elsewhere)
	}
	return w.Flush()
}

// noun names the run as its commands do.
func (s *snapshot) noun() string { return scheduler.RunNoun(s.Kind) }

// taskCounts says how the backfill's tasks stand, every state counted once:
// "3 of 124 tasks succeeded (2%), 121 cancelled, 0 running".
func (s *snapshot) taskCounts() string {
	pct := 0.0
	if s.TasksTotal > 0 {
		pct = 100 * float64(s.TasksSucceeded) / float64(s.TasksTotal)
	}
	out := fmt.Sprintf("%d of %d tasks succeeded (%.0f%%)", s.TasksSucceeded, s.TasksTotal, pct)
	for _, c := range []struct {
		n    int64
		what string
	}{{s.TasksFailed, "failed"}, {s.TasksSkipped, "skipped"}, {s.TasksCancelled, "cancelled"}, {s.Pending, "pending"}} {
		if c.n > 0 {
			out += fmt.Sprintf(", %d %s", c.n, c.what)
		}
	}
	return out + fmt.Sprintf(", %d running", s.Running)
}
