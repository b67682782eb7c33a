package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// runSensors checks sensor cursors and ticks.
func runSensors(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("SensorCursorsMoveOnceWithTheirRun", func(t *testing.T) {
		s := fresh(t)
		if c, err := s.SensorCursor(ctx, "landing"); err != nil || c != "" {
			t.Fatalf("new sensor: %q %v", c, err)
		}
		// The first tick: watching starts, no run.
		if err := s.SensorTickRecord(ctx, store.SensorTick{Sensor: "landing", EvaluatedAt: t0, CursorTo: "10"}); err != nil {
			t.Fatal(err)
		}
		// A second daemon that read "" too cannot move it.
		if err := s.SensorTickRecord(ctx, store.SensorTick{Sensor: "landing", EvaluatedAt: t0, CursorTo: "11"}); !errors.Is(err, store.ErrSensorMoved) {
			t.Fatalf("first tick twice: %v", err)
		}
		tick := &store.SensorTick{Sensor: "landing", EvaluatedAt: t0.Add(time.Minute), CursorFrom: "10", CursorTo: "20", Arrivals: 3, Partitions: "2024-01-01...2024-01-02"}
		run, _ := insertRun(t, s, store.RunInsertParams{Sensor: tick}, task{})
		// The same evaluation again: refused, no run stored.
		p := store.RunInsertParams{Kind: "sensor", CreatedAt: t0, Sensor: tick}
		if _, _, err := s.RunInsert(ctx, p); !errors.Is(err, store.ErrSensorMoved) {
			t.Fatalf("the same arrivals twice: %v", err)
		}
		if runs, _ := s.RunList(ctx, store.RunListParams{Limit: -1}); len(runs) != 1 {
			t.Fatalf("%d runs", len(runs))
		}
		// Nothing new, and an error: ticks without a run, the cursor stays.
		if err := s.SensorTickRecord(ctx, store.SensorTick{Sensor: "landing", EvaluatedAt: t0.Add(2 * time.Minute), CursorFrom: "20", CursorTo: "20"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SensorTickRecord(ctx, store.SensorTick{Sensor: "landing", EvaluatedAt: t0.Add(3 * time.Minute), CursorFrom: "20", CursorTo: "20", Error: "bucket unreachable"}); err != nil {
			t.Fatal(err)
		}
		if c, err := s.SensorCursor(ctx, "landing"); err != nil || c != "20" {
			t.Fatalf("cursor %q %v", c, err)
		}
		ticks, err := s.SensorTickList(ctx, "landing", -1)
		if err != nil || len(ticks) != 4 || ticks[0].Error != "bucket unreachable" || ticks[2].RunID != run.ID || ticks[2].Arrivals != 3 ||
			ticks[2].Partitions != "2024-01-01...2024-01-02" || !ticks[3].EvaluatedAt.Equal(t0) || ticks[3].CursorTo != "10" {
			t.Fatalf("ticks %+v %v", ticks, err)
		}
		if ticks, _ := s.SensorTickList(ctx, "landing", 0); len(ticks) != 4 {
			t.Fatalf("default limit: %d", len(ticks))
		}
	})
}
