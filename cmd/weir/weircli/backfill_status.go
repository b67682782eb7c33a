package weircli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/weir-dev/weir/api"
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

// backfillStatusFromAPI is backfill status answered by a running serve's
// HTTP API: the same snapshot, the same output.
func (a *app) backfillStatusFromAPI(ctx context.Context, base, arg string, watch bool, v view) error {
	id, err := parseID("backfill", arg)
	if err != nil {
		return err
	}
	c, err := api.NewClient(base, a.cfg.Getenv("WEIR_TOKEN"))
	if err != nil {
		return usageError(fmt.Errorf("--api: %w", err))
	}
	p, err := c.Backfill(ctx, id)
	if err != nil {
		return apiError(err)
	}
	if st := store.RunStatus(p.Status); watch && (st == store.RunQueued || st.Active()) {
		v.snapshot(&snapshot{Event: "progress", Progress: p}, false)
		ferr := c.FollowBackfill(ctx, id, func(q *scheduler.Progress, end bool) error {
			p = q
			if !end {
				v.snapshot(&snapshot{Event: "progress", Progress: q}, false)
			}
			return nil
		})
		final := &snapshot{Event: "finished", Progress: p}
		if ctx.Err() != nil {
			final.Event = "stopped"
		}
		v.snapshot(final, true)
		if ferr != nil && ctx.Err() == nil {
			return apiError(ferr)
		}
		if ctx.Err() != nil { // interrupted: the status as it is now, as without --api
			if p, err = c.Backfill(context.WithoutCancel(ctx), id); err != nil {
				return apiError(err)
			}
		}
	}
	s := &snapshot{Event: "progress", Progress: p}
	if a.output == "json" {
		return a.json(s)
	}
	return a.printSnapshot(s)
}

// apiError is an error of the HTTP API as the command line reports it: a
// backfill the server does not have is bad input (exit 2), anything else
// a failure (exit 1).
func apiError(err error) error {
	var e *api.Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return usageError(fmt.Errorf("%s (answered by %s)", e.Message, e.URL))
	}
	if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		return failedError(fmt.Errorf("%w (set WEIR_TOKEN to the server's token)", err))
	}
	return failedError(err)
}

// printSnapshot prints a backfill's status as a table.
func (a *app) printSnapshot(s *snapshot) error {
	w := a.table()
	fmt.Fprintf(w, "backfill:\t%d\n", s.RunID)
	fmt.Fprintf(w, "status:\t%s\n", s.Status)
	fmt.Fprintf(w, "selection:\t%s\n", s.Selection)
	fmt.Fprintf(w, "partitions:\t%s (reprocess %s, %s)\n", dash(s.Partitions), s.Reprocess, s.Order)
	fmt.Fprintf(w, "created:\t%s by %s\n", fmtTime(s.CreatedAt), s.CreatedBy)
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
	if s.FinishedAt != nil {
		fmt.Fprintf(w, "finished:\t%s (took %s)\n", fmtTime(*s.FinishedAt), s.FinishedAt.Sub(s.CreatedAt).Round(time.Millisecond))
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
