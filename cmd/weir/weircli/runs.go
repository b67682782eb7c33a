package weircli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "List and inspect runs"}
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			runs, err := a.listRuns(cmd.Context(), "", limit)
			if err != nil {
				return err
			}
			out := make([]runJSON, 0, len(runs))
			for _, r := range runs {
				out = append(out, toRunJSON(r))
			}
			if a.output == "json" {
				return a.json(out)
			}
			w := a.table()
			// Every task in one column: the counts add up to TASKS.
			fmt.Fprintln(w, "RUN\tKIND\tSTATUS\tSELECTION\tPARTITIONS\tTASKS\tSUCCEEDED\tFAILED\tSKIPPED\tCANCELLED\tPENDING\tRUNNING\tBY\tCREATED\tTOOK")
			for _, r := range out {
				n := func(s store.TaskState) int64 { return r.Tasks[string(s)] }
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", r.ID, r.Kind, r.Status, r.Selection, dash(r.Partitions), r.TaskCount,
					n(store.TaskSucceeded), n(store.TaskFailed), n(store.TaskSkipped), n(store.TaskCancelled), n(store.TaskPending), n(store.TaskRunning),
					r.CreatedBy, fmtTime(r.CreatedAt), took(r))
			}
			return w.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 20, "how many runs at most (0: all)")
	var (
		allTasks  bool
		showLimit int
		after     int64
	)
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a run: request, status, tasks per asset, failures",
		Args:  exactArgs(1, "one run id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, run, err := a.openRun(ctx, args[0], "")
			if err != nil {
				return err
			}
			defer st.Close()
			if showLimit < 1 || showLimit > 10_000 {
				return usageError(fmt.Errorf("--limit %d is out of range: 1 to 10000", showLimit))
			}
			if after != 0 && !allTasks {
				return usageError(errors.New("--after pages through every task: give --tasks too"))
			}
			if after < 0 {
				return usageError(fmt.Errorf("--after %d must be a task id (0: from the first)", after))
			}
			return a.showRun(ctx, st, run, allTasks, showLimit, after)
		},
	}
	show.Flags().BoolVar(&allTasks, "tasks", false, "list every task (a page of --limit, then --after the last id shown), not just the failed and running ones")
	show.Flags().IntVar(&showLimit, "limit", 50, "tasks listed at most (1-10000); the rest are counted")
	show.Flags().Int64Var(&after, "after", 0, "with --tasks: list tasks after this id (the next page)")
	var (
		concurrency int
		quiet       bool
		progress    string
	)
	resume := &cobra.Command{
		Use:   "resume ID",
		Short: "Run the rest of a queued or interrupted run in this process",
		Args:  exactArgs(1, "one run id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			g, err := a.graph()
			if err != nil {
				return err
			}
			st, run, err := a.openRun(ctx, args[0], "")
			if err != nil {
				return err
			}
			defer st.Close()
			id := run.ID
			if run.Status == store.RunPaused || run.Status == store.RunTripped {
				return usageError(fmt.Errorf("run %d is %s; "+a.cfg.Name+" backfill resume %d lets it start tasks again", id, run.Status, id))
			}
			if run.Status != store.RunRunning {
				return usageError(fmt.Errorf("run %d has finished (%s); nothing to resume", id, run.Status))
			}
			bucket, err := a.openBucket(ctx)
			if err != nil {
				return err
			}
			defer bucket.Close()
			if quiet {
				progress = progressNone
			}
			v, err := a.newView(progress)
			if err != nil {
				return usageError(err)
			}
			return a.runHere(ctx, st, bucket, g, id, concurrency, v, nil)
		},
	}
	resume.Flags().IntVarP(&concurrency, "concurrency", "c", 4, "tasks running at once")
	resume.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress (the same as --progress none)")
	resume.Flags().StringVar(&progress, "progress", progressAuto, "auto (bars on a terminal, else plain lines), bars, plain, json or none")
	var reason string
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a run of any kind: nothing more starts, running tasks are interrupted and publish nothing",
		Args:  exactArgs(1, "one run id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, run, err := a.openRun(ctx, args[0], "")
			if err != nil {
				return err
			}
			defer st.Close()
			return a.cancelRun(ctx, st, run, scheduler.CurrentUser(a.cfg.Getenv), reason)
		},
	}
	cancel.Flags().StringVar(&reason, "reason", "", "why, for the audit trail")
	cmd.AddCommand(list, show, resume, cancel)
	return cmd
}

