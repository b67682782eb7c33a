package weircli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/store"
)

// reportJSON is a backfill's audit report: what was asked, what ran, what
// it produced (with checksums and checks), what failed, and who did what.
type reportJSON struct {
	Backfill   int64           `json:"backfill"`
	Status     string          `json:"status"`
	Selection  string          `json:"selection"`
	Assets     []string        `json:"assets"`
	Partitions string          `json:"partitions"`
	Reprocess  string          `json:"reprocess"`
	Order      string          `json:"order"`
	Throttle   string          `json:"throttle"`
	Breaker    string          `json:"breaker"`
	CreatedBy  string          `json:"created_by"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Summary    []assetProgress `json:"summary"`
	Tasks      taskSummaryJSON `json:"tasks"`
	Events     []eventJSON     `json:"events"`
	Failures   []taskRowJSON   `json:"failures"`
	Retried    []taskRowJSON   `json:"retried"`
	Outputs    []outputJSON    `json:"outputs"`
}

type taskSummaryJSON struct {
	Total    int     `json:"total"`
	Attempts int     `json:"attempts"`
	MeanSec  float64 `json:"mean_seconds"`
	P95Sec   float64 `json:"p95_seconds"`
	MaxSec   float64 `json:"max_seconds"`
}

type eventJSON struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail"`
}

