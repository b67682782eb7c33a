// Package metrics is weir's Prometheus instrumentation. Counters and
// histograms are fed by a worker's task events (Observe, chained into
// scheduler.Worker.OnEvent); gauges are read from the state store on each
// scrape (pools: running tasks against the quota and the ready backlog;
// runs in flight by kind and status, and their tasks by state). Labels are
// asset, pool, status and kind only, never partition keys or run ids, so
// the series stay few however many partitions run. docs/metrics.md lists
// every metric with an example alert.
package metrics

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// Metrics holds a registry with weir's metrics.
type Metrics struct {
	reg      *prometheus.Registry
	events   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
	runs     *prometheus.HistogramVec
	ticks    *prometheus.CounterVec
	lateness prometheus.Histogram
	// storeCalls times the calls of an Instrument-ed store.
	storeCalls *prometheus.HistogramVec
	now        func() time.Time
}

// WithClock makes the gauges of ages read the time from c (the system
// clock by default) and returns m.
func (m *Metrics) WithClock(c clock.Clock) *Metrics {
	m.now = c.Now
	return m
}

// New returns weir's metrics, reading the store's gauges from st on each
// scrape (nil leaves them out), with the Go runtime's and the process's
// own metrics beside them.
func New(st store.Store) *Metrics {
	m := &Metrics{
		now: time.Now,
		reg: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_task_events_total",
			Help: "Task attempts that ended in this process, by asset and how: succeeded, failed (for good), retrying, released (the worker stopped), lease_lost, reaped (a dead worker's lease expired).",
		}, []string{"asset", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weir_task_duration_seconds",
			Help:    "How long a task took in this process, from lease to its end (compute and verify), by asset and status (succeeded, failed, retrying).",
			Buckets: prometheus.ExponentialBucketsRange(0.01, 3600, 14),
		}, []string{"asset", "status"}),
	}
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_task_bytes_total",
		Help: "Bytes that tasks of this process promoted (written, checksummed and verified), by asset.",
	}, []string{"asset"})
	m.runs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "weir_run_duration_seconds",
		Help:    "End-to-end run latency, from the run's creation to its end, of runs whose last task ended in this process, by kind (materialize, backfill) and status (succeeded, failed).",
		Buckets: prometheus.ExponentialBucketsRange(0.1, 7*24*3600, 16),
	}, []string{"kind", "status"})
	m.ticks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_schedule_ticks_total",
		Help: "Schedule ticks this daemon evaluated, by status: fired (a run started), skipped (paused, missed and not caught up, or nothing to run).",
	}, []string{"status"})
	m.lateness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "weir_schedule_tick_lateness_seconds",
		Help:    "How late this daemon fired schedule ticks: the time of firing minus the tick's time.",
		Buckets: prometheus.ExponentialBucketsRange(0.01, 24*3600, 14),
	})
	m.storeCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "weir_store_call_duration_seconds",
		Help:    "State-store latency as this process's workers feel it: each call (a batch of statements in one transaction) by kind (lease, heartbeat, stage, finish, promote, reap, enqueue) and status (ok, error).",
		Buckets: prometheus.ExponentialBucketsRange(0.0002, 30, 16),
	}, []string{"kind", "status"})
	m.reg.MustRegister(m.events, m.duration, m.bytes, m.runs, m.ticks, m.lateness, m.storeCalls, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if st != nil {
		m.reg.MustRegister(&storeCollector{st: st, now: func() time.Time { return m.now() }})
	}
	return m
}

// Registry returns the registry, to add metrics of your own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Observe counts a task event; chain it into a worker's OnEvent.
func (m *Metrics) Observe(ev scheduler.Event) {
	status := strings.ReplaceAll(string(ev.Kind), "-", "_")
	switch ev.Kind {
	case scheduler.EventSucceeded, scheduler.EventFailed, scheduler.EventRetrying:
		m.duration.WithLabelValues(ev.Asset, status).Observe(ev.Duration.Seconds())
		m.events.WithLabelValues(ev.Asset, status).Inc()
	case scheduler.EventReleased, scheduler.EventLeaseLost, scheduler.EventReaped:
		m.events.WithLabelValues(ev.Asset, status).Inc()
	case scheduler.EventRunEnded:
		m.runs.WithLabelValues(ev.RunKind, string(ev.RunStatus)).Observe(ev.Duration.Seconds())
	}
	if ev.Kind == scheduler.EventSucceeded {
		m.bytes.WithLabelValues(ev.Asset).Add(float64(ev.Bytes))
	}
}

