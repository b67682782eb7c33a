// Command testpipes is weir's command line over a three-asset chain whose
// tasks take WEIR_TEST_TASK_MS milliseconds (default 20) of simulated work.
// The multi-process tests build and run it as real workers.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/schedule"
)

func main() {
	ms, _ := strconv.Atoi(os.Getenv("WEIR_TEST_TASK_MS"))
	if ms <= 0 {
		ms = 20
	}
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
	// WEIR_TEST_FAIL makes extract fail for good on that partition.
	fail := os.Getenv("WEIR_TEST_FAIL")
	work := func(ctx context.Context, t *pipelines.Task) error {
		if t.Asset.Key == "extract" && t.Keys[0] == fail {
			return pipelines.Permanent(fmt.Errorf("extract %s: the source refused (WEIR_TEST_FAIL)", fail))
		}
		t.Logger.Info("simulating work", "ms", ms)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond): // the work
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, k := range t.Keys {
			w, err := t.Output.Create(ctx, k, "out.txt")
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s %s\n", t.Asset.Key, k)
			if err := w.Close(); err != nil {
				return err
			}
			t.Logger.Info("wrote", "partition", k)
		}
		return nil
	}
	retry := pipelines.RetryPolicy{MaxAttempts: 5, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	// WEIR_TEST_SCHEDULES daily schedules of extract, catching up every
	// missed tick.
	n, _ := strconv.Atoi(os.Getenv("WEIR_TEST_SCHEDULES"))
	var schedules []*schedule.Schedule
	for i := range n {
		// Each schedule its own days: ticks target the day before, 15
		// days earlier per schedule.
		offset := int64(i) * 15
		schedules = append(schedules, &schedule.Schedule{Name: fmt.Sprintf("s%03d", i), Selection: "extract", Cron: "@daily", Zone: "UTC",
			Catchup: schedule.CatchupAll, Partitions: func(tick time.Time) (string, error) {
				return days.Key(days.Len(tick) - 1 - offset), nil
			}})
	}
	// WEIR_TEST_ALERT_URL: every alert to that webhook, looked for every
	// 50 ms.
	var alerts *alert.Config
	if u := os.Getenv("WEIR_TEST_ALERT_URL"); u != "" {
		alerts = &alert.Config{Sinks: map[string]alert.Sink{"hook": &alert.Webhook{URL: u}}, Rules: []alert.Rule{{Sink: "hook"}},
			RatePerSink: 100, Every: 50 * time.Millisecond}
	}
	weircli.MainConfig(weircli.Config{Name: "testpipes", Schedules: schedules, Alerts: alerts, Assets: []*pipelines.Asset{
		{Key: "extract", Partitions: days, Pool: "warehouse", Retry: retry, Compute: work},
		{Key: "transform", Partitions: days, Deps: []pipelines.Dep{pipelines.On("extract")}, Pool: "warehouse", Retry: retry, Compute: work},
		{Key: "load", Partitions: days, Deps: []pipelines.Dep{pipelines.On("transform")}, Pool: "warehouse", Retry: retry, Compute: work},
	}})
}
