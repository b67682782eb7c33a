package weircli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gocloud.dev/blob"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

type materializeOpts struct {
	selection   string
	parts       partitionFlags
	reprocess   string
	concurrency int
	dryRun      bool
	quiet       bool
	progress    string
	local       bool
	wait        bool
}

func (a *app) materializeCommand() *cobra.Command {
	var o materializeOpts
	cmd := &cobra.Command{
		Use:   "materialize --select EXPR [--partition K[,K...] | --partition-range A...B | --from A --to B]",
		Short: "Plan and run the work that makes the selected partitions fresh",
		Long: `materialize plans the tasks that make the selected assets' partitions fresh and
stores them as a run. On the embedded store (sqlite://) it then runs them in this
process; with a shared store (postgres://) workers run them (weir worker), and
--wait follows the run (--local runs it here instead). Downstream tasks start as
soon as the partitions they read are promoted. Each output is checksummed,
audited and promoted only then. An interrupted run stays queued: weir runs
resume ID carries on.

Selection: KEY, +KEY (and upstream), KEY+ (and downstream), 2+KEY, tag:NAME,
group:NAME, * and commas for union. Partitions use each asset's key format, e.g.
2024-01-01 for daily partitions; ranges are FIRST...LAST, both included.`,
		Example: `  weir materialize --select '*' --partition-range 2024-01-01...2024-01-31
  weir materialize --select +daily_revenue --partition 2024-01-05 --reprocess all
  weir materialize --select tag:nightly --partition-range 2024-01-01...2024-01-07 --dry-run`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.materialize(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.selection, "select", "s", "", "assets to materialize (required)")
	o.parts.register(f, "partitions to materialize")
	f.StringVar(&o.reprocess, "reprocess", "missing", "which requested partitions run: missing, failed, stale (made by other code or from replaced inputs, and what reads them) or all")
	f.IntVarP(&o.concurrency, "concurrency", "c", 4, "tasks running at once")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan; store and run nothing")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress (the same as --progress none)")
	f.StringVar(&o.progress, "progress", progressAuto, "auto (bars on a terminal, else plain lines), bars, plain, json (NDJSON on stdout) or none")
	f.BoolVar(&o.local, "local", false, "run the tasks in this process even with a shared store (the default on sqlite://)")
	f.BoolVar(&o.wait, "wait", false, "with a shared store: wait for the workers to finish the run, showing progress")
	return cmd
}

// planJSON is how commands show a plan: the summary stored with the run.
type planJSON = plan.Summary

func toPlanJSON(pl *plan.Plan) planJSON { return pl.Summarize() }

type runResultJSON struct {
	RunID     int64               `json:"run_id"`
	Status    store.RunStatus     `json:"status"`
	Tasks     int                 `json:"tasks"`
	Attempts  int                 `json:"attempts"`
	Succeeded int                 `json:"succeeded"`
	Failed    int                 `json:"failed"`
	Skipped   int                 `json:"skipped"`
	NotRun    int                 `json:"not_run"`
	Seconds   float64             `json:"seconds"`
	Assets    []assetResultJSON   `json:"assets"`
	Failures  []scheduler.Failure `json:"failures"`
	// FailuresLeftOut counts failed tasks beyond the first
	// scheduler.MaxFailures (runs show ID --tasks lists them all).
	FailuresLeftOut int `json:"failures_left_out"`
}

type assetResultJSON struct {
	Asset     string     `json:"asset"`
	Succeeded rangesJSON `json:"succeeded"`
	Failed    rangesJSON `json:"failed"`
	Skipped   rangesJSON `json:"skipped"`
	NotRun    rangesJSON `json:"not_run"`
	Attempts  int        `json:"attempts"`
}

