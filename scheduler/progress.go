package scheduler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
)

// Progress is a run's progress at one moment: its tasks by state, each
// asset's partitions by state, its pace and, while it runs, an ETA.
type Progress struct {
	RunID int64 `json:"run_id"`
	// Kind is the run's kind: backfill or materialize.
	Kind   string    `json:"run_kind"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	RunRequest
	Assets []AssetProgress `json:"assets"`
	// Tasks by state; they add up to TasksTotal. TasksEnded counts the
	// succeeded, failed, skipped and cancelled ones.
	TasksTotal     int64 `json:"tasks_total"`
	TasksEnded     int64 `json:"tasks_ended"`
	Pending        int64 `json:"tasks_pending"`
	Running        int64 `json:"tasks_running"`
	TasksSucceeded int64 `json:"tasks_succeeded"`
	TasksFailed    int64 `json:"tasks_failed"`
	TasksSkipped   int64 `json:"tasks_skipped"`
	TasksCancelled int64 `json:"tasks_cancelled"`
	// PerMinute is the pace of finished tasks over the last minute.
	PerMinute  int64   `json:"tasks_per_minute"`
	StartsPerS float64 `json:"starts_per_second"`
	ETASeconds float64 `json:"eta_seconds,omitempty"`
	Throttle   string  `json:"throttle"`
	Breaker    string  `json:"breaker"`
	TripReason string  `json:"trip_reason,omitempty"`
}

// RunRequest is what a run was asked for, by whom and when, as its
// progress and its report show it.
type RunRequest struct {
	Selection  string `json:"selection"`
	Partitions string `json:"partitions"`
	Reprocess  string `json:"reprocess"`
	Order      string `json:"order"`
	CreatedBy  string `json:"created_by"`
	// CreatedAt is when the run was created; FinishedAt when it ended
	// (null while it has not).
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// RequestOf is a run's request.
func RequestOf(run *store.Run) RunRequest {
	r := RunRequest{Selection: run.Selection, Partitions: run.Partitions, Reprocess: run.Reprocess, Order: run.Order,
		CreatedBy: run.CreatedBy, CreatedAt: run.CreatedAt.UTC()}
	if !run.FinishedAt.IsZero() {
		f := run.FinishedAt.UTC()
		r.FinishedAt = &f
	}
	return r
}

// AssetProgress counts one asset's partitions of a run by state.
type AssetProgress struct {
	Asset     string `json:"asset"`
	Total     int64  `json:"partitions"`
	Pending   int64  `json:"pending"`
	Running   int64  `json:"running"`
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
	Skipped   int64  `json:"skipped"`
	Cancelled int64  `json:"cancelled"`
	// Elsewhere are requested partitions queued in other runs, which
	// this backfill waited for instead of running them twice.
	Elsewhere int64 `json:"queued_elsewhere"`
	// Kept are requested partitions the reprocess policy left as they
	// were (plan.AssetPlan.Kept).
	Kept int64 `json:"kept"`
}

// Done counts the partitions that ended in any way.
func (a AssetProgress) Done() int64 { return a.Succeeded + a.Failed + a.Skipped + a.Cancelled }

// progressWindow is the window the pace is measured over.
const progressWindow = time.Minute

// RunProgressAt reads a run's progress from the store at now (the pace is
// measured over the minute before it).
func RunProgressAt(ctx context.Context, st store.Queue, runID int64, now time.Time) (*Progress, error) {
	pr, err := st.RunProgress(ctx, store.RunProgressParams{ID: runID, Since: now.Add(-progressWindow)})
	if err != nil {
		return nil, err
	}
	run := pr.Run
	s := &Progress{RunID: runID, Kind: run.Kind, Status: string(run.State()), At: now.UTC(), Throttle: ThrottleString(run),
		Breaker: BreakerString(run), TripReason: run.TripReason, TasksTotal: run.TaskCount(), Running: run.Tasks[store.TaskRunning],
		RunRequest: RequestOf(run)}
	s.TasksEnded, s.Pending = run.Done(), run.Tasks[store.TaskPending]
	s.TasksSucceeded, s.TasksFailed = run.Tasks[store.TaskSucceeded], run.Tasks[store.TaskFailed]
	s.TasksSkipped, s.TasksCancelled = run.Tasks[store.TaskSkipped], run.Tasks[store.TaskCancelled]
	index := map[string]int{}
	for _, key := range run.Assets {
		index[key] = len(s.Assets)
		s.Assets = append(s.Assets, AssetProgress{Asset: key})
	}
	if summary, ok := plan.ParseSummary(run.Plan); ok {
		for _, ap := range summary.Assets {
			if i, ok := index[ap.Asset]; ok {
				s.Assets[i].Elsewhere, s.Assets[i].Kept = ap.InFlight.Count, ap.Kept.Count
			}
		}
	}
	for _, c := range pr.Assets {
		i, ok := index[c.Asset]
		if !ok {
			continue
		}
		ap := &s.Assets[i]
		ap.Total += c.Partitions
		switch c.State {
		case store.TaskPending:
			ap.Pending += c.Partitions
		case store.TaskRunning:
			ap.Running += c.Partitions
		case store.TaskSucceeded:
			ap.Succeeded += c.Partitions
		case store.TaskFailed:
			ap.Failed += c.Partitions
		case store.TaskSkipped:
			ap.Skipped += c.Partitions
		case store.TaskCancelled:
			ap.Cancelled += c.Partitions
		}
	}
	// The pace over the last minute, or since the backfill was created if
	// that is less.
	// A rate measured over less than a second (the first snapshot, taken
	// as the backfill starts) says nothing: report none.
	window := min(progressWindow, now.Sub(run.CreatedAt))
	if window >= time.Second && s.TasksEnded > 0 {
		s.PerMinute = int64(float64(pr.FinishedSince) / window.Minutes())
		s.StartsPerS = float64(pr.StartedSince) / window.Seconds()
	}
	if left := s.TasksTotal - s.TasksEnded; left > 0 && pr.FinishedSince > 0 && window >= time.Second && run.Status == store.RunRunning {
		s.ETASeconds = float64(left) / (float64(pr.FinishedSince) / window.Seconds())
	}
	return s, nil
}

// RunNoun names a run of kind as weir's commands and API do: "backfill"
// or "run".
func RunNoun(kind string) string {
	if kind == "backfill" {
		return "backfill"
	}
	return "run"
}

// ThrottleString describes a run's priority and throttles in words.
func ThrottleString(r *store.Run) string {
	parts := []string{"priority " + PriorityName(r.Priority)}
	if r.Throttle.MaxConcurrent > 0 {
		parts = append(parts, fmt.Sprintf("at most %d running", r.Throttle.MaxConcurrent))
	}
	if r.Throttle.RatePerSec > 0 {
		parts = append(parts, "at most "+RateString(r.Throttle.RatePerSec)+" starts")
	}
	if r.Pool != "" {
		parts = append(parts, "pool "+r.Pool)
	}
	return strings.Join(parts, ", ")
}

// RateString writes a rate per second as people read it: 5/s, 30/m.
func RateString(perSec float64) string {
	if perSec < 1 {
		return fmt.Sprintf("%g/m", perSec*60)
	}
	return fmt.Sprintf("%g/s", perSec)
}

// BreakerString describes a run's circuit breaker and its counts.
func BreakerString(r *store.Run) string {
	b := r.Breaker
	if !b.On() {
		return "off"
	}
	var conds []string
	if b.MaxFailureRate > 0 {
		conds = append(conds, fmt.Sprintf("above %g%% failed once %d tasks finished", 100*b.MaxFailureRate, b.MinTasks))
	}
	if b.MaxConsecutive > 0 {
		conds = append(conds, fmt.Sprintf("%d failures in a row", b.MaxConsecutive))
	}
	switch r.Status {
	case store.RunTripped:
		return fmt.Sprintf("TRIPPED: trips at %s (%d of %d failed since the start or the last resume)", strings.Join(conds, " or "), r.BreakerFailed, r.BreakerFinished)
	case store.RunRunning, store.RunPaused:
		return fmt.Sprintf("armed: trips at %s (now %d of %d failed)", strings.Join(conds, " or "), r.BreakerFailed, r.BreakerFinished)
	}
	return fmt.Sprintf("trips at %s (ended at %d of %d failed since the start or the last resume)", strings.Join(conds, " or "), r.BreakerFailed, r.BreakerFinished)
}

// PriorityName names a priority: low, normal, high, or its number.
func PriorityName(p int) string {
	switch p {
	case store.PriorityLow:
		return "low"
	case store.PriorityNormal:
		return "normal"
	case store.PriorityHigh:
		return "high"
	}
	return fmt.Sprint(p)
}