// listRuns returns the newest limit runs (of kind, if set).
func (a *app) listRuns(ctx context.Context, kind string, limit int) ([]*store.Run, error) {
	if limit < 0 {
		return nil, usageError(fmt.Errorf("--limit %d must be 0 (all) or more", limit))
	}
	if limit == 0 {
		limit = -1 // all, as in tasks list
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	runs, err := st.RunList(ctx, store.RunListParams{Kind: kind, Limit: limit})
	if err != nil {
		return nil, failedError(err)
	}
	return runs, nil
}

// parseID reads a positive id given on the command line.
func parseID(kind, arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, usageError(fmt.Errorf("%s id %q is not a positive whole number", kind, arg))
	}
	return id, nil
}

// openRun opens the store and loads the run named on the command line (a
// missing one is bad input); with kind set, the run must be of that kind.
// The caller closes the store.
func (a *app) openRun(ctx context.Context, arg, kind string) (store.Store, *store.Run, error) {
	noun, list := "run", ""+a.cfg.Name+" runs list shows the runs"
	if kind == "backfill" {
		noun, list = kind, ""+a.cfg.Name+" backfill list shows the backfills"
	}
	id, err := parseID(noun, arg)
	if err != nil {
		return nil, nil, err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	run, err := st.RunGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && kind != "" && run.Kind != kind) {
		err = usageError(fmt.Errorf("%s %d does not exist (%s)", noun, id, list))
	} else if err != nil {
		err = failedError(err)
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, run, nil
}

type runJSON struct {
	ID     int64           `json:"id"`
	Kind   string          `json:"kind"`
	Status store.RunStatus `json:"status"`
	scheduler.RunRequest
	Assets    []string         `json:"assets"`
	Error     string           `json:"error,omitempty"`
	TaskCount int64            `json:"task_count"`
	Tasks     map[string]int64 `json:"tasks"`
}

func toRunJSON(r *store.Run) runJSON {
	j := runJSON{ID: r.ID, Kind: r.Kind, Status: r.State(), RunRequest: scheduler.RequestOf(r), Assets: r.Assets, Error: r.Error,
		TaskCount: r.TaskCount(), Tasks: map[string]int64{}}
	for _, s := range store.TaskStates {
		j.Tasks[string(s)] = r.Tasks[s]
	}
	return j
}

func took(r runJSON) string {
	if r.FinishedAt == nil {
		return "-"
	}
	return r.FinishedAt.Sub(r.CreatedAt).Round(time.Millisecond).String()
}

// showRun prints a run in bounded time and memory whatever its size:
// counts per asset from the run's counters, then the failed and running
// tasks (at most limit of each; how many more there are), or with all a
// page of every task after the task id after.
func (a *app) showRun(ctx context.Context, st store.Store, run *store.Run, all bool, limit int, after int64) error {
	p, err := st.RunProgress(ctx, store.RunProgressParams{ID: run.ID})
	if err != nil {
		return failedError(err)
	}
	run = p.Run
	rj := toRunJSON(run)
	type assetJSON struct {
		Asset string                    `json:"asset"`
		Tasks int64                     `json:"tasks"`
		State map[store.TaskState]int64 `json:"by_state"`
	}
	perAsset := map[string]*assetJSON{}
	assets := []*assetJSON{}
	for _, name := range rj.Assets {
		aj := &assetJSON{Asset: name, State: map[store.TaskState]int64{}}
		for _, s := range store.TaskStates {
			aj.State[s] = 0
		}
		perAsset[name], assets = aj, append(assets, aj)
	}
	for _, ap := range p.Assets {
		if aj := perAsset[ap.Asset]; aj != nil {
			aj.State[ap.State] += ap.Tasks
			aj.Tasks += ap.Tasks
		}
	}
	// The tasks listed, and how many of each state were left out.
	tj := []taskJSON{}
	leftOut := map[store.TaskState]int64{}
	var next string
	if all {
		tasks, err := st.TaskList(ctx, store.TaskListParams{RunID: run.ID, AfterID: after, Limit: limit + 1})
		if err != nil {
			return failedError(err)
		}
		for i, t := range tasks {
			if i == limit {
				next = fmt.Sprintf("%s runs show %d --tasks --limit %d --after %d", a.cfg.Name, run.ID, limit, tasks[i-1].ID)
				break
			}
			tj = append(tj, toTaskJSON(t))
		}
	} else {
		for _, state := range []store.TaskState{store.TaskFailed, store.TaskRunning} {
			tasks, err := st.TaskList(ctx, store.TaskListParams{RunID: run.ID, State: state, Limit: limit})
			if err != nil {
				return failedError(err)
			}
			for _, t := range tasks {
				tj = append(tj, toTaskJSON(t))
			}
			if n := run.Tasks[state] - int64(len(tasks)); n > 0 {
				leftOut[state] = n
			}
		}
		sort.Slice(tj, func(i, j int) bool { return tj[i].ID < tj[j].ID })
	}
	if a.output == "json" {
		out := map[string]any{"run": rj, "assets": assets, "tasks": tj}
		if !all {
			out["tasks_left_out"] = leftOut
		}
		if next != "" {
			out["next"] = next
		}
		return a.json(out)
	}
	w := a.table()
	for _, r := range [][2]string{
		{"run", strconv.FormatInt(rj.ID, 10)}, {"status", string(rj.Status)}, {"kind", rj.Kind}, {"selection", rj.Selection},
		{"assets", strings.Join(rj.Assets, ", ")}, {"partitions", dash(rj.Partitions)}, {"reprocess", rj.Reprocess},
		{"created by", rj.CreatedBy}, {"created", fmtTime(rj.CreatedAt)}, {"took", took(rj)}, {"error", dash(rj.Error)},
	} {
		fmt.Fprintf(w, "%s:\t%s\n", r[0], r[1])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ASSET\tTASKS\tPENDING\tRUNNING\tSUCCEEDED\tFAILED\tSKIPPED\tCANCELLED")
	for _, aj := range assets {
		c := aj.State
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", aj.Asset, aj.Tasks, c[store.TaskPending], c[store.TaskRunning], c[store.TaskSucceeded],
			c[store.TaskFailed], c[store.TaskSkipped], c[store.TaskCancelled])
	}
	if len(tj) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "TASK\tASSET\tPARTITIONS\tSTATE\tATTEMPTS\tERROR")
		for _, t := range tj {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\n", t.ID, t.Asset, t.Partitions, t.State, t.Attempts, dash(firstLine(t.Error)))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if n := run.Tasks[store.TaskSkipped]; n > 0 && !all {
		fmt.Fprintf(a.cfg.Stdout, "%s not run because an upstream task failed (%s tasks list --run %d --state skipped)\n", plural(n, "task"), a.cfg.Name, run.ID)
	}
	for _, state := range []store.TaskState{store.TaskFailed, store.TaskRunning} {
		if n := leftOut[state]; n > 0 {
			fmt.Fprintf(a.cfg.Stdout, "%s more %s not listed (%s tasks list --run %d --state %s --limit 0)\n", plural(n, "task"), state, a.cfg.Name, run.ID, state)
		}
	}
	if next != "" {
		fmt.Fprintf(a.cfg.Stdout, "more tasks: %s\n", next)
	}
	return nil
}
