package scheduler

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/store"
)

// Report is a run's audit report: what was asked, what ran, what
// it produced (with checksums and checks), what failed, and who did what.
type Report struct {
	Backfill int64  `json:"backfill"`
	Status   string `json:"status"`
	RunRequest
	Assets   []string          `json:"assets"`
	Throttle string            `json:"throttle"`
	Breaker  string            `json:"breaker"`
	Summary  []AssetProgress   `json:"summary"`
	Tasks    ReportTaskSummary `json:"tasks"`
	Events   []ReportEvent     `json:"events"`
	Failures []ReportTask      `json:"failures"`
	Retried  []ReportTask      `json:"retried"`
	Outputs  []ReportOutput    `json:"outputs"`
}

// ReportTaskSummary counts a run's tasks and attempts and says how long
// succeeded tasks took.
type ReportTaskSummary struct {
	Total    int     `json:"total"`
	Attempts int     `json:"attempts"`
	MeanSec  float64 `json:"mean_seconds"`
	P95Sec   float64 `json:"p95_seconds"`
	MaxSec   float64 `json:"max_seconds"`
}

// ReportEvent is one entry of a run's audit trail.
type ReportEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail"`
}

// ReportTask is a task of the report: a failed one, or one retried in a
// phase.
type ReportTask struct {
	Task        int64  `json:"task"`
	Asset       string `json:"asset"`
	Partitions  string `json:"partitions"`
	State       string `json:"state"`
	Phase       string `json:"phase"`
	Attempts    int    `json:"attempts"` // in Phase, of MaxAttempts
	MaxAttempts int    `json:"max_attempts"`
	// ComputeAttempts and VerifyAttempts count each phase's attempts
	// (released ones not included), in the retried list.
	ComputeAttempts int     `json:"compute_attempts,omitempty"`
	VerifyAttempts  int     `json:"verify_attempts,omitempty"`
	Seconds         float64 `json:"seconds"`
	Error           string  `json:"error,omitempty"`
}

// ReportOutput is one partition version the run promoted.
type ReportOutput struct {
	Asset     string   `json:"asset"`
	Partition string   `json:"partition"`
	Version   string   `json:"version"`
	Manifest  string   `json:"manifest_sha256"`
	Files     int      `json:"files"`
	Bytes     int64    `json:"bytes"`
	Task      int64    `json:"task"`
	Attempt   int      `json:"attempt"`
	Checks    []string `json:"checks"`
}