func (a *app) materialize(cmd *cobra.Command, o materializeOpts) error {
	ctx := cmd.Context()
	if o.selection == "" {
		return usageError(errors.New("--select is required, e.g. --select '*' or --select +daily_revenue"))
	}
	parts, err := o.parts.expr()
	if err != nil {
		return usageError(err)
	}
	if o.quiet {
		o.progress = progressNone
	}
	v, err := a.newView(o.progress)
	if err != nil {
		return usageError(err)
	}
	if o.concurrency < 1 {
		return usageError(fmt.Errorf("--concurrency %d must be at least 1", o.concurrency))
	}
	reprocess, err := plan.ParseReprocess(o.reprocess)
	if err != nil {
		return usageError(err)
	}
	req := plan.Request{Selection: o.selection, Partitions: parts, Reprocess: reprocess}
	g, st, pl, err := a.planFor(ctx, req)
	if err != nil {
		return err
	}
	defer st.Close()
	pj := toPlanJSON(pl)
	if o.dryRun || pl.Empty() {
		if a.output == "json" {
			return a.json(map[string]any{"plan": pj, "dry_run": o.dryRun})
		}
		if pl.Empty() {
			var queued int64
			runs := map[int64]bool{}
			var ids []string
			for _, ap := range pl.Assets {
				queued += ap.InFlight.Len()
				for _, id := range ap.InFlightRuns {
					if !runs[id] {
						runs[id] = true
						ids = append(ids, fmt.Sprint(id))
					}
				}
			}
			if queued > 0 {
				a.printPlan(pj)
				fmt.Fprintf(a.cfg.Stdout, "nothing new to run: %s already queued in run %s, the rest kept by --reprocess %s ("+a.cfg.Name+" runs resume %s runs it here, or start "+a.cfg.Name+" worker)\n",
					plural(queued, "partition"), strings.Join(ids, ", "), pj.Reprocess, ids[0])
				return nil
			}
			fmt.Fprintf(a.cfg.Stdout, "nothing to run: %s\n", nothingToRun(pj))
			return nil
		}
		a.printPlan(pj)
		fmt.Fprintln(a.cfg.Stdout, "dry run: nothing was stored or run")
		return nil
	}
	tg, err := pl.Expand()
	if err != nil {
		return usageError(err)
	}
	bucket, err := a.openBucket(ctx)
	if err != nil {
		return err
	}
	defer bucket.Close()
	if a.output == "table" {
		a.printPlan(pj)
	}
	by := scheduler.CurrentUser(a.cfg.Getenv)
	if !o.local && !a.embedded() {
		run, _, err := scheduler.Enqueue(ctx, st, tg, scheduler.EnqueueOpts{CreatedBy: by, Priority: store.PriorityHigh, Now: a.cfg.Clock.Now()})
		if err != nil {
			return failedError(err)
		}
		if !o.wait {
			if a.output == "json" {
				return a.json(map[string]any{"plan": pj, "run_id": run.ID, "status": run.Status})
			}
			fmt.Fprintf(a.cfg.Stdout, "run %d queued: %s; workers run it ("+a.cfg.Name+" worker --store ...); follow it with "+a.cfg.Name+" runs show %d\n",
				run.ID, plural(run.TaskCount(), "task"), run.ID)
			return nil
		}
		return a.follow(ctx, st, g, run.ID, pj, v)
	}
	run, _, err := scheduler.Enqueue(ctx, st, tg, scheduler.EnqueueOpts{CreatedBy: by, Priority: store.PriorityHigh, Now: a.cfg.Clock.Now()})
	if err != nil {
		return failedError(err)
	}
	return a.runHere(ctx, st, bucket, g, run.ID, o.concurrency, v, &pj)
}

// runHere works on a run in this process until it ends (or ctx does),
// showing progress in v, and reports the outcome.
func (a *app) runHere(ctx context.Context, st store.Store, bucket *blob.Bucket, g *lineage.Graph, runID int64, concurrency int, v view, pj *planJSON) error {
	hook, stop, err := a.lineageEvents(ctx, st)
	if err != nil {
		return err
	}
	defer stop()
	ex := &scheduler.Executor{Store: st, Bucket: bucket, Concurrency: concurrency, Clock: a.cfg.Clock, Worker: a.cfg.Getenv("WEIR_WORKER_ID"),
		OnEvent: chain(hook, v.task)}
	var res *scheduler.Result
	_, err = a.showWhile(ctx, st, runID, v, func() (err error) {
		res, err = ex.Resume(ctx, g, runID)
		return err
	})
	if err != nil {
		return failedError(err)
	}
	return a.report(res, pj)
}

// planFor validates the assets, opens the store and plans req at the
// clock's now; the caller closes the store.
func (a *app) planFor(ctx context.Context, req plan.Request) (*lineage.Graph, store.Store, *plan.Plan, error) {
	g, err := a.graph()
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, req, a.cfg.Clock.Now())
	if err != nil {
		st.Close()
		return nil, nil, nil, usageError(err)
	}
	return g, st, pl, nil
}

// embedded reports whether the store is the embedded SQLite one, where
// materialize runs the work in this process by default.
func (a *app) embedded() bool { return strings.HasPrefix(a.store, "sqlite:") }

