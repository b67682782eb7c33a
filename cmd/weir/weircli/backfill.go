package weircli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/backfill"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// backfillOpts are backfill create's flags: the library's options, and
// how this process runs or follows the backfill.
type backfillOpts struct {
	backfill.Options
	parts                         partitionFlags
	progress                      string
	concurrency                   int
	leaseTimeout                  time.Duration
	dryRun, wait, local, failOnly bool
}

func (a *app) backfillCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backfill",
		Short: "Create, throttle, pause, resume, cancel, retry and audit backfills",
		Long: `A backfill re-runs a selection of assets over a range of partitions, as a durable
object in the state store: created in one transaction, resumed where it stopped
after any crash, and never run twice for a partition already promoted.

Throttles hold across every worker on every host, because the store enforces
them when tasks are leased: --max-concurrent running tasks, --rate task starts
per second or minute, --pool and the pool's quota, and --priority (interactive
and scheduled runs outrank backfills; a backfill waiting long enough rises a
level every 5 minutes, so it is never starved). A circuit breaker
(--max-failure-rate with --min-tasks, --max-consecutive-failures) stops new
starts when too much fails, and waits for resume or cancel.

On the embedded store, create --wait (or resume) runs the backfill in this
process; with a shared store (postgres://) workers run it (weir worker).`,
	}
	cmd.AddCommand(a.backfillCreateCommand(), a.backfillListCommand(), a.backfillStatusCommand(), a.backfillReportCommand(),
		a.backfillControlCommand("pause"), a.backfillControlCommand("resume"), a.backfillControlCommand("cancel"), a.backfillRetryCommand())
	return cmd
}

func (a *app) backfillCreateCommand() *cobra.Command {
	var o backfillOpts
	cmd := &cobra.Command{
		Use:   "create --select EXPR (--from A --to B | --partition-range A...B | --partition K1,K2,...)",
		Short: "Plan and store a backfill (--dry-run previews it, --wait runs it)",
		Example: `  weir backfill create --select '*' --from 2024-01-01 --to 2024-01-31 --dry-run
  weir backfill create --select cleaned_orders+ --from 2024-01-01 --to 2024-12-31 --reprocess all \
      --max-concurrent 2 --rate 5/s --priority low --max-failure-rate 0.2 --min-tasks 20 --wait
  weir backfill create --select daily_revenue --partition 2024-03-01,2024-03-05 --reprocess all`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.backfillCreate(cmd.Context(), o) },
	}
	f := cmd.Flags()
	d := backfill.Defaults()
	f.StringVarP(&o.Select, "select", "s", "", "assets to backfill (required)")
	o.parts.register(f, "partitions to backfill")
	f.StringVar(&o.Reprocess, "reprocess", d.Reprocess, "which requested partitions run: missing, failed, stale (made by other code or from replaced inputs, and what reads them) or all")
	f.StringVar(&o.Order, "order", d.Order, "oldest-first or newest-first")
	f.IntVar(&o.MaxConcurrent, "max-concurrent", 0, "running tasks of this backfill at most, across all workers (0: no limit)")
	f.StringVar(&o.Rate, "rate", "", "task starts at most, across all workers, e.g. 5/s or 120/m")
	f.StringVar(&o.Pool, "pool", "", "run every task in this pool (and under its quota) instead of its asset's")
	f.StringVar(&o.Priority, "priority", d.Priority, "low, normal or high; interactive runs are high")
	f.Float64Var(&o.MaxFailureRate, "max-failure-rate", 0, "trip the breaker when more than this share of finished tasks failed (0-1)")
	f.IntVar(&o.MinTasks, "min-tasks", d.MinTasks, "tasks that must finish before --max-failure-rate applies")
	f.IntVar(&o.MaxConsecutiveFailures, "max-consecutive-failures", 0, "trip the breaker after this many failed tasks in a row (0: off)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would run and an estimate; store nothing")
	a.runFlags(cmd, &o)
	return cmd
}