// BuildReport builds run's audit report at now: what was asked, what ran,
// what it produced (with checksums and check results), what failed or was
// retried, and who did what.
func BuildReport(ctx context.Context, st store.Store, run *store.Run, now time.Time) (*Report, error) {
	s, err := RunProgressAt(ctx, st, run.ID, now)
	if err != nil {
		return nil, err
	}
	// What was asked, its state and throttle as the progress read them,
	// with the counts beside them.
	r := &Report{Backfill: run.ID, Status: s.Status, RunRequest: s.RunRequest, Assets: run.Assets, Throttle: s.Throttle,
		Breaker: s.Breaker, Summary: s.Assets, Events: []ReportEvent{}, Failures: []ReportTask{}, Retried: []ReportTask{}, Outputs: []ReportOutput{}}
	events, err := st.RunEventList(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		r.Events = append(r.Events, ReportEvent{At: e.At, Kind: e.Kind, Actor: e.Actor, Detail: strings.TrimSpace(e.Detail)})
	}
	retries, err := st.TaskRetryList(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	retried := map[int64]map[string]int{}
	for _, rt := range retries {
		if retried[rt.TaskID] == nil {
			retried[rt.TaskID] = map[string]int{}
		}
		retried[rt.TaskID][rt.Phase] = rt.Attempts
	}
	// Counted and timed in the database, failed and retried tasks read
	// one by one: a run may hold millions of tasks.
	stats, err := st.RunTaskStats(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	r.Tasks.Total, r.Tasks.Attempts = int(stats.Tasks), int(stats.Attempts)
	secs := stats.Seconds
	row := func(t *store.Task) ReportTask {
		rt := ReportTask{Task: t.ID, Asset: t.Asset, Partitions: TaskPartitions(t), State: string(t.State), Phase: t.Phase,
			Attempts: t.PhaseAttempt(), MaxAttempts: t.BaseAttempts, Error: firstLine(t.Error)}
		if t.State == store.TaskSucceeded && !t.StartedAt.IsZero() {
			rt.Seconds = t.FinishedAt.Sub(t.StartedAt).Seconds()
		}
		return rt
	}
	failed, err := st.TaskList(ctx, store.TaskListParams{RunID: run.ID, State: store.TaskFailed})
	if err != nil {
		return nil, err
	}
	for _, t := range failed {
		r.Failures = append(r.Failures, row(t))
	}
	for _, rt := range retries {
		if n := len(r.Retried); n > 0 && r.Retried[n-1].Task == rt.TaskID {
			continue // its other phase
		}
		t, _, err := st.TaskGet(ctx, rt.TaskID)
		if err != nil {
			return nil, err
		}
		x := row(t)
		x.ComputeAttempts, x.VerifyAttempts = retried[t.ID][store.PhaseCompute], retried[t.ID][store.PhaseVerify]
		r.Retried = append(r.Retried, x)
	}
	if len(secs) > 0 {
		slices.Sort(secs)
		var sum float64
		for _, x := range secs {
			sum += x
		}
		r.Tasks.MeanSec, r.Tasks.P95Sec, r.Tasks.MaxSec = sum/float64(len(secs)), secs[(len(secs)*95+99)/100-1], secs[len(secs)-1]
	}
	mats, err := st.MaterializationList(ctx, store.MaterializationListParams{RunID: run.ID, Limit: -1})
	if err != nil {
		return nil, err
	}
	checks, err := st.CheckResultList(ctx, store.CheckResultListParams{RunID: run.ID, Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	byAttempt := map[[2]int64][]string{}
	for _, c := range checks {
		k := [2]int64{c.TaskID, int64(c.Attempt)}
		res := CheckOutcome(c.Warn, c.Passed, c.Error)
		if c.Value != "" {
			res += " (" + c.Value + ")"
		}
		byAttempt[k] = append(byAttempt[k], c.Name+": "+res)
	}
	for _, m := range mats {
		cs := byAttempt[[2]int64{m.TaskID, int64(m.Attempt)}]
		sort.Strings(cs)
		if cs == nil {
			cs = []string{}
		}
		r.Outputs = append(r.Outputs, ReportOutput{Asset: m.Asset, Partition: m.PartitionKey, Version: m.Version, Manifest: m.ManifestSHA256,
			Files: m.Files, Bytes: m.Bytes, Task: m.TaskID, Attempt: m.Attempt, Checks: cs})
	}
	order := map[string]int{}
	for i, k := range run.Assets {
		order[k] = i
	}
	sort.Slice(r.Outputs, func(i, j int) bool {
		a, b := r.Outputs[i], r.Outputs[j]
		if a.Asset != b.Asset {
			return order[a.Asset] < order[b.Asset]
		}
		return a.Partition < b.Partition
	})
	return r, nil
}

// TaskPartitions writes a task's partitions in compact form: a key, or
// FIRST...LAST.
func TaskPartitions(t *store.Task) string {
	if t.PartitionCount > 1 {
		return t.PartitionFirst + partitions.RangeSep + t.PartitionLast
	}
	return t.PartitionFirst
}

// CheckOutcome says how a check went, in a few words.
func CheckOutcome(warn, passed bool, errText string) string {
	switch {
	case !passed && warn:
		return "WARNING: " + firstLine(errText)
	case !passed:
		return "FAILED (blocked promotion): " + firstLine(errText)
	}
	return "passed"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
