package schedule_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

var ny, _ = time.LoadLocation("America/New_York")

// nightly is a daily 02:00 New York schedule over a daily asset of New
// York days, on a fresh store and an injected clock at start.
func nightly(t *testing.T, start time.Time, catchup schedule.Catchup) (*schedule.Daemon, *clock.Fake, store.Store) {
	t.Helper()
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "America/New_York"})
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days,
		Compute: func(context.Context, *pipelines.Task) error { return nil }})
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(start)
	d := &schedule.Daemon{Store: st, Graph: g, Clock: clk,
		Schedules: []*schedule.Schedule{{Name: "nightly", Selection: "orders", Cron: "0 2 * * *", Zone: "America/New_York", Catchup: catchup}}}
	if fired, err := d.Evaluate(context.Background()); err != nil || len(fired) != 0 {
		t.Fatalf("first evaluation: %+v %v", fired, err)
	}
	return d, clk, st
}

// step advances the clock to the schedule's next tick (plus lag) and
// evaluates.
func step(t *testing.T, d *schedule.Daemon, clk *clock.Fake, lag time.Duration) []schedule.Fired {
	t.Helper()
	next := d.Schedules[0].Next(clk.Now())
	clk.Advance(next.Sub(clk.Now()) + lag)
	fired, err := d.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fired
}

func TestNightlyAcrossDaylightSavingFiresOncePerDayForYesterday(t *testing.T) {
	for _, start := range []time.Time{time.Date(2024, 3, 3, 12, 0, 0, 0, ny), time.Date(2024, 10, 27, 12, 0, 0, 0, ny)} {
		d, clk, st := nightly(t, start, "")
		for day := 1; day <= 14; day++ {
			fired := step(t, d, clk, time.Second)
			if len(fired) != 1 || fired[0].Run == nil || len(fired[0].Ticks) != 1 {
				t.Fatalf("day %d after %s: %+v", day, start.Format(time.DateOnly), fired)
			}
			tick := fired[0].Ticks[0].In(ny)
			wantDay := start.AddDate(0, 0, day)
			if tick.Format(time.DateOnly) != wantDay.Format(time.DateOnly) || (tick.Hour() != 2 && !(tick.Hour() == 3 && wantDay.Month() == 3 && wantDay.Day() == 10)) {
				t.Fatalf("day %d: tick at %s", day, tick)
			}
			if want := wantDay.AddDate(0, 0, -1).Format(time.DateOnly); fired[0].Run.Partitions != want {
				t.Fatalf("day %d (tick %s): run of %q, want yesterday %s", day, tick, fired[0].Run.Partitions, want)
			}
			// Evaluating again at once fires nothing.
			if again, err := d.Evaluate(context.Background()); err != nil || len(again) != 0 {
				t.Fatalf("evaluated twice: %+v %v", again, err)
			}
		}
		ticks, _ := st.TickList(context.Background(), store.TickListParams{Schedule: "nightly", Limit: -1})
		if len(ticks) != 14 {
			t.Fatalf("%d ticks recorded in a fortnight from %s", len(ticks), start.Format(time.DateOnly))
		}
	}
}

func TestCatchUpAfterThreeDaysDown(t *testing.T) {
	for _, tc := range []struct {
		catchup schedule.Catchup
		fires   string // partitions of the run fired on restart
		skipped int
	}{
		{schedule.CatchupLatest, "2024-03-05", 2},
		{schedule.CatchupAll, "2024-03-03,2024-03-04,2024-03-05", 0},
		{schedule.CatchupSkip, "", 3},
	} {
		t.Run(string(tc.catchup), func(t *testing.T) {
			d, clk, st := nightly(t, time.Date(2024, 3, 1, 12, 0, 0, 0, ny), tc.catchup)
			step(t, d, clk, 0) // 03-02
			step(t, d, clk, 0) // 03-03
			// Down from just after the 03-03 tick to 03-06 07:00: the
			// ticks of 03-04, 03-05 and 03-06 (for the days before) missed.
			clk.Advance(time.Date(2024, 3, 6, 7, 0, 0, 0, ny).Sub(clk.Now()))
			// A new daemon (a restart) on the same store.
			d2 := &schedule.Daemon{Store: st, Graph: d.Graph, Clock: clk, Schedules: []*schedule.Schedule{{Name: "nightly", Selection: "orders",
				Cron: "0 2 * * *", Zone: "America/New_York", Catchup: tc.catchup}}}
			fired, err := d2.Evaluate(context.Background())
			if err != nil || len(fired) != 1 {
				t.Fatalf("restart: %+v %v", fired, err)
			}
			f := fired[0]
			got := ""
			if f.Run != nil {
				got = f.Run.Partitions
			}
			if got != tc.fires || len(f.Skipped) != tc.skipped {
				t.Fatalf("restart fired %q, skipped %d (%s); want %q and %d", got, len(f.Skipped), f.Reason, tc.fires, tc.skipped)
			}
			// The next tick fires on time, whatever the policy.
			if next := step(t, d2, clk, time.Minute); len(next) != 1 || next[0].Run == nil || next[0].Run.Partitions != "2024-03-06" {
				t.Fatalf("after the restart: %+v", next)
			}
			ticks, _ := st.TickList(context.Background(), store.TickListParams{Schedule: "nightly", Limit: -1})
			var days []string
			for _, tk := range ticks {
				days = append(days, tk.ScheduledAt.In(ny).Format("01-02"))
			}
			if want := "[03-07 03-06 03-05 03-04 03-03 03-02]"; fmt.Sprint(days) != want {
				t.Fatalf("tick history %v, want each day once: %s", days, want)
			}
		})
	}
}