// runFlags are the flags of commands that may run a backfill here.
func (a *app) runFlags(cmd *cobra.Command, o *backfillOpts) {
	f := cmd.Flags()
	f.BoolVar(&o.wait, "wait", false, "run the backfill in this process (embedded store) or follow the workers (shared store) until it ends")
	f.BoolVar(&o.local, "local", false, "with --wait and a shared store: run the tasks in this process too")
	f.IntVarP(&o.concurrency, "concurrency", "c", 4, "tasks this process runs at once")
	f.StringVar(&o.progress, "progress", progressAuto, "auto (bars on a terminal, else lines), bars, plain, json (NDJSON on stdout) or none")
	f.DurationVar(&o.leaseTimeout, "lease-timeout", 30*time.Second, "when this process runs tasks: how long its leases live without a heartbeat")
}

// checkRun checks the flags of runFlags.
func (o backfillOpts) checkRun() error {
	if o.concurrency < 1 {
		return fmt.Errorf("--concurrency %d must be at least 1", o.concurrency)
	}
	if o.leaseTimeout < time.Second {
		return fmt.Errorf("--lease-timeout %s must be at least 1s", o.leaseTimeout)
	}
	return checkProgress(o.progress)
}

// flagError says an option error as the command line names it: by its
// flag.
func flagError(err error) error {
	var oe *backfill.OptionError
	if errors.As(err, &oe) {
		return errors.New(oe.Flag())
	}
	return err
}

func (a *app) backfillCreate(ctx context.Context, o backfillOpts) error {
	if err := o.checkRun(); err != nil {
		return usageError(err)
	}
	parts, err := o.parts.expr()
	if err != nil {
		return usageError(err)
	}
	o.Partitions = parts
	if _, _, err := o.Check(); err != nil {
		return usageError(flagError(err))
	}
	v, err := a.newView(o.progress)
	if err != nil {
		return usageError(err)
	}
	g, err := a.graph()
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := backfill.PlanOf(ctx, st, g, o.Options, a.cfg.Clock.Now())
	if errors.Is(err, backfill.ErrInput) {
		return usageError(flagError(err))
	}
	if err != nil {
		return failedError(err)
	}
	pj := toPlanJSON(p.Plan)
	if o.dryRun || p.Plan.Empty() {
		pre, err := p.Preview(ctx, st, o.concurrency)
		if err != nil {
			return failedError(err)
		}
		if a.output == "json" {
			return a.json(map[string]any{"plan": pre.Plan, "estimate": pre.Estimate, "dry_run": o.dryRun})
		}
		a.printPlan(pj)
		if p.Plan.Empty() {
			fmt.Fprintf(a.cfg.Stdout, "nothing to backfill: %s; nothing was stored\n", nothingToRun(pj))
			return nil
		}
		fmt.Fprintf(a.cfg.Stdout, "estimate: %s\n", pre.Estimate)
		fmt.Fprintln(a.cfg.Stdout, "dry run: nothing was stored or run")
		return nil
	}
	run, err := p.Create(ctx, st, scheduler.CurrentUser(a.cfg.Getenv))
	if errors.Is(err, backfill.ErrInput) {
		return usageError(err)
	}
	if err != nil {
		return failedError(err)
	}
	if a.output == "json" && !o.wait {
		return a.json(map[string]any{"backfill": run.ID, "status": string(run.State()), "tasks": run.TaskCount(), "plan": pj})
	}
	if a.output != "json" && o.progress != progressJSON {
		a.printPlan(pj)
		fmt.Fprintf(a.cfg.Stdout, "backfill %d created: %s, %s\n", run.ID, plural(run.TaskCount(), "task"), scheduler.ThrottleString(run))
	}
	return a.carryOn(ctx, st, g, run.ID, o, v)
}

// carryOn runs or follows a stored backfill as the flags say, or tells how
// it will run.
func (a *app) carryOn(ctx context.Context, st store.Store, g *lineage.Graph, id int64, o backfillOpts, v view) error {
	switch {
	case o.wait && (a.embedded() || o.local):
		return a.runBackfillHere(ctx, st, g, id, o, v)
	case o.wait:
		last, _ := a.showWhile(ctx, st, id, v, func() error { a.waitDone(ctx, st, id); return nil })
		return a.backfillOutcome(ctx, st, id, last)
	case a.embedded():
		fmt.Fprintf(a.cfg.Stdout, "run it here with "+a.cfg.Name+" backfill resume %d (or start "+a.cfg.Name+" worker); follow it with "+a.cfg.Name+" backfill status %d\n", id, id)
	default:
		fmt.Fprintf(a.cfg.Stdout, "workers run it ("+a.cfg.Name+" worker --store ...); follow it with "+a.cfg.Name+" backfill status %d --watch\n", id)
	}
	return nil
}

