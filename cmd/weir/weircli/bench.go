package weircli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/scheduler/dispatchbench"
	"github.com/weir-dev/weir/store"
)

func (a *app) benchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure weir on this machine"}
	var o dispatchbench.Opts
	dispatch := &cobra.Command{
		Use:   "dispatch --store URL [--tasks N] [--workers W]",
		Short: "No-op tasks through the real queue: enqueue and completion rates, handoff latency",
		Long: `dispatch enqueues --tasks independent no-op tasks (each writes one byte to an
in-memory bucket, or to --blob when given, so leasing, audit and fenced promotion
all run), has --workers
workers (each with its own store connections, as on separate hosts) complete them,
then runs a chain of --chain one-task assets and measures the time from an upstream
task's promotion to its downstream task's start.

It records its runs in the store (assets named bench_*): point --store at a
scratch database or schema.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("store") && a.cfg.Getenv("WEIR_STORE") == "" {
				return usageError(errors.New("" + a.cfg.Name + " bench dispatch writes bench runs to the store: give --store explicitly (a scratch database)"))
			}
			if o.Tasks < 1 || o.Workers < 1 || o.Concurrency < 1 || o.Chain < 2 || o.Paused < 0 {
				return usageError(fmt.Errorf("--tasks, --workers and --concurrency must be at least 1, --chain at least 2 and --paused 0 or more (got %d, %d, %d, %d, %d)",
					o.Tasks, o.Workers, o.Concurrency, o.Chain, o.Paused))
			}
			ctx := cmd.Context()
			st, err := a.openStore(ctx) // check the URL before measuring
			if err != nil {
				return err
			}
			st.Close()
			o.Open = func(ctx context.Context) (store.Store, error) { return store.Open(ctx, a.store) }
			if cmd.Flags().Changed("blob") || a.cfg.Getenv("WEIR_BLOB") != "" {
				b, err := a.openBucket(ctx)
				if err != nil {
					return err
				}
				defer b.Close()
				o.Bucket = b
			}
			if strings.HasPrefix(a.store, "postgres") && dispatchbench.IsLocal(a.store) {
				o.DatabaseCPU = dispatchbench.LocalPostgresCPU
			}
			o.Now = a.cfg.Clock.Now()
			res, err := dispatchbench.Run(ctx, o)
			if err != nil {
				return failedError(err)
			}
			if a.output == "json" {
				return a.json(map[string]any{
					"tasks": res.Tasks, "workers": res.Workers, "concurrency": res.Concurrency, "chain": res.Chain, "paused_tasks": res.Paused,
					"enqueue_seconds": res.Enqueue.Seconds(), "enqueue_tasks_per_second": res.EnqueueRate(),
					"complete_seconds": res.Complete.Seconds(), "complete_tasks_per_second": res.CompletionRate(),
					"handoff_p50_ms": ms(res.Handoff(0.5)), "handoff_p95_ms": ms(res.Handoff(0.95)),
					"transactions_per_task": orNil(res.TransactionsPerTask()), "cpu_seconds_per_1000_tasks": res.CPUPer1000(res.CPU),
					"database_cpu_seconds_per_1000_tasks": orNil(res.CPUPer1000(res.DatabaseCPU)),
				})
			}
			w := a.table()
			fmt.Fprintf(w, "store:\t%s\n", redactURL(a.store))
			blobURL := "mem:// (in memory)"
			if o.Bucket != nil {
				blobURL = redactURL(a.blob)
			}
			fmt.Fprintf(w, "outputs:\t%s\n", blobURL)
			fmt.Fprintf(w, "tasks:\t%d (workers %d × concurrency %d)\n", res.Tasks, res.Workers, res.Concurrency)
			if res.Paused > 0 {
				fmt.Fprintf(w, "paused beside:\t%d tasks\n", res.Paused)
			}
			fmt.Fprintf(w, "enqueue:\t%.0f tasks/s (%s)\n", res.EnqueueRate(), res.Enqueue.Round(time.Millisecond))
			fmt.Fprintf(w, "complete:\t%.0f tasks/s (%s)\n", res.CompletionRate(), res.Complete.Round(time.Millisecond))
			fmt.Fprintf(w, "handoff:\tp50 %.2f ms, p95 %.2f ms (chain of %d)\n", ms(res.Handoff(0.5)), ms(res.Handoff(0.95)), res.Chain)
			fmt.Fprintf(w, "transactions:\t%s per task\n", unknownOr(res.TransactionsPerTask(), "%.3f"))
			db := unknownOr(res.CPUPer1000(res.DatabaseCPU), "%.3f s")
			if strings.HasPrefix(a.store, "sqlite") {
				db = "inside weir's (SQLite)"
			}
			fmt.Fprintf(w, "cpu per 1,000 tasks:\tweir %.3f s, database %s\n", res.CPUPer1000(res.CPU), db)
			return w.Flush()
		},
	}
	f := dispatch.Flags()
	f.IntVar(&o.Tasks, "tasks", 10_000, "independent no-op tasks")
	f.IntVar(&o.Workers, "workers", 1, "workers, each with its own store connections")
	f.IntVarP(&o.Concurrency, "concurrency", "c", 8, "tasks running at once per worker")
	f.IntVar(&o.Chain, "chain", 50, "length of the chain whose handoff latency is measured")
	f.IntVar(&o.Paused, "paused", 0, "first store a paused backfill of this many tasks beside the measured one (e.g. 1752000)")
	cmd.AddCommand(dispatch)
	return cmd
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// orNil is v, or nil (JSON null) when v is -1 (unknown).
func orNil(v float64) any {
	if v < 0 {
		return nil
	}
	return v
}

// unknownOr formats v, or says it is unknown when it is -1 (not
// measured: the database's CPU on another machine, say).
func unknownOr(v float64, format string) string {
	if v < 0 {
		return "unknown"
	}
	return fmt.Sprintf(format, v)
}
