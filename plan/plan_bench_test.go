package plan_test

import (
	"context"
	"testing"
	"time"

	"github.com/weir-dev/weir/internal/graphtest"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
)

// BenchmarkPlanTenYearsHourly plans and expands 87,600 hourly partitions ×
// 20 assets (1.75 million asset-partitions).
func BenchmarkPlanTenYearsHourly(b *testing.B) {
	hourly := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Hourly, Start: "2015-01-01", Location: "America/New_York"})
	g := graphtest.ChainAndFan(hourly)
	now := time.Date(2025, 1, 1, 5, 0, 0, 0, time.UTC)
	req := plan.Request{Selection: "*", Partitions: hourly.Key(0) + "..." + hourly.Key(87_599)}
	pl := &plan.Planner{Graph: g, Status: memStatus{}}
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