// waitDone returns once the run is no longer running, or ctx ends.
func (a *app) waitDone(ctx context.Context, st store.Store, id int64) {
	for ctx.Err() == nil {
		if run, err := st.RunGet(ctx, id); err == nil && run.Status != store.RunRunning {
			return
		}
		select {
		case <-ctx.Done():
		case <-st.TaskWake():
		case <-a.cfg.Clock.After(time.Second):
		}
	}
}

// runBackfillHere works on the backfill in this process until it ends, is
// paused or tripped, or ctx ends, showing progress.
func (a *app) runBackfillHere(ctx context.Context, st store.Store, g *lineage.Graph, id int64, o backfillOpts, v view) error {
	bucket, err := a.openBucket(ctx)
	if err != nil {
		return err
	}
	defer bucket.Close()
	if run, err := st.RunGet(ctx, id); err == nil && len(run.WaitsFor) > 0 && o.progress != progressJSON {
		fmt.Fprintf(a.cfg.Stderr, "backfill %d reads partitions queued in run %s; their tasks run here too\n", id, joinIDs(run.WaitsFor))
	}
	hook, stop, err := a.lineageEvents(ctx, st)
	if err != nil {
		return err
	}
	defer stop()
	ex := &scheduler.Executor{Store: st, Bucket: bucket, Concurrency: o.concurrency, Clock: a.cfg.Clock, Worker: a.cfg.Getenv("WEIR_WORKER_ID"),
		LeaseTimeout: o.leaseTimeout, OnEvent: chain(hook, v.task)}
	last, runErr := a.showWhile(ctx, st, id, v, func() error {
		return ex.Work(ctx, g, id)
	})
	if runErr != nil {
		return failedError(runErr)
	}
	return a.backfillOutcome(ctx, st, id, last)
}

// backfillOutcome reports how a backfill we ran or followed ended, and
// the exit status that implies.
func (a *app) backfillOutcome(ctx context.Context, st store.Store, id int64, last *snapshot) error {
	ctx = context.WithoutCancel(ctx)
	run, err := st.RunGet(ctx, id)
	if err != nil {
		return failedError(err)
	}
	if last == nil || last.Status != string(run.State()) {
		if last, err = takeSnapshot(ctx, st, id, a.cfg.Clock.Now()); err != nil {
			return failedError(err)
		}
	}
	if a.output == "json" {
		if err := a.json(last); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(a.cfg.Stdout)
		if err := a.printSnapshot(last); err != nil {
			return err
		}
	}
	switch run.Status {
	case store.RunSucceeded:
		return nil
	case store.RunFailed:
		return failedError(fmt.Errorf("backfill %d failed: %s ("+a.cfg.Name+" backfill retry %d --failed-only re-runs them; "+a.cfg.Name+" backfill report %d)", id, run.Error, id, id))
	case store.RunPaused: // an operator's decision, not a failure
		fmt.Fprintf(a.cfg.Stdout, "backfill %d is paused: running tasks finished, nothing more starts; "+a.cfg.Name+" backfill resume %d carries on\n", id, id)
		return nil
	case store.RunTripped:
		return failedError(fmt.Errorf("backfill %d tripped its circuit breaker: %s; "+a.cfg.Name+" backfill resume %d or cancel %d", id, run.TripReason, id, id))
	case store.RunCancelled:
		return failedError(fmt.Errorf("backfill %d was cancelled: %s", id, run.Error))
	}
	return failedError(fmt.Errorf("backfill %d interrupted with %s left; "+a.cfg.Name+" backfill resume %d carries on (promoted partitions do not run again)",
		id, plural(run.Tasks[store.TaskPending]+run.Tasks[store.TaskRunning], "task"), id))
}

// openBackfill opens the store and loads the backfill named on the command
// line; the caller closes the store.
func (a *app) openBackfill(ctx context.Context, arg string) (store.Store, *store.Run, error) {
	return a.openRun(ctx, arg, "backfill")
}

