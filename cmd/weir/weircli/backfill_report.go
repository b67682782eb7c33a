package weircli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/scheduler"
)

func (a *app) backfillReportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report ID [-o md|json]",
		Short: "Print a backfill's audit report: request, outcome per asset, checksums, checks, retries, events",
		Long: `report prints what a backfill was asked to do and what it did, to attach to a
postmortem: the selection and partitions, who started it and when, throttles and
breaker, partitions requested, kept (left as they were by the reprocess policy), waited for in other runs,
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
			r, err := scheduler.BuildReport(ctx, st, run, a.cfg.Clock.Now())
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

func writeReportMD(w io.Writer, r *scheduler.Report) {
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
	fmt.Fprintln(w, "| asset | requested | kept (not run by the policy) | queued in other runs | ran | succeeded | failed | skipped | cancelled | not run |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, ap := range r.Summary {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n", ap.Asset, ap.Total+ap.Kept+ap.Elsewhere, ap.Kept, ap.Elsewhere, ap.Total,
			ap.Succeeded, ap.Failed, ap.Skipped, ap.Cancelled, ap.Pending+ap.Running)
	}
	fmt.Fprintf(w, "\n## Audit trail\n\n| time | event | by | detail |\n|---|---|---|---|\n")
	for _, e := range r.Events {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", fmtTime(e.At), e.Kind, e.Actor, mdCell(e.Detail))
	}
	taskTable := func(title string, rows []scheduler.ReportTask) {
		fmt.Fprintf(w, "\n## %s\n\n", title)
		if len(rows) == 0 {
			fmt.Fprintln(w, "None.")
			return
		}
		fmt.Fprintln(w, "| task | asset | partitions | state | attempts | error |\n|---:|---|---|---|---|---|")
		for _, t := range rows {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n", t.Task, t.Asset, t.Partitions, t.State, attempts(t), mdCell(t.Error))
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

// attempts shows a row's attempts as the user configured them: per phase.
func attempts(t scheduler.ReportTask) string {
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
