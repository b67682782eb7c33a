package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// runSchedules checks schedule state and durable ticks.
func runSchedules(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("SchedulesAndTicksAreRecordedOnce", func(t *testing.T) {
		s := fresh(t)
		st, err := s.ScheduleGet(ctx, "nightly", t0)
		if err != nil || st.Paused || !st.Since.Equal(t0) {
			t.Fatalf("first sight: %+v %v", st, err)
		}
		if st, _ := s.ScheduleGet(ctx, "nightly", t0.Add(time.Hour)); !st.Since.Equal(t0) {
			t.Fatalf("since moved: %+v", st)
		}
		if err := s.ScheduleSetPaused(ctx, "nightly", true, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.ScheduleSetPaused(ctx, "hourly", false, t0); err != nil {
			t.Fatal(err)
		}
		list, err := s.ScheduleList(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "hourly" || list[1].Name != "nightly" || !list[1].Paused || !list[1].Since.Equal(t0) {
			t.Fatalf("list %+v %v", list, err)
		}

		tick := func(day int) store.Tick {
			return store.Tick{Schedule: "nightly", ScheduledAt: t0.AddDate(0, 0, day), FiredAt: t0.AddDate(0, 0, day).Add(time.Second)}
		}
		run, _ := insertRun(t, s, store.RunInsertParams{Ticks: []store.Tick{tick(1), tick(2)}}, task{})
		// The same tick again: refused, and no run stored.
		p := store.RunInsertParams{Kind: "schedule", CreatedAt: t0, Ticks: []store.Tick{tick(2), tick(3)}}
		if _, _, err := s.RunInsert(ctx, p); !errors.Is(err, store.ErrTickExists) {
			t.Fatalf("second insert of a tick: %v", err)
		}
		if runs, _ := s.RunList(ctx, store.RunListParams{}); len(runs) != 1 {
			t.Fatalf("%d runs after a refused tick, want 1", len(runs))
		}
		skipped := tick(4)
		skipped.Skipped = "missed while no daemon ran"
		if err := s.TickSkip(ctx, []store.Tick{skipped, tick(1)}); err != nil { // tick 1 stays fired
			t.Fatal(err)
		}
		if _, _, err := s.RunInsert(ctx, store.RunInsertParams{Kind: "schedule", CreatedAt: t0, Ticks: []store.Tick{tick(4)}}); !errors.Is(err, store.ErrTickExists) {
			t.Fatalf("firing a skipped tick: %v", err)
		}
		ticks, err := s.TickList(ctx, store.TickListParams{Schedule: "nightly"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tk := range ticks {
			got = append(got, fmt.Sprintf("%s run=%v %q", tk.ScheduledAt.Sub(t0), tk.RunID == run.ID, tk.Skipped))
		}
		if want := `[96h0m0s run=false "missed while no daemon ran" 48h0m0s run=true "" 24h0m0s run=true ""]`; fmt.Sprint(got) != want {
			t.Fatalf("ticks %v\nwant  %s", got, want)
		}
		if one, _ := s.TickList(ctx, store.TickListParams{Schedule: "nightly", Limit: 1}); len(one) != 1 || !one[0].ScheduledAt.Equal(t0.AddDate(0, 0, 4)) {
			t.Fatalf("newest tick %+v", one)
		}
	})
}

// runCursors checks named cursors and reading promotions past an id.
func runCursors(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("CursorsAndPromotionsAfterAnID", func(t *testing.T) {
		s := fresh(t)
		if _, ok, err := s.CursorGet(ctx, "eager"); ok || err != nil {
			t.Fatalf("unset cursor: %v %v", ok, err)
		}
		for _, v := range []int64{7, 3} {
			if err := s.CursorSet(ctx, "eager", v); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := s.CursorGet(ctx, "eager"); !ok || err != nil || got != v {
				t.Fatalf("cursor %d %v %v, want %d", got, ok, err, v)
			}
		}
		run, _ := insert(t, s, task{}, task{}, task{asset: "b"})
		for _, tk := range lease(t, s, store.TaskLeaseManyParams{Limit: 3}) {
			if _, err := s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: run.ID,
				Attempt: tk.Attempt, Asset: tk.Asset, StartedAt: t0, PromotedAt: t0,
				Partitions: []store.PromotedPartition{{Key: tk.PartitionFirst, Version: "v", ManifestSHA256: "m"}}}); err != nil {
				t.Fatal(err)
			}
		}
		all, _ := s.MaterializationList(ctx, store.MaterializationListParams{RunID: run.ID, Limit: -1}) // newest first
		after, err := s.MaterializationList(ctx, store.MaterializationListParams{AfterID: all[2].ID, Limit: -1})
		if err != nil || len(after) != 2 || after[0].ID != all[1].ID || after[1].ID != all[0].ID {
			t.Fatalf("after %d: %+v %v (want the two newer, oldest first)", all[2].ID, after, err)
		}
	})
}

// runProvenance checks InputsOfCurrent: what current versions read.
func runProvenance(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("InputsOfCurrentVersions", func(t *testing.T) {
		s := fresh(t)
		run, _ := insert(t, s, task{asset: "up"}, task{asset: "down"}, task{asset: "down"}, task{asset: "up"})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 4})
		promoteAs := func(tk *store.Task, asset, key, version string, inputs ...store.Input) {
			t.Helper()
			if _, err := s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: run.ID,
				Attempt: tk.Attempt, Asset: asset, StartedAt: t0, PromotedAt: t0,
				Partitions: []store.PromotedPartition{{Key: key, Version: version, ManifestSHA256: "m", Inputs: inputs}}}); err != nil {
				t.Fatal(err)
			}
		}
		promoteAs(got[0], "up", "d1", "u1")
		promoteAs(got[1], "down", "d1", "x1", store.Input{Asset: "up", PartitionKey: "d1", Version: "u1"})
		// up d1 is made again: down d1's current version still read u1.
		promoteAs(got[3], "up", "d1", "u2")
		ins, err := s.InputsOfCurrent(ctx, "up")
		if err != nil || fmt.Sprint(ins) != "[{up d1 u1}]" {
			t.Fatalf("read by current versions: %v %v", ins, err)
		}
		// down d1 made again from u2: u1 is nobody's provenance now.
		promoteAs(got[2], "down", "d1", "x2", store.Input{Asset: "up", PartitionKey: "d1", Version: "u2"})
		if ins, _ := s.InputsOfCurrent(ctx, "up"); fmt.Sprint(ins) != "[{up d1 u2}]" {
			t.Fatalf("after down d1 again: %v", ins)
		}
	})
}

