package weircli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/weir-dev/weir/store"
)

// snapshot is a backfill's progress at one moment, counted in partitions.
type snapshot struct {
	Event string `json:"event"`
	RunID int64  `json:"run_id"`
	// Kind is the run's kind: backfill or materialize.
	Kind   string          `json:"run_kind"`
	Status string          `json:"status"`
	At     time.Time       `json:"at"`
	Assets []assetProgress `json:"assets"`
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

type assetProgress struct {
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
	// Fresh are requested partitions skipped as fresh.
	Fresh int64 `json:"fresh"`
}

func (a assetProgress) done() int64 { return a.Succeeded + a.Failed + a.Skipped + a.Cancelled }

// progressWindow is the window the pace is measured over.
const progressWindow = time.Minute

// takeSnapshot reads a backfill's progress from the store.
func takeSnapshot(ctx context.Context, st store.Store, runID int64, now time.Time) (*snapshot, error) {
	pr, err := st.RunProgress(ctx, store.RunProgressParams{ID: runID, Since: now.Add(-progressWindow)})
	if err != nil {
		return nil, err
	}
	run := pr.Run
	s := &snapshot{Event: "progress", RunID: runID, Kind: run.Kind, Status: string(run.State()), At: now.UTC(), Throttle: throttleString(run),
		Breaker: breakerString(run), TripReason: run.TripReason, TasksTotal: run.TaskCount(), Running: run.Tasks[store.TaskRunning]}
	s.TasksEnded, s.Pending = run.Done(), run.Tasks[store.TaskPending]
	s.TasksSucceeded, s.TasksFailed = run.Tasks[store.TaskSucceeded], run.Tasks[store.TaskFailed]
	s.TasksSkipped, s.TasksCancelled = run.Tasks[store.TaskSkipped], run.Tasks[store.TaskCancelled]
	index := map[string]int{}
	for _, key := range run.Assets {
		index[key] = len(s.Assets)
		s.Assets = append(s.Assets, assetProgress{Asset: key})
	}
	var plan planJSON
	if run.Plan != "" && json.Unmarshal([]byte(run.Plan), &plan) == nil {
		for _, ap := range plan.Assets {
			if i, ok := index[ap.Asset]; ok {
				s.Assets[i].Elsewhere, s.Assets[i].Fresh = ap.InFlight.Count, ap.Fresh.Count
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

func throttleString(r *store.Run) string {
	parts := []string{"priority " + priorityName(r.Priority)}
	if r.Throttle.MaxConcurrent > 0 {
		parts = append(parts, fmt.Sprintf("at most %d running", r.Throttle.MaxConcurrent))
	}
	if r.Throttle.RatePerSec > 0 {
		parts = append(parts, "at most "+rateString(r.Throttle.RatePerSec)+" starts")
	}
	if r.Pool != "" {
		parts = append(parts, "pool "+r.Pool)
	}
	return strings.Join(parts, ", ")
}

func rateString(perSec float64) string {
	if perSec < 1 {
		return fmt.Sprintf("%g/m", perSec*60)
	}
	return fmt.Sprintf("%g/s", perSec)
}

func breakerString(r *store.Run) string {
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

func priorityName(p int) string {
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

func parsePriority(s string) (int, error) {
	switch s {
	case "low":
		return store.PriorityLow, nil
	case "normal", "":
		return store.PriorityNormal, nil
	case "high":
		return store.PriorityHigh, nil
	}
	return 0, fmt.Errorf("--priority %q is not one of low, normal, high", s)
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
	fmt.Fprintln(w, "ASSET\tPARTITIONS\tPENDING\tRUNNING\tSUCCEEDED\tFAILED\tSKIPPED\tCANCELLED\tFRESH\tQUEUED ELSEWHERE")
	for _, ap := range s.Assets {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", ap.Asset, ap.Total, ap.Pending, ap.Running, ap.Succeeded, ap.Failed, ap.Skipped,
			ap.Cancelled, ap.Fresh, ap.Elsewhere)
	}
	return w.Flush()
}

// noun names the run as its commands do.
func (s *snapshot) noun() string {
	if s.Kind == "backfill" {
		return "backfill"
	}
	return "run"
}

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