type taskRowJSON struct {
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

// attempts shows a row's attempts as the user configured them: per phase.
func (t taskRowJSON) attempts() string {
	if t.ComputeAttempts == 0 && t.VerifyAttempts == 0 {
		return fmt.Sprintf("%s %d of %d", t.Phase, t.Attempts, t.MaxAttempts)
	}
	var parts []string
	if t.ComputeAttempts > 0 {
		parts = append(parts, fmt.Sprintf("compute %d", t.ComputeAttempts))
	}
	if t.VerifyAttempts > 0 {
		parts = append(parts, fmt.Sprintf("verify %d", t.VerifyAttempts))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (of %d each)", t.MaxAttempts)
}

// outputJSON is one promoted partition version of the backfill.
type outputJSON struct {
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

func (a *app) backfillReportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report ID [-o md|json]",
		Short: "Print a backfill's audit report: request, outcome per asset, checksums, checks, retries, events",
		Long: `report prints what a backfill was asked to do and what it did, to attach to a
postmortem: the selection and partitions, who started it and when, throttles and
breaker, partitions requested, fresh (skipped), waited for in other runs,
succeeded and failed per asset, the audit trail (pauses, resumes, breaker trips,
retries, cancel), failed and retried tasks, task durations, and every partition
version it promoted with its manifest's SHA-256 and its check results.

-o md (the default) prints Markdown; -o json the same as one JSON document.`,
		Annotations: map[string]string{outputFormats: "md,json"},
		Args:        exactArgs(1, "one backfill id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, run, err := a.openBackfill(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := a.buildReport(ctx, st, run)
			if err != nil {
				return failedError(err)
			}
			if a.output == "json" {
				return a.json(r)
			}
			writeReportMD(a.cfg.Stdout, r)
			return nil
		},
	}
}

func (a *app) buildReport(ctx context.Context, st store.Store, run *store.Run) (*reportJSON, error) {
	s, err := takeSnapshot(ctx, st, run.ID, a.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	rj := toRunJSON(run)
	r := &reportJSON{Backfill: run.ID, Status: string(run.State()), Selection: run.Selection, Assets: run.Assets, Partitions: run.Partitions,
		Reprocess: run.Reprocess, Order: run.Order, Throttle: throttleString(run), Breaker: breakerString(run), CreatedBy: run.CreatedBy,
		CreatedAt: run.CreatedAt, FinishedAt: rj.FinishedAt, Summary: s.Assets, Events: []eventJSON{}, Failures: []taskRowJSON{},
		Retried: []taskRowJSON{}, Outputs: []outputJSON{}}
	events, err := st.RunEventList(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		r.Events = append(r.Events, eventJSON{At: e.At, Kind: e.Kind, Actor: e.Actor, Detail: strings.TrimSpace(e.Detail)})
	}
	tasks, err := st.TaskList(ctx, store.TaskListParams{RunID: run.ID})
	if err != nil {
		return nil, err
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
	var secs []float64
	for _, t := range tasks {
		r.Tasks.Total++
		r.Tasks.Attempts += t.Attempt
		row := taskRowJSON{Task: t.ID, Asset: t.Asset, Partitions: toTaskJSON(t).Partitions, State: string(t.State), Phase: t.Phase,
			Attempts: t.PhaseAttempt(), MaxAttempts: t.BaseAttempts, Error: firstLine(t.Error)}
		if t.State == store.TaskSucceeded && !t.StartedAt.IsZero() {
			row.Seconds = t.FinishedAt.Sub(t.StartedAt).Seconds()
			secs = append(secs, row.Seconds)
		}
		if t.State == store.TaskFailed {
			r.Failures = append(r.Failures, row)
		}
		if phases, ok := retried[t.ID]; ok {
			row.ComputeAttempts, row.VerifyAttempts = phases[store.PhaseCompute], phases[store.PhaseVerify]
			r.Retried = append(r.Retried, row)
		}
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
		res := checkJSON{Warn: c.Warn, Passed: c.Passed, Error: c.Error}.result()
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
		r.Outputs = append(r.Outputs, outputJSON{Asset: m.Asset, Partition: m.PartitionKey, Version: m.Version, Manifest: m.ManifestSHA256,
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

func writeReportMD(w io.Writer, r *reportJSON) {
	fmt.Fprintf(w, "# Backfill %d: %s\n\n", r.Backfill, r.Status)
	finished := "not yet"
	if r.FinishedAt != nil {
		finished = fmt.Sprintf("%s (took %s)", fmtTime(*r.FinishedAt), r.FinishedAt.Sub(r.CreatedAt).Round(time.Millisecond))
	}
	for _, kv := range [][2]string{
		{"Selection", "`" + r.Selection + "` (" + strings.Join(r.Assets, ", ") + ")"},
		{"Partitions", dash(r.Partitions) + ", reprocess " + r.Reprocess + ", " + r.Order},
		{"Started", fmtTime(r.CreatedAt) + " by " + r.CreatedBy},
		{"Finished", finished},
		{"Throttle", r.Throttle},
		{"Breaker", r.Breaker},
		{"Tasks", fmt.Sprintf("%d tasks, %d attempts; succeeded tasks took %.3fs on average, p95 %.3fs, max %.3fs",
			r.Tasks.Total, r.Tasks.Attempts, r.Tasks.MeanSec, r.Tasks.P95Sec, r.Tasks.MaxSec)},
	} {
		fmt.Fprintf(w, "- **%s:** %s\n", kv[0], kv[1])
	}
	fmt.Fprintf(w, "\n## Partitions per asset\n\n")
	fmt.Fprintln(w, "| asset | requested | fresh (skipped) | queued in other runs | ran | succeeded | failed | skipped | cancelled | not run |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, ap := range r.Summary {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n", ap.Asset, ap.Total+ap.Fresh+ap.Elsewhere, ap.Fresh, ap.Elsewhere, ap.Total,
			ap.Succeeded, ap.Failed, ap.Skipped, ap.Cancelled, ap.Pending+ap.Running)
	}
	fmt.Fprintf(w, "\n## Audit trail\n\n| time | event | by | detail |\n|---|---|---|---|\n")
	for _, e := range r.Events {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", fmtTime(e.At), e.Kind, e.Actor, mdCell(e.Detail))
	}
	taskTable := func(title string, rows []taskRowJSON) {
		fmt.Fprintf(w, "\n## %s\n\n", title)
		if len(rows) == 0 {
			fmt.Fprintln(w, "None.")
			return
		}
		fmt.Fprintln(w, "| task | asset | partitions | state | attempts | error |\n|---:|---|---|---|---|---|")
		for _, t := range rows {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n", t.Task, t.Asset, t.Partitions, t.State, t.attempts(), mdCell(t.Error))
		}
	}
	taskTable("Failed tasks", r.Failures)
	taskTable("Retried tasks", r.Retried)
	fmt.Fprintf(w, "\n## Promoted partitions\n\n")
	if len(r.Outputs) == 0 {
		fmt.Fprintln(w, "None.")
		return
	}
	fmt.Fprintln(w, "Each version was checksummed while written, re-read and verified against its manifest, and checked, before promotion.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| asset | partition | version | manifest sha256 | files | bytes | task | attempt | checks |\n|---|---|---|---|---:|---:|---:|---:|---|")
	for _, o := range r.Outputs {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %d | %d | %d | %s |\n", o.Asset, o.Partition, o.Version, o.Manifest, o.Files, o.Bytes, o.Task,
			o.Attempt, mdCell(dash(strings.Join(o.Checks, "; "))))
	}
}

// mdCell keeps a value inside one Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
