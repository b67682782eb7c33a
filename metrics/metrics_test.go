package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/metrics"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// TestScrapeMatchesTheRun: a run whose tasks succeed, retry and fail, and
// a second run left queued; a scrape of /metrics, parsed with Prometheus's
// text parser, counts each outcome, times the tasks, and shows the queued
// run's backlog by pool.
func TestScrapeMatchesTheRun(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
	var flaky atomic.Int32
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Pool: "warehouse", Retry: pipelines.RetryPolicy{MaxAttempts: 2},
		Compute: func(ctx context.Context, task *pipelines.Task) error {
			switch task.Keys[0] {
			case "2024-01-02":
				if flaky.Add(1) == 1 {
					return errors.New("transient")
				}
			case "2024-01-03":
				return pipelines.Permanent(errors.New("bad data"))
			}
			w, err := task.Output.Create(ctx, task.Keys[0], "orders.csv")
			if err != nil {
				return err
			}
			w.Write([]byte("id\n1\n"))
			return w.Close()
		}})
	clk := clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	m := metrics.New(st).WithClock(clk)
	expand := func(keys string) *plan.TaskGraph {
		pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "orders", Partitions: keys}, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		tg, err := pl.Expand()
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	ex := &scheduler.Executor{Store: m.Instrument(st), Bucket: memblob.OpenBucket(nil), Clock: clk, Jitter: func() float64 { return 0 }, OnEvent: m.Observe}
	if res, err := ex.Run(ctx, expand("2024-01-01...2024-01-03"), scheduler.RunOpts{}); err != nil || res.Status != store.RunFailed {
		t.Fatalf("run %+v %v", res, err)
	}
	if _, _, err := scheduler.Enqueue(ctx, st, expand("2024-01-04...2024-01-08"), scheduler.EnqueueOpts{Kind: "backfill", CreatedBy: "test", Now: clk.Now()}); err != nil {
		t.Fatal(err)
	}

	clk.Advance(10 * time.Minute)
	// A daemon fired a tick 90 s late and skipped two it missed.
	tick := clk.Now().Add(-90 * time.Second)
	m.ObserveTicks(schedule.Fired{Schedule: "nightly", At: clk.Now(), Run: &store.Run{ID: 9}, Ticks: []time.Time{tick},
		Skipped: []time.Time{tick.Add(-24 * time.Hour), tick.Add(-48 * time.Hour)}})

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		for _, mt := range fams[name].GetMetric() {
			if matches(mt, labels) {
				switch {
				case mt.Counter != nil:
					return mt.Counter.GetValue()
				case mt.Gauge != nil:
					return mt.Gauge.GetValue()
				case mt.Histogram != nil:
					return float64(mt.Histogram.GetSampleCount())
				}
			}
		}
		t.Errorf("no %s%v in the scrape", name, labels)
		return -1
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"weir_task_events_total", map[string]string{"asset": "orders", "status": "succeeded"}, 2},
		{"weir_task_events_total", map[string]string{"asset": "orders", "status": "retrying"}, 1},
		{"weir_task_events_total", map[string]string{"asset": "orders", "status": "failed"}, 1},
		{"weir_task_duration_seconds", map[string]string{"asset": "orders", "status": "succeeded"}, 2},
		{"weir_task_duration_seconds", map[string]string{"asset": "orders", "status": "failed"}, 1},
		{"weir_task_bytes_total", map[string]string{"asset": "orders"}, 10},
		{"weir_run_duration_seconds", map[string]string{"kind": "materialize", "status": "failed"}, 1},
		{"weir_schedule_ticks_total", map[string]string{"status": "fired"}, 1},
		{"weir_schedule_ticks_total", map[string]string{"status": "skipped"}, 2},
		{"weir_schedule_tick_lateness_seconds", nil, 1},
		{"weir_store_up", nil, 1},
		{"weir_pool_ready_tasks", map[string]string{"pool": "warehouse"}, 5},
		{"weir_pool_oldest_ready_seconds", map[string]string{"pool": "warehouse"}, 600}, // the backfill was created 10 min ago
		{"weir_pool_running_tasks", map[string]string{"pool": "warehouse"}, 0},
		{"weir_runs", map[string]string{"kind": "backfill", "status": "queued"}, 1},
		{"weir_run_tasks", map[string]string{"kind": "backfill", "state": "pending"}, 5},
	} {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, kind := range []string{"lease", "stage", "finish", "promote", "enqueue"} {
		if n := value("weir_store_call_duration_seconds", map[string]string{"kind": kind, "status": "ok"}); n < 1 {
			t.Errorf("store calls of kind %s timed: %v", kind, n)
		}
	}
	if sum := fams["weir_schedule_tick_lateness_seconds"].GetMetric()[0].GetHistogram().GetSampleSum(); sum != 90 {
		t.Errorf("tick lateness %v s, want 90", sum)
	}
	for name, fam := range fams {
		for _, mt := range fam.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "partition" || l.GetName() == "run" || l.GetName() == "run_id" {
					t.Errorf("%s has a %s label: series would grow with the data", name, l.GetName())
				}
			}
		}
	}
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}