// report prints a run's result and returns the exit status it implies.
func (a *app) report(res *scheduler.Result, pj *planJSON) error {
	rj := runResultJSON{RunID: res.RunID, Status: res.Status, Tasks: res.Tasks, Attempts: res.Attempts, Succeeded: res.Succeeded,
		Failed: res.Failed, Skipped: res.Skipped, NotRun: res.NotRun, Failures: res.Failures, FailuresLeftOut: res.FailuresLeftOut}
	if !res.Finished.IsZero() {
		rj.Seconds = res.Finished.Sub(res.Started).Seconds()
	}
	for _, ar := range res.Assets {
		rj.Assets = append(rj.Assets, assetResultJSON{Asset: ar.Asset, Succeeded: ranges(ar.Def, ar.Succeeded), Failed: ranges(ar.Def, ar.Failed),
			Skipped: ranges(ar.Def, ar.Skipped), NotRun: ranges(ar.Def, ar.NotRun), Attempts: ar.Attempts})
	}
	if rj.Failures == nil {
		rj.Failures = []scheduler.Failure{}
	}
	if a.output == "json" {
		out := map[string]any{"run": rj}
		if pj != nil {
			out["plan"] = pj
		}
		if err := a.json(out); err != nil {
			return err
		}
	} else {
		a.printResult(rj, time.Duration(rj.Seconds*float64(time.Second)))
	}
	switch res.Status {
	case store.RunSucceeded:
		return nil
	case store.RunRunning:
		return failedError(fmt.Errorf("run %d interrupted: %s still queued; carry on with "+a.cfg.Name+" runs resume %d (or "+a.cfg.Name+" worker); promoted partitions do not run again",
			res.RunID, plural(int64(res.NotRun), "task"), res.RunID))
	}
	return failedError(fmt.Errorf("run %d %s: %d of %d tasks failed ("+a.cfg.Name+" runs show %d)", res.RunID, res.Status, res.Failed, res.Tasks, res.RunID))
}

// follow waits for a queued run that workers execute, printing progress.
func (a *app) follow(ctx context.Context, st store.Store, g *lineage.Graph, runID int64, pj planJSON, v view) error {
	_, _ = a.showWhile(ctx, st, runID, v, func() error { a.waitDoneWarning(ctx, st, runID); return nil })
	if ctx.Err() != nil {
		return failedError(fmt.Errorf("stopped following run %d; it goes on ("+a.cfg.Name+" runs show %d)", runID, runID))
	}
	res, err := scheduler.RunResult(context.WithoutCancel(ctx), st, g, runID)
	if err != nil {
		return failedError(err)
	}
	return a.report(res, &pj)
}

// waitDoneWarning waits as waitDone does, and says so once when the run
// starts nothing for a while and no worker is heartbeating.
func (a *app) waitDoneWarning(ctx context.Context, st store.Store, runID int64) {
	idleSince, warned, last := a.cfg.Clock.Now(), false, int64(-1)
	for ctx.Err() == nil {
		run, err := st.RunGet(ctx, runID)
		if err == nil {
			if run.Status != store.RunRunning {
				return
			}
			if done := run.Done(); run.Tasks[store.TaskRunning] > 0 || done != last {
				idleSince, last = a.cfg.Clock.Now(), done
			} else if !warned && a.cfg.Clock.Now().Sub(idleSince) >= noWorkerWarning && !a.anyWorker(ctx, st) {
				fmt.Fprintf(a.cfg.Stderr, "no worker has leased a task of run %d for %s: start one with "+a.cfg.Name+" worker --store ... (or "+a.cfg.Name+" runs resume %d runs it here)\n",
					runID, noWorkerWarning, runID)
				warned = true
			}
		}
		select {
		case <-ctx.Done():
		case <-st.TaskWake():
		case <-a.cfg.Clock.After(time.Second):
		}
	}
}

// noWorkerWarning is how long --wait watches a run start nothing before it
// says no worker is running.
const noWorkerWarning = 10 * time.Second

// anyWorker reports whether a worker is heartbeating.
func (a *app) anyWorker(ctx context.Context, st store.Store) bool {
	ws, err := st.WorkerList(ctx, store.WorkerListParams{Active: true})
	if err != nil {
		return true // say nothing we do not know
	}
	for _, w := range ws {
		if w.State(a.cfg.Clock.Now()) == store.WorkerRunning {
			return true
		}
	}
	return false
}

