package weircli

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/sensor"
)

func (a *app) serveCommand() *cobra.Command {
	var (
		workers int
		grace   time.Duration
		lease   time.Duration
		// metricsAddr, if set, serves /metrics.
		metricsAddr string
		// httpAddr, if set, serves the HTTP API; token guards it.
		httpAddr, token string
		publicRead      bool
		statusMaxAge    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve [--workers N]",
		Short: "The daemon: fire schedules on time and run their tasks (with --workers)",
		Long: `serve evaluates the schedules (weir schedules list) and fires each tick once: the
tick and the run it starts are recorded together in the state store, so a restart
neither fires a tick twice nor forgets one; ticks missed while no daemon ran are
caught up as each schedule's catch-up policy says (latest, all or skip). Eager
assets are materialized when an upstream partition they read is promoted. With
--workers N (4 by default) it also runs tasks, as weir worker does, so one command
runs everything on one machine; --workers 0 leaves the tasks to weir worker
processes.

On SIGTERM or SIGINT it stops firing, lets running tasks finish for up to --grace,
releases what is left and exits 0. Several daemons may share a store (PostgreSQL):
one leads the schedules (a lease in the store, renewed every 10 s), the others take
over within 30 s of its death; a tick is recorded once whoever fires it.

With --http ADDR it serves the web UI at http://ADDR/ (asset graph, partition
health, backfill launcher and live pages, runs, schedules, SQL) and the HTTP API
under /api/v1/ (docs/api.md); beyond loopback it needs --token.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if workers < 0 {
				return usageError(fmt.Errorf("--workers %d must be 0 or more", workers))
			}
			if grace < 0 {
				return usageError(fmt.Errorf("--grace %s must be 0 or more", grace))
			}
			if lease < time.Second {
				return usageError(fmt.Errorf("--lease-timeout %s must be at least 1s", lease))
			}
			if token == "" {
				token = a.cfg.Getenv("WEIR_TOKEN")
			}
			if statusMaxAge < 0 {
				return usageError(fmt.Errorf("--status-max-age %s must be 0 (read for each request) or more", statusMaxAge))
			}
			if err := checkHTTP(httpAddr, token); err != nil {
				return err
			}
			all, d, err := a.schedules()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, bucket, closeAll, err := a.openBoth(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			log := a.logger()
			d.Store, d.Clock, d.Logger, d.LeaseTTL = st, a.cfg.Clock, log, lease
			if id := envOr(a.cfg.Getenv, "WEIR_WORKER_ID", ""); id != "" {
				d.ID = "daemon " + id
			}
			m, stopMetrics, err := a.serveMetrics(metricsAddr, st)
			if err != nil {
				return err
			}
			defer stopMetrics()
			if m != nil {
				d.OnFired = m.ObserveTicks
			}
			svc := a.alertService(st)
			if svc != nil {
				if err := a.cfg.Alerts.Validate(d.Graph); err != nil {
					return usageError(fmt.Errorf("alerts: %w", err))
				}
				svc.Logger, svc.LeaseTTL = log, lease
				if id := envOr(a.cfg.Getenv, "WEIR_WORKER_ID", ""); id != "" {
					svc.ID = "alerts " + id
				}
				metricsTicks := d.OnFired
				d.OnFired = func(f schedule.Fired) {
					if metricsTicks != nil {
						metricsTicks(f)
					}
					svc.ObserveTicks(f)
				}
			}
			wctx, release := stopOnSignal(ctx, log, grace)
			defer release()
			if httpAddr != "" {
				stopAPI, err := a.serveAPI(httpAddr, token, publicRead, statusMaxAge, st, bucket, d.Graph)
				if err != nil {
					return err
				}
				defer stopAPI()
			}
			names := make([]string, len(all))
			for i, s := range all {
				names[i] = s.Name
			}
			log.Info("serving", "store", redactURL(a.store), "schedules", dash(strings.Join(names, ",")), "workers", workers)
			var sd *sensor.Daemon
			if len(a.cfg.Sensors) > 0 {
				sd = &sensor.Daemon{Store: st, Graph: d.Graph, Sensors: a.cfg.Sensors, Clock: a.cfg.Clock, Logger: log, LeaseTTL: lease}
				if id := envOr(a.cfg.Getenv, "WEIR_WORKER_ID", ""); id != "" {
					sd.ID = "sensors " + id
				}
				for _, sn := range a.cfg.Sensors {
					if err := sn.Validate(d.Graph); err != nil {
						return usageError(err)
					}
				}
				if svc != nil {
					sd.OnTick = svc.ObserveSensor
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, 4)
			wg.Go(func() { errs[0] = d.Run(wctx) })
			if svc != nil {
				wg.Go(func() { errs[2] = svc.Run(wctx) })
			}
			if sd != nil {
				wg.Go(func() { errs[3] = sd.Run(wctx) })
			}
			if workers > 0 {
				hook, stop, err := a.lineageEvents(ctx, st)
				if err != nil {
					return err
				}
				defer stop()
				w := &scheduler.Worker{Store: instrument(m, st), Bucket: bucket, Graph: d.Graph, ID: envOr(a.cfg.Getenv, "WEIR_WORKER_ID", ""), Concurrency: workers,
					Grace: grace, Clock: a.cfg.Clock, Logger: log, OnEvent: chain(chain(hook, observe(m)), a.workerEvent)}
				wg.Go(func() { errs[1] = w.Run(wctx) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return failedError(err)
				}
			}
			log.Info("stopped")
			return nil
		},
	}
	cmd.Flags().IntVar(&workers, "workers", 4, "tasks this process runs at once; 0 leaves them to weir worker processes")
	cmd.Flags().DurationVar(&grace, "grace", 30*time.Second, "on SIGTERM, how long running tasks may finish before they are released")
	cmd.Flags().DurationVar(&lease, "lease-timeout", 30*time.Second, "a leader that has not renewed its lease for this long is replaced by another daemon")
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve the web UI at http://ADDR/ and the HTTP API at http://ADDR/api/v1/ (e.g. 127.0.0.1:8300; docs/api.md)")
	// Not defaulted from the environment here: --help would print it.
	cmd.Flags().StringVar(&token, "token", "", "the API's bearer token (default $WEIR_TOKEN); required to listen beyond loopback")
	cmd.Flags().BoolVar(&publicRead, "public-read", false, "with --token: let reads (GET) through without it")
	cmd.Flags().DurationVar(&statusMaxAge, "status-max-age", 5*time.Second, "with --http: answer asset status from a read at most this old, refreshed in the background (0: read for each request)")
	cmd.Flags().StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9300; docs/metrics.md)")
	return cmd
}
