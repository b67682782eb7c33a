package weircli

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

func (a *app) tasksCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tasks", Short: "List and inspect tasks, including failed ones (the dead-letter view)"}
	var (
		state string
		runID int64
		limit int
	)
	list := &cobra.Command{
		Use:   "list [--state STATE] [--run ID]",
		Short: "List tasks in id order",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" && !validState(state) {
				return usageError(fmt.Errorf("--state %q is not one of %v", state, store.TaskStates))
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			tasks, err := st.TaskList(cmd.Context(), store.TaskListParams{RunID: runID, State: store.TaskState(state), Limit: limit})
			if err != nil {
				return failedError(err)
			}
			out := make([]taskJSON, 0, len(tasks))
			for _, t := range tasks {
				out = append(out, toTaskJSON(t))
			}
			if a.output == "json" {
				return a.json(out)
			}
			w := a.table()
			fmt.Fprintln(w, "TASK\tRUN\tASSET\tPARTITIONS\tSTATE\tPHASE\tATTEMPT\tWORKER\tERROR")
			for _, t := range out {
				fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", t.ID, t.RunID, t.Asset, t.Partitions, t.State, t.Phase, t.Attempt, t.MaxAttempts,
					dash(t.Worker), dash(firstLine(t.Error)))
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&state, "state", "", "only tasks in this state (pending, running, succeeded, failed, skipped, cancelled)")
	list.Flags().Int64Var(&runID, "run", 0, "only tasks of this run")
	list.Flags().IntVar(&limit, "limit", 200, "how many tasks at most (0: all)")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a task with every attempt: worker, timings, errors",
		Args:  exactArgs(1, "one task id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("task", args[0])
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			t, attempts, err := st.TaskGet(cmd.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				return usageError(fmt.Errorf("task %d does not exist ("+a.cfg.Name+" tasks list shows tasks)", id))
			}
			if err != nil {
				return failedError(err)
			}
			tj := toTaskJSON(t)
			aj := []api.Attempt{}
			for _, at := range attempts {
				aj = append(aj, api.AttemptOf(at))
			}
			if a.output == "json" {
				return a.json(map[string]any{"task": tj, "attempts": aj})
			}
			w := a.table()
			for _, r := range [][2]string{
				{"task", strconv.FormatInt(tj.ID, 10)}, {"run", strconv.FormatInt(tj.RunID, 10)}, {"asset", tj.Asset}, {"partitions", tj.Partitions},
				{"state", string(tj.State)}, {"phase", tj.Phase}, {"attempt", fmt.Sprintf("%d of %d in the %s phase (%d in all)", tj.Attempt, tj.MaxAttempts, tj.Phase, tj.Attempts)}, {"pool", tj.Pool},
				{"worker", dash(tj.Worker)}, {"error", dash(tj.Error)},
			} {
				fmt.Fprintf(w, "%s:\t%s\n", r[0], r[1])
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, "ATTEMPT\tPHASE\tWORKER\tSTATE\tSTARTED\tTOOK\tVERSION\tERROR")
			for _, at := range aj {
				took := "-"
				if at.FinishedAt != nil {
					took = at.FinishedAt.Sub(at.StartedAt).Round(time.Millisecond).String()
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", at.Attempt, at.Phase, at.Worker, at.State, fmtTime(at.StartedAt), took, dash(at.Version),
					dash(firstLine(at.Error)))
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(list, show, a.taskLogsCommand())
	return cmd
}

func validState(s string) bool {
	for _, st := range store.TaskStates {
		if string(st) == s {
			return true
		}
	}
	return false
}

type taskJSON struct {
	ID         int64           `json:"id"`
	RunID      int64           `json:"run_id"`
	Asset      string          `json:"asset"`
	Partitions string          `json:"partitions"`
	State      store.TaskState `json:"state"`
	// Phase is compute, or verify once the output is staged.
	Phase    string `json:"phase"`
	Attempts int    `json:"attempts"`
	// Attempt is the attempt of the current phase, of MaxAttempts (the
	// asset's retry policy, per phase); Attempts counts both phases'.
	Attempt     int    `json:"attempt"`
	MaxAttempts int    `json:"max_attempts"`
	Pool        string `json:"pool"`
	Worker      string `json:"worker,omitempty"`
	Error       string `json:"error,omitempty"`
}

func toTaskJSON(t *store.Task) taskJSON {
	return taskJSON{ID: t.ID, RunID: t.RunID, Asset: t.Asset, Partitions: scheduler.TaskPartitions(t), State: t.State, Phase: t.Phase, Attempts: t.Attempt, Attempt: t.PhaseAttempt(), MaxAttempts: t.BaseAttempts,
		Pool: t.Pool, Worker: t.Worker, Error: t.Error}
}