// nothingToRun says why a plan has nothing to run, in the words of its
// reprocess policy: under "missing" every kept partition has a version
// (fresh or stale); under "stale" or "failed" some may have none, and it
// says how many.
func nothingToRun(pj planJSON) string {
	var requested, kept, missing, queued int64
	for _, ap := range pj.Assets {
		requested += ap.Requested.Count
		kept += ap.Kept.Count
		missing += ap.KeptMissing.Count
		queued += ap.InFlight.Count
	}
	var note string
	switch pj.Reprocess {
	case string(plan.ReprocessMissing):
		note = "each has a current version: --reprocess stale runs the stale ones, --reprocess all every one"
	case string(plan.ReprocessFailed):
		note = "none failed"
	default:
		note = "none is " + pj.Reprocess
	}
	if missing > 0 {
		note += fmt.Sprintf("; %d without a current version: --reprocess missing makes them", missing)
	}
	why := fmt.Sprintf("of %s of %s, --reprocess %s keeps %d (%s)", plural(requested, "requested partition"), plural(int64(len(pj.Assets)), "asset"),
		pj.Reprocess, kept, note)
	if queued > 0 {
		why += fmt.Sprintf(" and %d are queued in another run", queued)
	}
	return why
}

func (a *app) printPlan(pj planJSON) {
	w := a.table()
	fmt.Fprintf(w, "plan: %s for %s (reprocess %s)\n", plural(pj.Tasks, "task"), plural(int64(len(pj.Assets)), "asset"), pj.Reprocess)
	inFlight := false
	for _, ap := range pj.Assets {
		inFlight = inFlight || ap.InFlight.Count > 0
	}
	if inFlight {
		fmt.Fprintln(w, "ASSET\tREQUESTED\tKEPT\tQUEUED ELSEWHERE\tTO RUN\tTASKS")
	} else {
		fmt.Fprintln(w, "ASSET\tREQUESTED\tKEPT\tTO RUN\tTASKS")
	}
	for _, ap := range pj.Assets {
		kept := strconv.FormatInt(ap.Kept.Count, 10)
		if ap.KeptMissing.Count > 0 {
			kept += fmt.Sprintf(" (%d missing)", ap.KeptMissing.Count)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t", ap.Asset, dash(ap.Requested.Ranges), kept)
		if inFlight {
			fmt.Fprintf(w, "%s\t", dash(ap.InFlight.Ranges))
		}
		fmt.Fprintf(w, "%s\t%d\n", dash(ap.ToRun.Ranges), ap.Tasks)
	}
	w.Flush()
	header := "why stale:\n"
	for _, ap := range pj.Assets {
		for _, why := range ap.WhyStale {
			fmt.Fprintf(a.cfg.Stdout, "%s  %s %s (%d): %s\n", header, ap.Asset, why.Ranges, why.Count, why.Why)
			header = ""
		}
	}
}

func (a *app) printResult(rj runResultJSON, took time.Duration) {
	w := a.table()
	counts := fmt.Sprintf("%d succeeded, %d failed, %d skipped", rj.Succeeded, rj.Failed, rj.Skipped)
	if rj.NotRun > 0 {
		counts += fmt.Sprintf(", %d not run", rj.NotRun)
	}
	fmt.Fprintf(w, "\nrun %d %s in %s: %s (%s, %s in compute and verify phases)\n", rj.RunID, rj.Status, took.Round(time.Millisecond), counts,
		plural(int64(rj.Tasks), "task"), plural(int64(rj.Attempts), "attempt"))
	if rj.NotRun > 0 {
		fmt.Fprintln(w, "ASSET\tSUCCEEDED\tFAILED\tSKIPPED\tNOT RUN")
	} else {
		fmt.Fprintln(w, "ASSET\tSUCCEEDED\tFAILED\tSKIPPED")
	}
	for _, ar := range rj.Assets {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s", ar.Asset, dash(ar.Succeeded.Ranges), dash(ar.Failed.Ranges), dash(ar.Skipped.Ranges))
		if rj.NotRun > 0 {
			fmt.Fprintf(w, "\t%s", dash(ar.NotRun.Ranges))
		}
		fmt.Fprintln(w)
	}
	for _, f := range rj.Failures {
		fmt.Fprintf(w, "failed: %s %s after %d attempt(s): %s\n", f.Asset, f.Partitions, f.Attempts, firstLine(f.Err))
	}
	if rj.FailuresLeftOut > 0 {
		fmt.Fprintf(w, "failed: %d more tasks (%s runs show %d --tasks)\n", rj.FailuresLeftOut, a.cfg.Name, rj.RunID)
	}
	w.Flush()
}

// progress prints one line a task event to stderr.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
