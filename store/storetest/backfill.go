package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// runBackfills checks what backfills rely on: run throttles, priority and
// aging, pause and resume, the circuit breaker, cancel, retry of failed
// tasks, and tasks waiting for tasks of other runs.
func runBackfills(t *testing.T, fresh func(t *testing.T) store.Store) {
	leaseAt := func(t *testing.T, s store.Store, now time.Time, limit int) *store.LeaseResult {
		t.Helper()
		lr, err := s.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "w1", Limit: limit, Now: now, LeaseFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return lr
	}
	events := func(t *testing.T, s store.Store, runID int64) string {
		t.Helper()
		evs, err := s.RunEventList(ctx, runID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
		}
		return strings.Join(kinds, ",")
	}

	t.Run("MaxConcurrentPerRun", func(t *testing.T) {
		s := fresh(t)
		run, _ := insertRun(t, s, store.RunInsertParams{Throttle: store.Throttle{MaxConcurrent: 2}}, make([]task, 6)...)
		got := leaseAt(t, s, t0, 10)
		if len(got.Tasks) != 2 {
			t.Fatalf("leased %d tasks of a run with max-concurrent 2", len(got.Tasks))
		}
		if again := leaseAt(t, s, t0, 10); len(again.Tasks) != 0 {
			t.Fatalf("a second leaser got %d more", len(again.Tasks))
		}
		finish(t, s, got.Tasks[0], store.TaskSucceeded)
		if more := leaseAt(t, s, t0, 10); len(more.Tasks) != 1 {
			t.Fatalf("after one finished: leased %d, want 1", len(more.Tasks))
		}
		if r, _ := s.RunGet(ctx, run.ID); r.Throttle.MaxConcurrent != 2 {
			t.Fatalf("run throttle %+v", r.Throttle)
		}
	})

	t.Run("RunPoolOverridesTaskPools", func(t *testing.T) {
		s := fresh(t)
		run, _ := insertRun(t, s, store.RunInsertParams{Pool: "backfills"}, task{pool: "warehouse"}, task{})
		tasks, err := s.TaskList(ctx, store.TaskListParams{RunID: run.ID})
		if err != nil || len(tasks) != 2 || tasks[0].Pool != "backfills" || tasks[1].Pool != "backfills" || run.Pool != "backfills" {
			t.Fatalf("tasks %+v, %v", tasks, err)
		}
		if got := lease(t, s, store.TaskLeaseManyParams{Pools: []string{"warehouse"}}); len(got) != 0 {
			t.Fatalf("a worker of the asset's pool leased %d tasks of a run moved to another pool", len(got))
		}
	})

	t.Run("RateSpacesStarts", func(t *testing.T) {
		s := fresh(t)
		insertRun(t, s, store.RunInsertParams{Throttle: store.Throttle{RatePerSec: 4}}, make([]task, 6)...)
		first := leaseAt(t, s, t0, 10)
		if len(first.Tasks) != 1 || !first.ThrottledUntil.IsZero() {
			t.Fatalf("first lease: %d tasks, throttled until %v", len(first.Tasks), first.ThrottledUntil)
		}
		early := leaseAt(t, s, t0.Add(100*time.Millisecond), 10)
		if len(early.Tasks) != 0 || !early.ThrottledUntil.Equal(t0.Add(250*time.Millisecond)) {
			t.Fatalf("100 ms later: %d tasks, throttled until %v (want t0+250ms)", len(early.Tasks), early.ThrottledUntil)
		}
		if onTime := leaseAt(t, s, t0.Add(250*time.Millisecond), 10); len(onTime.Tasks) != 1 {
			t.Fatalf("at t0+250ms: %d tasks, want 1", len(onTime.Tasks))
		}
	})

	t.Run("HigherPriorityRunFirstAndAging", func(t *testing.T) {
		s := fresh(t)
		backfill, bFirst := insertRun(t, s, store.RunInsertParams{Priority: store.PriorityNormal}, make([]task, 3)...)
		_, iFirst := insertRun(t, s, store.RunInsertParams{Priority: store.PriorityHigh}, make([]task, 3)...)
		got := leaseAt(t, s, t0, 1)
		if len(got.Tasks) != 1 || got.Tasks[0].ID != iFirst {
			t.Fatalf("leased %v, want the high-priority run's task %d first", ids(got.Tasks), iFirst)
		}
		// The interactive run keeps leasing; the backfill has not started
		// a task for 10 minutes: two levels of aging put it ahead.
		later := t0.Add(10 * time.Minute)
		if got := leaseAt(t, s, later, 1); got.Tasks[0].RunID == backfill.ID {
			t.Fatalf("the interactive run leased at %v, and should have been first", later)
		}
		got = leaseAt(t, s, later.Add(time.Second), 1)
		if len(got.Tasks) != 1 || got.Tasks[0].ID != bFirst {
			t.Fatalf("leased %v, want the aged backfill's task %d", ids(got.Tasks), bFirst)
		}
	})

	t.Run("PauseAndResume", func(t *testing.T) {
		s := fresh(t)
		run, _ := insert(t, s, make([]task, 2)...)
		r, err := s.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunPaused, Actor: "oncall", At: t0})
		if err != nil || r.Status != store.RunPaused {
			t.Fatalf("pause: %v %v", r, err)
		}
		if got := leaseAt(t, s, t0, 10); len(got.Tasks) != 0 {
			t.Fatalf("a paused run leased %d tasks", len(got.Tasks))
		}
		if _, err := s.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunRunning, Actor: "oncall", At: t0}); err != nil {
			t.Fatal(err)
		}
		got := leaseAt(t, s, t0, 10)
		finish(t, s, got.Tasks[0], store.TaskSucceeded)
		finish(t, s, got.Tasks[1], store.TaskSucceeded)
		_, err = s.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunPaused, Actor: "oncall", At: t0})
		if !errors.Is(err, store.ErrRunState) || !strings.Contains(err.Error(), "succeeded") {
			t.Fatalf("pausing a finished run: %v", err)
		}
		if e := events(t, s, run.ID); e != "created,paused,resumed,finished" {
			t.Fatalf("events %s", e)
		}
	})

	t.Run("BreakerTripsAndResumeResetsIt", func(t *testing.T) {
		s := fresh(t)
		run, _ := insertRun(t, s, store.RunInsertParams{Breaker: store.Breaker{MaxFailureRate: 0.5, MinTasks: 3}}, make([]task, 8)...)
		got := leaseAt(t, s, t0, 4)
		finish(t, s, got.Tasks[0], store.TaskFailed)
		finish(t, s, got.Tasks[1], store.TaskFailed) // 2 of 2 failed, but fewer than 3 finished
		if r, _ := s.RunGet(ctx, run.ID); r.Status != store.RunRunning {
			t.Fatalf("tripped before min tasks: %s", r.Status)
		}
		finish(t, s, got.Tasks[2], store.TaskSucceeded) // 2 of 3 failed, but a success never trips
		finish(t, s, got.Tasks[3], store.TaskFailed)    // 3 of 4 = 75% > 50%
		r, _ := s.RunGet(ctx, run.ID)
		if r.Status != store.RunTripped || !strings.Contains(r.TripReason, "3 of 4 finished tasks failed") {
			t.Fatalf("run %s, reason %q", r.Status, r.TripReason)
		}
		if got := leaseAt(t, s, t0, 10); len(got.Tasks) != 0 {
			t.Fatalf("a tripped run leased %d tasks", len(got.Tasks))
		}
		r, err := s.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunRunning, Actor: "oncall", At: t0})
		if err != nil || r.Status != store.RunRunning || r.BreakerFinished != 0 {
			t.Fatalf("resume: %+v %v", r, err)
		}
		if got := leaseAt(t, s, t0, 10); len(got.Tasks) != 4 {
			t.Fatalf("resumed run leased %d tasks, want 4", len(got.Tasks))
		}
		if e := events(t, s, run.ID); e != "created,tripped,resumed" {
			t.Fatalf("events %s", e)
		}
	})

	t.Run("ConsecutiveFailuresTrip", func(t *testing.T) {
		s := fresh(t)
		run, _ := insertRun(t, s, store.RunInsertParams{Breaker: store.Breaker{MaxConsecutive: 2}}, make([]task, 5)...)
		got := leaseAt(t, s, t0, 4)
		finish(t, s, got.Tasks[0], store.TaskFailed)
		finish(t, s, got.Tasks[1], store.TaskSucceeded)
		finish(t, s, got.Tasks[2], store.TaskFailed)
		if r, _ := s.RunGet(ctx, run.ID); r.Status != store.RunRunning {
			t.Fatalf("tripped without 2 failures in a row: %s", r.Status)
		}
		finish(t, s, got.Tasks[3], store.TaskFailed)
		if r, _ := s.RunGet(ctx, run.ID); r.Status != store.RunTripped || !strings.Contains(r.TripReason, "2 tasks failed in a row") {
			t.Fatalf("run %s, reason %q", r.Status, r.TripReason)
		}
	})

	t.Run("CancelRevokesLeasesAndNothingPromotes", func(t *testing.T) {
		s := fresh(t)
		run, _ := insert(t, s, make([]task, 3)...)
		got := leaseAt(t, s, t0, 1)
		res, err := s.RunCancel(ctx, store.RunCancelParams{ID: run.ID, Actor: "oncall", Reason: "wrong range", At: t0})
		if err != nil || res.Pending != 2 || res.Interrupted != 1 {
			t.Fatalf("cancel: %+v %v", res, err)
		}
		tk := got.Tasks[0]
		if lost, err := s.TaskHeartbeat(ctx, store.TaskHeartbeatParams{Leases: []store.Lease{{TaskID: tk.ID, Token: tk.LeaseToken}}, Now: t0, LeaseFor: time.Minute}); err != nil || len(lost) != 1 {
			t.Fatalf("heartbeat after cancel: lost %v, %v", lost, err)
		}
		_, err = s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: run.ID, Asset: "a",
			StartedAt: t0, PromotedAt: t0, Partitions: []store.PromotedPartition{{Key: "k0", Version: "v1", ManifestSHA256: "x"}}})
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("promotion after cancel: %v", err)
		}
		r, _ := s.RunGet(ctx, run.ID)
		if r.Status != store.RunCancelled || r.Tasks[store.TaskCancelled] != 3 || r.Tasks[store.TaskRunning] != 0 {
			t.Fatalf("run %+v", r)
		}
		if st, _ := s.PartitionStatusList(ctx, "a"); len(st) != 0 {
			t.Fatalf("partition status after cancel: %+v", st)
		}
		if _, err := s.RunCancel(ctx, store.RunCancelParams{ID: run.ID, Actor: "oncall", At: t0}); !errors.Is(err, store.ErrRunState) {
			t.Fatalf("second cancel: %v", err)
		}
	})

	t.Run("CancelSkipsTasksOfOtherRunsWaitingForIt", func(t *testing.T) {
		s := fresh(t)
		run1, x := insert(t, s, task{}, task{})
		run2, y := insert(t, s, task{waitsFor: []int64{x + 1}}, task{dependents: nil})
		res, err := s.RunCancel(ctx, store.RunCancelParams{ID: run1.ID, Actor: "oncall", At: t0})
		if err != nil || len(res.Skipped) != 1 || res.Skipped[0].ID != y {
			t.Fatalf("cancel %+v %v: want task %d of run %d skipped", res, err, y, run2.ID)
		}
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 10})
		if len(got) != 1 || got[0].ID != y+1 {
			t.Fatalf("leased %v, want only %d", ids(got), y+1)
		}
		if fin := finish(t, s, got[0], store.TaskSucceeded); !fin.RunFinished || fin.RunStatus != store.RunFailed {
			t.Fatalf("run %d after its last task: %+v", run2.ID, fin)
		}
	})

	t.Run("RetryFailedRequeuesOnlyFailedAndSkipped", func(t *testing.T) {
		s := fresh(t)
		// 0 -> 1, and 2 independent.
		run, first := insert(t, s, task{dependents: []int32{1}, maxAtt: 2}, task{}, task{})
		got := leaseAt(t, s, t0, 10)
		finish(t, s, got.Tasks[0], store.TaskFailed)    // task 0 fails for good: 1 skipped
		finish(t, s, got.Tasks[1], store.TaskSucceeded) // task 2
		if r, _ := s.RunGet(ctx, run.ID); r.Status != store.RunFailed {
			t.Fatalf("run %s", r.Status)
		}
		res, err := s.RunRetryFailed(ctx, store.RunRetryFailedParams{ID: run.ID, Actor: "oncall", At: t0})
		if err != nil || res.Failed != 1 || res.Skipped != 1 || res.Run.Status != store.RunRunning {
			t.Fatalf("retry: %+v %v", res, err)
		}
		again := leaseAt(t, s, t0, 10)
		if fmt.Sprint(ids(again.Tasks)) != fmt.Sprint([]int64{first}) || again.Tasks[0].Attempt != 2 || again.Tasks[0].MaxAttempts != 3 {
			t.Fatalf("after retry leased %+v, want task %d alone, attempt 2 of 3", again.Tasks, first)
		}
		finish(t, s, again.Tasks[0], store.TaskSucceeded)
		last := leaseAt(t, s, t0, 10)
		if fmt.Sprint(ids(last.Tasks)) != fmt.Sprint([]int64{first + 1}) {
			t.Fatalf("then leased %v, want the skipped task %d", ids(last.Tasks), first+1)
		}
		if fin := finish(t, s, last.Tasks[0], store.TaskSucceeded); !fin.RunFinished || fin.RunStatus != store.RunSucceeded {
			t.Fatalf("last finish %+v", fin)
		}
		if _, err := s.RunRetryFailed(ctx, store.RunRetryFailedParams{ID: run.ID, Actor: "oncall", At: t0}); !errors.Is(err, store.ErrNothingToRetry) {
			t.Fatalf("retrying a run without failures: %v, want ErrNothingToRetry", err)
		}
	})

	t.Run("TasksWaitForTasksOfOtherRuns", func(t *testing.T) {
		s := fresh(t)
		run1, x := insert(t, s, task{}, task{})
		run2, y := insert(t, s, task{waitsFor: []int64{x}}, task{waitsFor: []int64{x, x + 1}})
		if fmt.Sprint(run2.WaitsFor) != fmt.Sprint([]int64{run1.ID}) {
			t.Fatalf("run %d waits for runs %v, want [%d]", run2.ID, run2.WaitsFor, run1.ID)
		}
		if got := leaseAt(t, s, t0, 10); fmt.Sprint(ids(got.Tasks)) != fmt.Sprint([]int64{x, x + 1}) {
			t.Fatalf("leased %v, want only run %d's tasks", ids(got.Tasks), run1.ID)
		} else {
			finish(t, s, got.Tasks[0], store.TaskSucceeded)
			if got := leaseAt(t, s, t0, 10); fmt.Sprint(ids(got.Tasks)) != fmt.Sprint([]int64{y}) {
				t.Fatalf("after %d succeeded leased %v, want %d", x, ids(got.Tasks), y)
			}
			res := finish(t, s, got.Tasks[1], store.TaskFailed)
			if len(res.Skipped) != 1 || res.Skipped[0].ID != y+1 || res.Skipped[0].RunID != run2.ID {
				t.Fatalf("failure of %d skipped %v, want %d of run %d", x+1, ids(res.Skipped), y+1, run2.ID)
			}
		}
		// A task of another run that succeeded already is not waited for.
		_, z := insert(t, s, task{waitsFor: []int64{x}})
		if tk, _, _ := s.TaskGet(ctx, z); tk.Waiting != 0 {
			t.Fatalf("waiting %d for a succeeded task", tk.Waiting)
		}
		// One that failed fails the insert.
		_, _, err := s.RunInsert(ctx, store.RunInsertParams{Kind: "materialize", CreatedAt: t0, Tasks: func(yield func(store.TaskInsertParams) bool) {
			yield(store.TaskInsertParams{Asset: "a", PartitionFirst: "k", PartitionLast: "k", PartitionCount: 1, Pool: "default", WaitsFor: []int64{x + 1}})
		}})
		if err == nil || !strings.Contains(err.Error(), "ended failed") {
			t.Fatalf("insert waiting for a failed task: %v", err)
		}
	})
}