func (a *app) backfillListCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List backfills, newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			runs, err := a.listRuns(cmd.Context(), "backfill", limit)
			if err != nil {
				return err
			}
			type row struct {
				runJSON
				Throttle string `json:"throttle"`
			}
			out := make([]row, 0, len(runs))
			for _, r := range runs {
				out = append(out, row{toRunJSON(r), scheduler.ThrottleString(r)})
			}
			if a.output == "json" {
				return a.json(out)
			}
			w := a.table()
			fmt.Fprintln(w, "BACKFILL\tSTATUS\tSELECTION\tPARTITIONS\tSUCCEEDED\tFAILED\tSKIPPED\tCANCELLED\tTHROTTLE\tBY\tCREATED")
			for _, r := range out {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d/%d\t%d\t%d\t%d\t%s\t%s\t%s\n", r.ID, r.Status, r.Selection, dash(r.Partitions),
					r.Tasks[string(store.TaskSucceeded)], r.TaskCount, r.Tasks[string(store.TaskFailed)], r.Tasks[string(store.TaskSkipped)],
					r.Tasks[string(store.TaskCancelled)], r.Throttle, r.CreatedBy, fmtTime(r.CreatedAt))
			}
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many backfills at most (0: all)")
	return cmd
}

func (a *app) backfillStatusCommand() *cobra.Command {
	var watch bool
	var progress, apiURL string
	cmd := &cobra.Command{
		Use:   "status ID [--watch] [--api URL]",
		Short: "Show a backfill's progress per asset, pace, ETA, throttle and breaker",
		Long: `Show a backfill's progress per asset, pace, ETA, throttle and breaker.

With --api it asks a running "` + a.cfg.Name + ` serve --http" instead of opening the
state store: no database session to start, no store credentials on this
host. The bearer token, if the server wants one, is read from WEIR_TOKEN.`,
		Args: exactArgs(1, "one backfill id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			v, err := a.newView(progress)
			if err != nil {
				return usageError(err)
			}
			if apiURL != "" {
				return a.backfillStatusFromAPI(ctx, apiURL, args[0], watch, v)
			}
			st, run, err := a.openBackfill(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			if watch && run.Status.Active() {
				a.showWhile(ctx, st, run.ID, v, func() error { a.waitDone(ctx, st, run.ID); return nil })
				if run, err = st.RunGet(context.WithoutCancel(ctx), run.ID); err != nil {
					return failedError(err)
				}
			}
			s, err := takeSnapshot(context.WithoutCancel(ctx), st, run.ID, a.cfg.Clock.Now())
			if err != nil {
				return failedError(err)
			}
			if a.output == "json" {
				return a.json(s)
			}
			return a.printSnapshot(s)
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the backfill until it is no longer running")
	cmd.Flags().StringVar(&progress, "progress", progressAuto, "with --watch: auto, bars, plain, json or none")
	cmd.Flags().StringVar(&apiURL, "api", "", "ask the HTTP API of a running serve --http at this address (http://HOST:PORT) instead of the store")
	return cmd
}

func (a *app) backfillControlCommand(verb string) *cobra.Command {
	short := map[string]string{
		"pause":  "Stop starting new tasks of a backfill; running ones finish",
		"resume": "Resume a paused, tripped or interrupted backfill (on the embedded store: run it here)",
		"cancel": "Cancel a backfill: nothing more starts, running tasks are interrupted and publish nothing",
	}[verb]
	var o backfillOpts
	var reason string
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  exactArgs(1, "one backfill id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, run, err := a.openBackfill(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			by, now := scheduler.CurrentUser(a.cfg.Getenv), a.cfg.Clock.Now()
			switch verb {
			case "pause":
				if _, err := st.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunPaused, Actor: by, Reason: reason, At: now}); err != nil {
					return stateError(ctx, st, run.ID, err, "only a running backfill can be paused")
				}
				fmt.Fprintf(a.cfg.Stdout, "backfill %d paused: no new task starts (running ones finish); "+a.cfg.Name+" backfill resume %d carries on\n", run.ID, run.ID)
				return nil
			case "cancel":
				return a.cancelRun(ctx, st, run, by, reason)
			}
			// resume
			if err := o.checkRun(); err != nil {
				return usageError(err)
			}
			if run.Status == store.RunPaused || run.Status == store.RunTripped {
				if run, err = st.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunRunning, Actor: by, Reason: reason, At: now}); err != nil {
					return stateError(ctx, st, run.ID, err, "only a paused or tripped backfill can be resumed")
				}
				fmt.Fprintf(a.cfg.Stdout, "backfill %d resumed\n", run.ID)
			} else if run.Status != store.RunRunning {
				return usageError(fmt.Errorf("backfill %d is %s; nothing to resume ("+a.cfg.Name+" backfill retry %d --failed-only re-runs failed tasks)",
					run.ID, string(run.State()), run.ID))
			}
			return a.resumeHere(ctx, st, run.ID, o)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit trail")
	if verb == "resume" {
		a.runFlags(cmd, &o)
	}
	return cmd
}

