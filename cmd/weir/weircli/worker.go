package weircli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/internal/urlredact"
	"github.com/weir-dev/weir/scheduler"
)

func (a *app) workerCommand() *cobra.Command {
	var (
		pools       []string
		concurrency int
		id          string
		lease       time.Duration
		grace       time.Duration
		poll        time.Duration
		metricsAddr string
	)
	cmd := &cobra.Command{
		Use:   "worker [--pool NAME ...] [--concurrency N] [--id NAME]",
		Short: "Run queued tasks until stopped; any number of workers on any hosts may share a store",
		Long: `worker leases runnable tasks from the state store and runs them, heartbeating its
leases and reaping the expired leases of workers that died. Start as many as you
like, on any hosts, against the same --store and --blob.

On SIGTERM or SIGINT it stops leasing, lets running tasks finish for up to
--grace, then releases what is left to the queue and exits 0. A second signal
exits at once (the leases then expire and other workers take the tasks).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if concurrency < 1 {
				return usageError(fmt.Errorf("--concurrency %d must be at least 1", concurrency))
			}
			if lease < time.Second {
				return usageError(fmt.Errorf("--lease-timeout %s must be at least 1s", lease))
			}
			if grace < 0 {
				return usageError(fmt.Errorf("--grace %s must be 0 or more", grace))
			}
			if poll < time.Millisecond {
				return usageError(fmt.Errorf("--poll %s must be at least 1ms", poll))
			}
			g, err := a.graph()
			if err != nil {
				return err
			}
			known := map[string]bool{}
			for _, as := range g.Assets() {
				known[as.PoolName()] = true
			}
			for _, p := range pools {
				if !known[p] {
					names := make([]string, 0, len(known))
					for n := range known {
						names = append(names, n)
					}
					sort.Strings(names)
					return usageError(fmt.Errorf("unknown pool %q: no asset uses it (pools in use: %s)", p, strings.Join(names, ", ")))
				}
			}
			ctx := cmd.Context()
			st, bucket, closeAll, err := a.openBoth(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			log := a.logger()
			hook, stop, err := a.lineageEvents(ctx, st)
			if err != nil {
				return err
			}
			defer stop()
			m, stopMetrics, err := a.serveMetrics(metricsAddr, st)
			if err != nil {
				return err
			}
			defer stopMetrics()
			w := &scheduler.Worker{Store: instrument(m, st), Bucket: bucket, Graph: g, ID: id, Concurrency: concurrency, Pools: slices.Clone(pools),
				LeaseTimeout: lease, Grace: grace, PollInterval: poll, Clock: a.cfg.Clock, Logger: log, OnEvent: chain(chain(hook, observe(m)), a.workerEvent)}
			wctx, release := stopOnSignal(ctx, log, grace)
			defer release()
			if w.ID == "" {
				w.ID = scheduler.DefaultWorkerID()
			}
			log.Info("worker started", "id", w.ID, "store", redactURL(a.store), "pools", dash(strings.Join(pools, ",")), "concurrency", concurrency)
			if err := w.Run(wctx); err != nil {
				return failedError(err)
			}
			log.Info("worker stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&pools, "pool", nil, "run only tasks of these pools (repeat or comma-separate); default all")
	f.IntVarP(&concurrency, "concurrency", "c", 4, "tasks running at once in this worker")
	f.StringVar(&id, "id", envOr(a.cfg.Getenv, "WEIR_WORKER_ID", ""), "worker name in task attempts (default $WEIR_WORKER_ID, else HOST:PID)")
	f.DurationVar(&lease, "lease-timeout", 30*time.Second, "a lease not heartbeated for this long expires and the task goes to another worker")
	f.DurationVar(&grace, "grace", 30*time.Second, "on SIGTERM, how long running tasks may finish before they are released")
	f.DurationVar(&poll, "poll", time.Second, "how often to look for work when no wake-up arrives")
	f.StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9300; docs/metrics.md)")
	return cmd
}

// stopOnSignal returns a context that ends at the first SIGTERM or SIGINT
// (or when ctx ends), for a graceful stop: no new work, running tasks may
// finish for grace. A second signal exits at once. A signal reaches both
// the signal channel and, through Main's NotifyContext, ctx: only the
// channel counts signals, so one SIGTERM is never taken for two. release
// stops watching.
func stopOnSignal(ctx context.Context, log *slog.Logger, grace time.Duration) (context.Context, func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	finished := make(chan struct{})
	go func() {
		stopping := func() {
			if wctx.Err() == nil {
				log.Info("stopping: no new tasks; running tasks may finish", "grace", grace.String())
				stop()
			}
		}
		done := ctx.Done()
		var first time.Time
		for {
			select {
			case <-done:
				stopping()
				done = nil
			case <-sig:
				// One signal can arrive twice: GNU timeout, for one, sends
				// it to the process and to its process group. A second
				// within a second is the same one.
				if !first.IsZero() && time.Since(first) > time.Second {
					log.Warn("second signal: exiting now")
					os.Exit(ExitFailed)
				}
				if first.IsZero() {
					first = time.Now()
				}
				stopping()
			case <-finished:
				return
			}
		}
	}()
	return wctx, func() {
		close(finished)
		signal.Stop(sig)
		stop()
	}
}

// workerEvent logs one line per task event: a short human line in text
// format, a record with the task's fields in JSON format.
func (a *app) workerEvent(ev scheduler.Event) {
	if ev.Kind == scheduler.EventStarted {
		return
	}
	if ev.Kind == scheduler.EventRunEnded {
		a.logger().Info("run ended", "run", ev.RunID, "kind", ev.RunKind, "status", string(ev.RunStatus), "duration", ev.Duration.Round(time.Millisecond).String())
		return
	}
	if a.logFormat == "json" {
		level, attrs := slog.LevelInfo, []slog.Attr{slog.String("event", string(ev.Kind)), slog.Int64("run", ev.RunID), slog.Int64("task", ev.TaskID),
			slog.String("asset", ev.Asset), slog.String("partitions", ev.Partitions), slog.Int("attempt", ev.Attempt)}
		if ev.Kind == scheduler.EventSucceeded {
			attrs = append(attrs, slog.Float64("duration_seconds", ev.Duration.Seconds()))
		}
		if ev.Err != nil {
			level, attrs = slog.LevelWarn, append(attrs, slog.String("error", ev.Err.Error()))
		}
		if ev.RetryIn > 0 {
			attrs = append(attrs, slog.Float64("retry_in_seconds", ev.RetryIn.Seconds()))
		}
		a.logger().LogAttrs(context.Background(), level, "task "+string(ev.Kind), attrs...)
		return
	}
	switch ev.Kind {
	case scheduler.EventSucceeded:
		fmt.Fprintf(a.cfg.Stderr, "ok      run %d task %d %s %s (attempt %d, %s)\n", ev.RunID, ev.TaskID, ev.Asset, ev.Partitions, ev.Attempt, ev.Duration.Round(time.Millisecond))
	default:
		msg := ""
		if ev.Err != nil {
			msg = ": " + firstLine(ev.Err.Error())
		}
		fmt.Fprintf(a.cfg.Stderr, "%-7s run %d task %d %s %s (attempt %d)%s\n", ev.Kind, ev.RunID, ev.TaskID, ev.Asset, ev.Partitions, ev.Attempt, msg)
	}
}

// logger is Config.Logger or logs at info level to stderr, with secrets in
// URLs hidden either way.
func (a *app) logger() *slog.Logger {
	a.logOnce.Do(func() { a.log = a.newLogger() })
	return a.log
}

func (a *app) newLogger() *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(a.cfg.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	if a.logFormat == "json" {
		h = slog.NewJSONHandler(a.cfg.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	if a.cfg.Logger != nil {
		h = a.cfg.Logger.Handler()
	}
	return slog.New(redactingHandler{h})
}

// redactingHandler hides secrets in URLs of a log record's message and
// string attributes before another handler gets it.
type redactingHandler struct{ slog.Handler }

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, urlredact.Text(r.Message), r.PC)
	r.Attrs(func(at slog.Attr) bool {
		out.AddAttrs(redactAttr(at))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for i := range attrs {
		attrs[i] = redactAttr(attrs[i])
	}
	return redactingHandler{h.Handler.WithAttrs(attrs)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.Handler.WithGroup(name)}
}

func redactAttr(at slog.Attr) slog.Attr {
	switch v := at.Value.Resolve(); {
	case v.Kind() == slog.KindString:
		at.Value = slog.StringValue(urlredact.Text(v.String()))
	case v.Kind() == slog.KindAny:
		if err, ok := v.Any().(error); ok {
			at.Value = slog.StringValue(urlredact.Text(err.Error()))
		}
	}
	return at
}