// runLeaders checks leader leases.
func runLeaders(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("OneLeaderUntilItsLeaseExpires", func(t *testing.T) {
		s := fresh(t)
		lead := func(holder string, at time.Duration) *store.Leader {
			t.Helper()
			l, err := s.LeaderAcquire(ctx, store.LeaderParams{Role: "schedules", Holder: holder, TTL: 30 * time.Second, Now: t0.Add(at)})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		if l := lead("a", 0); !l.Leading || l.Token != 1 {
			t.Fatalf("first: %+v", l)
		}
		if l := lead("b", 10*time.Second); l.Leading || l.Holder != "a" || l.Token != 1 {
			t.Fatalf("b while a leads: %+v", l)
		}
		if l := lead("a", 20*time.Second); !l.Leading || l.Token != 1 || !l.ExpiresAt.Equal(t0.Add(50*time.Second)) {
			t.Fatalf("a renews: %+v", l)
		}
		if l := lead("b", 45*time.Second); l.Leading {
			t.Fatalf("b before a's renewed lease expired: %+v", l)
		}
		if l := lead("b", 51*time.Second); !l.Leading || l.Token != 2 {
			t.Fatalf("b after a's lease expired: %+v", l)
		}
		if l := lead("a", 52*time.Second); l.Leading || l.Holder != "b" {
			t.Fatalf("a after losing: %+v", l)
		}
		// a cannot release b's lease; b's own release frees it at once.
		if err := s.LeaderRelease(ctx, "schedules", "a"); err != nil {
			t.Fatal(err)
		}
		if l := lead("a", 53*time.Second); l.Leading {
			t.Fatalf("a released b's lease: %+v", l)
		}
		if err := s.LeaderRelease(ctx, "schedules", "b"); err != nil {
			t.Fatal(err)
		}
		if l := lead("a", 54*time.Second); !l.Leading || l.Token != 3 {
			t.Fatalf("a after b let go: %+v", l)
		}
	})
}