// resumeHere carries on a backfill after resume or retry: in this process
// on the embedded store, else by the workers (followed with --wait).
func (a *app) resumeHere(ctx context.Context, st store.Store, id int64, o backfillOpts) error {
	v, err := a.newView(o.progress)
	if err != nil {
		return usageError(err)
	}
	if !a.embedded() && !o.wait {
		fmt.Fprintf(a.cfg.Stdout, "workers carry it on; follow it with "+a.cfg.Name+" backfill status %d --watch\n", id)
		return nil
	}
	g, err := a.graph()
	if err != nil {
		return err
	}
	o.wait = true
	return a.carryOn(ctx, st, g, id, o, v)
}

func (a *app) backfillRetryCommand() *cobra.Command {
	var o backfillOpts
	cmd := &cobra.Command{
		Use:   "retry ID --failed-only",
		Short: "Re-queue exactly the failed tasks of a backfill (and those skipped below them), then carry on",
		Args:  exactArgs(1, "one backfill id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !o.failOnly {
				return usageError(errors.New("retry re-runs failed tasks only: pass --failed-only (to run everything again, create a backfill with --reprocess all)"))
			}
			if err := o.checkRun(); err != nil {
				return usageError(err)
			}
			st, run, err := a.openBackfill(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.RunRetryFailed(ctx, store.RunRetryFailedParams{ID: run.ID, Actor: scheduler.CurrentUser(a.cfg.Getenv), At: a.cfg.Clock.Now()})
			if err != nil {
				return stateError(ctx, st, run.ID, err, "retry re-queues the failed tasks of a backfill that failed or tripped")
			}
			fmt.Fprintf(a.cfg.Stdout, "backfill %d: %s and %s below them queued again\n", run.ID, plural(res.Failed, "failed task"), plural(res.Skipped, "skipped task"))
			return a.resumeHere(ctx, st, run.ID, o)
		},
	}
	cmd.Flags().BoolVar(&o.failOnly, "failed-only", false, "re-run the failed tasks and nothing that succeeded (required)")
	a.runFlags(cmd, &o)
	return cmd
}

// joinIDs lists ids for a message.
func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// stateError explains a status change the store refused (bad input, exit
// 2) in the backfill's own terms; other errors exit 1.
func stateError(ctx context.Context, st store.Store, id int64, err error, rule string) error {
	if !errors.Is(err, store.ErrRunState) && !errors.Is(err, store.ErrNothingToRetry) {
		return failedError(err)
	}
	run, gerr := st.RunGet(ctx, id)
	if gerr != nil {
		return usageError(err)
	}
	if errors.Is(err, store.ErrNothingToRetry) {
		return usageError(fmt.Errorf("backfill %d (%s) has no failed tasks to retry", id, run.State()))
	}
	return usageError(fmt.Errorf("%s %d has status %s; %s", scheduler.RunNoun(run.Kind), id, run.State(), rule))
}

// cancelRun cancels a run of any kind: nothing more starts, running
// attempts lose their leases (they publish nothing), in one transaction.
func (a *app) cancelRun(ctx context.Context, st store.Store, run *store.Run, by, reason string) error {
	noun := scheduler.RunNoun(run.Kind)
	res, err := st.RunCancel(ctx, store.RunCancelParams{ID: run.ID, Actor: by, Reason: reason, At: a.cfg.Clock.Now()})
	if err != nil {
		return stateError(ctx, st, run.ID, err, "only a queued, running, paused or tripped "+noun+" can be cancelled")
	}
	fmt.Fprintf(a.cfg.Stdout, "%s %d cancelled: %s will not start, %s interrupted (their outputs are not promoted)\n",
		noun, run.ID, plural(res.Pending, "pending task"), plural(res.Interrupted, "running task"))
	if len(res.Skipped) > 0 {
		fmt.Fprintf(a.cfg.Stdout, "%s of other runs that waited for it will not run\n", plural(int64(len(res.Skipped)), "task"))
	}
	return nil
}