// ObserveTicks counts what a schedule daemon did with due ticks; set it
// as schedule.Daemon.OnFired.
func (m *Metrics) ObserveTicks(f schedule.Fired) {
	m.ticks.WithLabelValues("skipped").Add(float64(len(f.Skipped)))
	if f.Run == nil {
		return
	}
	m.ticks.WithLabelValues("fired").Add(float64(len(f.Ticks)))
	for _, t := range f.Ticks {
		m.lateness.Observe(max(f.At.Sub(t).Seconds(), 0))
	}
}

var (
	storeUp    = prometheus.NewDesc("weir_store_up", "1 when the last scrape read the state store, else 0.", nil, nil)
	poolRun    = prometheus.NewDesc("weir_pool_running_tasks", "Tasks running now, by pool (all workers).", []string{"pool"}, nil)
	poolQuota  = prometheus.NewDesc("weir_pool_max_running_tasks", "A pool's quota of running tasks (pools with one).", []string{"pool"}, nil)
	poolReady  = prometheus.NewDesc("weir_pool_ready_tasks", "The backlog: pending tasks of running runs whose upstream tasks have all succeeded, by pool.", []string{"pool"}, nil)
	poolWait   = prometheus.NewDesc("weir_pool_oldest_ready_seconds", "How long the pool's longest-waiting ready task has waited: since its run's creation, its last upstream task's success or its retry's backoff end, whichever came last (0 while it waits out a backoff).", []string{"pool"}, nil)
	runsDesc   = prometheus.NewDesc("weir_runs", "Runs not yet ended (among the latest 500), by kind (materialize, backfill) and status (running, paused, tripped).", []string{"kind", "status"}, nil)
	runTasks   = prometheus.NewDesc("weir_run_tasks", "The tasks of the runs in weir_runs, by kind and task state: a backfill's progress is succeeded / all.", []string{"kind", "state"}, nil)
	scrapeTime = prometheus.NewDesc("weir_store_scrape_seconds", "How long reading the store's gauges took.", nil, nil)
)

// storeCollector reads the gauges from the state store at scrape time.
type storeCollector struct {
	st  store.Store
	now func() time.Time
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{storeUp, poolRun, poolQuota, poolReady, poolWait, runsDesc, runTasks, scrapeTime} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pools, err := c.st.PoolList(ctx)
	var runs []*store.Run
	if err == nil {
		runs, err = c.st.RunList(ctx, store.RunListParams{Limit: 500})
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(storeUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(storeUp, prometheus.GaugeValue, 1)
	for _, p := range pools {
		ch <- prometheus.MustNewConstMetric(poolRun, prometheus.GaugeValue, float64(p.Running), p.Name)
		ch <- prometheus.MustNewConstMetric(poolReady, prometheus.GaugeValue, float64(p.Ready), p.Name)
		if !p.ReadySince.IsZero() {
			ch <- prometheus.MustNewConstMetric(poolWait, prometheus.GaugeValue, max(c.now().Sub(p.ReadySince).Seconds(), 0), p.Name)
		}
		if p.MaxRunning >= 0 {
			ch <- prometheus.MustNewConstMetric(poolQuota, prometheus.GaugeValue, float64(p.MaxRunning), p.Name)
		}
	}
	type key struct{ kind, status string }
	counts, tasks := map[key]int{}, map[key]int64{}
	for _, r := range runs {
		if !r.FinishedAt.IsZero() {
			continue
		}
		counts[key{r.Kind, string(r.State())}]++
		for _, s := range store.TaskStates {
			tasks[key{r.Kind, string(s)}] += r.Tasks[s]
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(runsDesc, prometheus.GaugeValue, float64(n), k.kind, k.status)
	}
	for k, n := range tasks {
		ch <- prometheus.MustNewConstMetric(runTasks, prometheus.GaugeValue, float64(n), k.kind, k.status)
	}
	ch <- prometheus.MustNewConstMetric(scrapeTime, prometheus.GaugeValue, time.Since(start).Seconds())
}
