package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/scheduler"
)

// chainAndFan is a 20-asset graph: a chain of 10, and 10 assets fanning out
// from the chain's middle and end, some through trailing windows.
func chainAndFan(def partitions.Definition) *lineage.Graph {
	var assets []*pipelines.Asset
	for i := 0; i < 10; i++ {
		a := &pipelines.Asset{Key: fmt.Sprintf("chain%02d", i), Partitions: def, Compute: noop}
		if i > 0 {
			a.Deps = []pipelines.Dep{pipelines.On(fmt.Sprintf("chain%02d", i-1))}
		}
		assets = append(assets, a)
	}
	for i := 0; i < 10; i++ {
		up := "chain04"
		if i%2 == 1 {
			up = "chain09"
		}
		dep := pipelines.On(up)
		if i%3 == 0 {
			dep = pipelines.OnMapped(up, partitions.Trailing(24))
		}
		assets = append(assets, &pipelines.Asset{Key: fmt.Sprintf("fan%02d", i), Partitions: def, Deps: []pipelines.Dep{dep}, Compute: noop})
	}
	return lineage.NewGraph(pipelines.MustDefinitions(assets...))
}

// BenchmarkPlanTenYearsHourly plans and expands 87,600 hourly partitions ×
// 20 assets (1.75 million asset-partitions).
func BenchmarkPlanTenYearsHourly(b *testing.B) {
	hourly := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Hourly, Start: "2015-01-01", Location: "America/New_York"})
	g := chainAndFan(hourly)
	now := time.Date(2025, 1, 1, 5, 0, 0, 0, time.UTC)
	req := scheduler.PlanRequest{Selection: "*", Partitions: hourly.Key(0) + "..." + hourly.Key(87_599)}
	pl := &scheduler.Planner{Graph: g, Status: memStatus{}}
	b.Run("plan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := pl.Plan(context.Background(), req, now)
			if err != nil || p.TaskCount() != 20*87_600 {
				b.Fatal(err, p.TaskCount())
			}
		}
	})
	plan, _ := pl.Plan(context.Background(), req, now)
	b.Run("expand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tg, err := plan.Expand()
			if err != nil || len(tg.Tasks) != 1_752_000 {
				b.Fatal(err)
			}
			b.ReportMetric(float64(tg.Edges()), "edges")
		}
	})
}
