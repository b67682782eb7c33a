package weircli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gocloud.dev/blob"

	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// taskLogJSON is one attempt's log as `tasks logs -o json` prints it.
type taskLogJSON struct {
	Attempt int                 `json:"attempt"`
	Phase   string              `json:"phase"`
	Worker  string              `json:"worker"`
	State   store.TaskState     `json:"state"`
	Logged  bool                `json:"logged"`
	Lines   []scheduler.LogLine `json:"lines"`
}

func (a *app) taskLogsCommand() *cobra.Command {
	var attempt int
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs ID [--attempt N] [--follow]",
		Short: "Show what a task's code logged, and its errors, per attempt, wherever it ran",
		Long: `logs prints the log of each attempt of a task: what its code logged through
pipelines.Task.Logger and, for an attempt that failed, its error. Workers keep
each attempt's log in the blob store (_weir/logs/run-R/task-T/attempt-N.jsonl,
written every 2 s while it runs and when it ends), so it is there whichever host
ran it. --follow keeps printing until the task has ended.`,
		Args: exactArgs(1, "one task id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("task", args[0])
			if err != nil {
				return err
			}
			if attempt < 0 {
				return usageError(fmt.Errorf("--attempt %d: attempts count from 1", attempt))
			}
			if follow && a.output == "json" {
				return usageError(errors.New("--follow prints text; leave out -o json"))
			}
			ctx := cmd.Context()
			st, bucket, closeAll, err := a.openBoth(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			t, attempts, err := st.TaskGet(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return usageError(fmt.Errorf("task %d does not exist ("+a.cfg.Name+" tasks list shows tasks)", id))
			}
			if err != nil {
				return failedError(err)
			}
			if attempt > 0 && !slices.ContainsFunc(attempts, func(at *store.TaskAttempt) bool { return at.Attempt == attempt }) {
				return usageError(fmt.Errorf("task %d has no attempt %d (its attempts: %s)", id, attempt, attemptNumbers(attempts)))
			}
			if a.output == "json" {
				out := []taskLogJSON{}
				for _, at := range attempts {
					if attempt > 0 && at.Attempt != attempt {
						continue
					}
					lines, _, ok, err := scheduler.ReadTaskLog(ctx, bucket, t.RunID, id, at.Attempt, 0)
					if err != nil {
						return failedError(err)
					}
					if lines == nil {
						lines = []scheduler.LogLine{}
					}
					out = append(out, taskLogJSON{Attempt: at.Attempt, Phase: at.Phase, Worker: at.Worker, State: at.State, Logged: ok, Lines: lines})
				}
				return a.json(out)
			}
			f := &logFollower{w: a.cfg.Stdout, bucket: bucket, runID: t.RunID, taskID: id, only: attempt, offsets: map[int]int64{}}
			for {
				ended := t.State == store.TaskSucceeded || t.State == store.TaskFailed || t.State == store.TaskCancelled || t.State == store.TaskSkipped
				if err := f.print(ctx, attempts, follow && !ended); err != nil {
					return failedError(err)
				}
				if !follow || ended {
					if len(attempts) == 0 {
						fmt.Fprintf(a.cfg.Stdout, "task %d has not started: no attempts yet\n", id)
					}
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-a.cfg.Clock.After(time.Second):
				}
				if t, attempts, err = st.TaskGet(ctx, id); err != nil {
					return failedError(err)
				}
			}
		},
	}
	cmd.Flags().IntVar(&attempt, "attempt", 0, "show only this attempt (default: every attempt)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the task has ended")
	return cmd
}

// logFollower prints attempts' logs, each line once.
type logFollower struct {
	w             io.Writer
	bucket        *blob.Bucket
	runID, taskID int64
	only          int
	offsets       map[int]int64 // attempt -> bytes printed; present once its header is
}

// print prints what is new in the attempts' logs. live: the task has not
// ended, so an attempt without a log may still write one.
func (f *logFollower) print(ctx context.Context, attempts []*store.TaskAttempt, live bool) error {
	sort.Slice(attempts, func(i, j int) bool { return attempts[i].Attempt < attempts[j].Attempt })
	for i, at := range attempts {
		if f.only > 0 && at.Attempt != f.only {
			continue
		}
		lines, next, ok, err := scheduler.ReadTaskLog(ctx, f.bucket, f.runID, f.taskID, at.Attempt, f.offsets[at.Attempt])
		if err != nil {
			return err
		}
		if _, seen := f.offsets[at.Attempt]; !seen {
			fmt.Fprintf(f.w, "== attempt %d · %s · worker %s · %s ==\n", at.Attempt, at.Phase, dash(at.Worker), at.State)
			f.offsets[at.Attempt] = 0
			if !ok {
				switch {
				case live && i == len(attempts)-1:
					fmt.Fprintln(f.w, "(nothing logged yet)")
				case at.Error != "":
					fmt.Fprintf(f.w, "(no log kept; its error: %s)\n", firstLine(at.Error))
				default:
					fmt.Fprintln(f.w, "(it logged nothing)")
				}
			}
		}
		for _, l := range lines {
			fmt.Fprintln(f.w, formatLogLine(l))
		}
		f.offsets[at.Attempt] = next
	}
	return nil
}

// formatLogLine renders a line as text: time, level, message, attributes.
func formatLogLine(l scheduler.LogLine) string {
	var b strings.Builder
	if !l.Time.IsZero() {
		b.WriteString(l.Time.UTC().Format("2006-01-02T15:04:05.000Z "))
	}
	fmt.Fprintf(&b, "%-5s %s", l.Level, l.Message)
	keys := make([]string, 0, len(l.Attrs))
	for k := range l.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	quote := func(s string) string {
		if s == "" || strings.ContainsAny(s, " \t\n\"=") {
			return fmt.Sprintf("%q", s)
		}
		return s
	}
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", quote(k), quote(fmt.Sprint(l.Attrs[k])))
	}
	return b.String()
}

// attemptNumbers lists attempts as "1, 2, 3" ("none yet" when empty).
func attemptNumbers(attempts []*store.TaskAttempt) string {
	if len(attempts) == 0 {
		return "none yet"
	}
	s := make([]string, len(attempts))
	for i, at := range attempts {
		s[i] = fmt.Sprint(at.Attempt)
	}
	return strings.Join(s, ", ")
}