func TestPausedScheduleSkipsItsTicks(t *testing.T) {
	d, clk, st := nightly(t, time.Date(2024, 3, 1, 12, 0, 0, 0, ny), "")
	if err := st.ScheduleSetPaused(context.Background(), "nightly", true, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if f := step(t, d, clk, 0); len(f) != 1 || f[0].Run != nil || !strings.Contains(f[0].Reason, "paused") {
		t.Fatalf("paused: %+v", f)
	}
	if err := st.ScheduleSetPaused(context.Background(), "nightly", false, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if f := step(t, d, clk, 0); len(f) != 1 || f[0].Run == nil || f[0].Run.Partitions != "2024-03-02" {
		t.Fatalf("resumed: %+v", f)
	}
}

// TestStandbyDaemonTakesOverFromADeadLeader: two daemons share a store;
// the leader fires while the standby waits; the leader dies, and once its
// lease has expired the standby leads and fires, each tick once.
func TestStandbyDaemonTakesOverFromADeadLeader(t *testing.T) {
	a, clk, st := nightly(t, time.Date(2024, 3, 1, 12, 0, 0, 0, ny), "")
	a.ID = "a"
	b := &schedule.Daemon{Store: st, Graph: a.Graph, Clock: clk, ID: "b", LeaseTTL: 30 * time.Second,
		Schedules: []*schedule.Schedule{{Name: "nightly", Selection: "orders", Cron: "0 2 * * *", Zone: "America/New_York"}}}
	// nightly's first evaluation ran as the default id; a takes over its
	// lease once it expires, like any new holder.
	clk.Advance(time.Minute)
	for _, d := range []*schedule.Daemon{a, b} {
		if _, err := d.Evaluate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if f := step(t, a, clk, 0); len(f) != 1 || f[0].Run == nil {
		t.Fatalf("leader a: %+v", f)
	}
	if f, err := b.Evaluate(context.Background()); err != nil || len(f) != 0 {
		t.Fatalf("standby b fired: %+v %v", f, err)
	}
	// a dies just before the next tick; b evaluates on and takes over
	// once a's lease (renewed 5 s before the tick, for 30 s) has expired.
	next := a.Schedules[0].Next(clk.Now())
	clk.Advance(next.Sub(clk.Now()) - 5*time.Second)
	if f, err := a.Evaluate(context.Background()); err != nil || len(f) != 0 { // renews its lease, its last act
		t.Fatalf("a before the tick: %+v %v", f, err)
	}
	clk.Advance(15 * time.Second)
	if f, _ := b.Evaluate(context.Background()); len(f) != 0 {
		t.Fatalf("b took over while a's lease ran: %+v", f)
	}
	clk.Advance(2 * time.Minute)
	f, err := b.Evaluate(context.Background())
	if err != nil || len(f) != 1 || f[0].Run == nil || f[0].Run.Partitions != "2024-03-02" {
		t.Fatalf("b after a's lease expired: %+v %v", f, err)
	}
	ticks, _ := st.TickList(context.Background(), store.TickListParams{Schedule: "nightly", Limit: -1})
	if len(ticks) != 2 || ticks[0].RunID == ticks[1].RunID {
		t.Fatalf("ticks %+v, want the two days once each", ticks)
	}
}

// TestStoppedDaemonStepsDown: a daemon that stops gives up its lease, so a
// standby leads at once instead of waiting for it to expire.
func TestStoppedDaemonStepsDown(t *testing.T) {
	d, clk, st := nightly(t, time.Date(2024, 3, 1, 12, 0, 0, 0, ny), "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	clk.BlockUntil(1, nil) // Run evaluated (and leads), and waits for the next tick
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l, err := st.LeaderAcquire(context.Background(), store.LeaderParams{Role: schedule.LeaderRole, Holder: "standby", TTL: time.Minute, Now: clk.Now()})
	if err != nil || !l.Leading {
		t.Fatalf("standby after the leader stopped: %+v %v", l, err)
	}
}

// TestRunReportsWhatItFired: Run hands each evaluation's outcome to
// OnFired, with the time it fired (metrics: ticks and their lateness).
func TestRunReportsWhatItFired(t *testing.T) {
	d, clk, _ := nightly(t, time.Date(2024, 3, 1, 12, 0, 0, 0, ny), "")
	fired := make(chan schedule.Fired, 10)
	d.OnFired = func(f schedule.Fired) { fired <- f }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	clk.BlockUntil(1, nil) // evaluated, nothing due, waits for the next tick
	next := d.Schedules[0].Next(clk.Now())
	clk.Advance(next.Sub(clk.Now()))
	f := <-fired
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.Run == nil || len(f.Ticks) != 1 || !f.Ticks[0].Equal(next) || f.At.Before(next) {
		t.Fatalf("fired %+v, want the tick at %s", f, next)
	}
}
