// Package storetest is the conformance suite every state-store driver runs
// in full: the same behaviour, fencing and quotas included, on every driver.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

var (
	t0  = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ctx = context.Background()
)

// task is a short way to declare a task of a test run.
type task struct {
	asset      string
	pool       string
	priority   int
	maxAtt     int
	dependents []int32 // positions in the run
	waitsFor   []int64 // tasks of other runs
}

func insert(t *testing.T, s store.Store, tasks ...task) (*store.Run, int64) {
	t.Helper()
	return insertRun(t, s, store.RunInsertParams{}, tasks...)
}

// insertRun inserts a run with p's run-level settings (throttles,
// priority, ...) and the given tasks.
func insertRun(t *testing.T, s store.Store, p store.RunInsertParams, tasks ...task) (*store.Run, int64) {
	t.Helper()
	p.Kind, p.Selection, p.Assets, p.Partitions = "materialize", "*", []string{"a", "b"}, "2024-01-01...2024-01-03"
	p.Reprocess, p.CreatedBy = "missing", "tester"
	if p.CreatedAt.IsZero() {
		p.CreatedAt = t0
	}
	waiting := make([]int, len(tasks))
	for _, tk := range tasks {
		for _, d := range tk.dependents {
			waiting[d]++
		}
	}
	var ps []store.TaskInsertParams
	for i, tk := range tasks {
		if tk.asset == "" {
			tk.asset = "a"
		}
		if tk.pool == "" {
			tk.pool = "default"
		}
		ps = append(ps, store.TaskInsertParams{Asset: tk.asset, PartitionFirst: fmt.Sprintf("k%d", i), PartitionLast: fmt.Sprintf("k%d", i),
			PartitionCount: 1, MaxAttempts: max(tk.maxAtt, 1), Pool: tk.pool, Priority: tk.priority, Rank: int64(i), Waiting: waiting[i],
			Dependents: tk.dependents, WaitsFor: tk.waitsFor})
	}
	p.Tasks = slices.Values(ps)
	run, first, err := s.RunInsert(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return run, first
}

func lease(t *testing.T, s store.Store, p store.TaskLeaseManyParams) []*store.Task {
	t.Helper()
	if p.Now.IsZero() {
		p.Now = t0
	}
	if p.LeaseFor == 0 {
		p.LeaseFor = time.Minute
	}
	if p.Worker == "" {
		p.Worker = "w1"
	}
	got, err := s.TaskLeaseMany(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return got.Tasks
}

func finish(t *testing.T, s store.Store, tk *store.Task, state store.TaskState) *store.TaskFinishResult {
	t.Helper()
	res, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: state, Error: string(state), At: t0})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func ids(ts []*store.Task) []int64 {
	out := []int64{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// Run runs the suite. open returns a fresh, empty store for each subtest;
// the suite closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	fresh := func(t *testing.T) store.Store {
		s := open(t)
		t.Cleanup(func() { s.Close() })
		t.Cleanup(func() { checkCounts(t, s) }) // runs before Close
		return s
	}

	runBackfills(t, fresh)
	runPhases(t, fresh)
	runBatches(t, fresh)
	runSchedules(t, fresh)
	runLeaders(t, fresh)
	runCursors(t, fresh)
	runProvenance(t, fresh)
	runProgress(t, fresh)
	runAlerts(t, fresh)
	runSensors(t, fresh)

	t.Run("RunInsertAssignsConsecutiveTaskIDs", func(t *testing.T) {
		s := fresh(t)
		_, first1 := insert(t, s, make([]task, 1200)...)
		run, first2 := insert(t, s, task{}, task{}, task{})
		if first2 != first1+1200 {
			t.Fatalf("second run's first task %d, want %d", first2, first1+1200)
		}
		tasks, err := s.TaskList(ctx, store.TaskListParams{RunID: run.ID})
		if err != nil || len(tasks) != 3 || tasks[0].ID != first2 || tasks[2].ID != first2+2 {
			t.Fatalf("tasks %v, %v", tasks, err)
		}
		if run.Status != store.RunRunning || run.Tasks[store.TaskPending] != 3 || !run.CreatedAt.Equal(t0) || run.Assets[1] != "b" {
			t.Fatalf("run %+v", run)
		}
		if all, _ := s.TaskList(ctx, store.TaskListParams{Limit: 5}); len(all) != 5 {
			t.Fatalf("limit: %d tasks", len(all))
		}
		if page, _ := s.TaskList(ctx, store.TaskListParams{RunID: run.ID, AfterID: first2, Limit: 1}); len(page) != 1 || page[0].ID != first2+1 {
			t.Fatalf("the page after task %d: %v", first2, page)
		}
	})

	t.Run("ActiveTasksAsStretchesOfConsecutiveIDs", func(t *testing.T) {
		s := fresh(t)
		// Run 1: a has k0..k5, b has k6..k8. k0..k4 are leased; k1
		// succeeds and k3 fails: a's unfinished tasks are k0, k2 and
		// k4..k5 (pending), b's all three.
		run1, f1 := insert(t, s, task{}, task{}, task{}, task{}, task{}, task{}, task{asset: "b"}, task{asset: "b"}, task{asset: "b"})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 5})
		if len(got) != 5 || got[0].ID != f1 {
			t.Fatalf("leased %v", ids(got))
		}
		finish(t, s, got[1], store.TaskSucceeded)
		finish(t, s, got[3], store.TaskFailed)
		// Run 2: two tasks of a, untouched. Run 3: one task of a, done:
		// not listed.
		run2, f2 := insert(t, s, task{}, task{})
		run3, f3 := insert(t, s, task{})
		done := lease(t, s, store.TaskLeaseManyParams{Limit: 10})
		for _, tk := range done {
			if tk.ID == f3 {
				finish(t, s, tk, store.TaskSucceeded)
			}
		}
		want := []store.ActiveRun{
			{Asset: "a", RunID: run1.ID, Tasks: 4, Partitions: 4, Stretches: []store.TaskStretch{
				{FirstTaskID: f1, LastTaskID: f1, PartitionFirst: "k0", PartitionLast: "k0"},
				{FirstTaskID: f1 + 2, LastTaskID: f1 + 2, PartitionFirst: "k2", PartitionLast: "k2"},
				{FirstTaskID: f1 + 4, LastTaskID: f1 + 5, PartitionFirst: "k4", PartitionLast: "k5"}}},
			{Asset: "a", RunID: run2.ID, Tasks: 2, Partitions: 2, Stretches: []store.TaskStretch{
				{FirstTaskID: f2, LastTaskID: f2 + 1, PartitionFirst: "k0", PartitionLast: "k1"}}},
		}
		if active, err := s.TaskActiveRuns(ctx, []string{"a"}); err != nil || !reflect.DeepEqual(active, want) {
			t.Fatalf("a: %+v, %v\nwant %+v (run 3 = %d is done)", active, err, want, run3.ID)
		}
		wantB := []store.ActiveRun{{Asset: "b", RunID: run1.ID, Tasks: 3, Partitions: 3, Stretches: []store.TaskStretch{
			{FirstTaskID: f1 + 6, LastTaskID: f1 + 8, PartitionFirst: "k6", PartitionLast: "k8"}}}}
		if active, err := s.TaskActiveRuns(ctx, []string{"b", "nope", "a"}); err != nil || !reflect.DeepEqual(active, append(want, wantB...)) {
			t.Fatalf("b, nope, a: %+v, %v\nwant %+v", active, err, append(want, wantB...))
		}
		if active, err := s.TaskActiveRuns(ctx, []string{"nope"}); err != nil || len(active) != 0 {
			t.Fatalf("an asset without tasks: %+v, %v", active, err)
		}
		// The stretches hold exactly the tasks TaskActiveList lists.
		list, err := s.TaskActiveList(ctx, "a")
		if err != nil || len(list) != 6 {
			t.Fatalf("active list %+v, %v", list, err)
		}
		// TaskSpanList reads the unfinished tasks of an id range.
		span, err := s.TaskSpanList(ctx, f1, f1+6)
		var spans []string
		for _, tk := range span {
			spans = append(spans, fmt.Sprintf("%d:%s-%s", tk.ID-f1, tk.PartitionFirst, tk.PartitionLast))
		}
		if err != nil || strings.Join(spans, " ") != "0:k0-k0 2:k2-k2 4:k4-k4 5:k5-k5 6:k6-k6" || span[0].RunID != run1.ID {
			t.Fatalf("tasks %d..%d: %v, %v", f1, f1+6, spans, err)
		}
	})

	t.Run("WorkersAndTheLeasesOfDeadOnes", func(t *testing.T) {
		s := fresh(t)
		for _, id := range []string{"w1", "w2"} {
			if err := s.WorkerRegister(ctx, store.WorkerRegisterParams{ID: id, Host: "h1", PID: 41, Pools: []string{"etl", "ml"}, Concurrency: 4,
				LeaseTimeout: time.Minute, At: t0}); err != nil {
				t.Fatal(err)
			}
		}
		_, first := insert(t, s, task{maxAtt: 3}, task{maxAtt: 3})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 1, Worker: "w1"})
		if _, err := s.TaskHeartbeat(ctx, store.TaskHeartbeatParams{Leases: nil, Now: t0.Add(20 * time.Second), LeaseFor: time.Minute, Worker: "w2"}); err != nil {
			t.Fatal(err)
		}
		ws, err := s.WorkerList(ctx, store.WorkerListParams{Host: "h1", Active: true})
		if err != nil || len(ws) != 2 {
			t.Fatalf("workers %v %v", ws, err)
		}
		w1, w2 := ws[0], ws[1]
		if w1.ID != "w1" || w1.Running != 1 || w1.PID != 41 || fmt.Sprint(w1.Pools) != "[etl ml]" || w1.Concurrency != 4 || w1.LeaseTimeout != time.Minute ||
			!w1.StartedAt.Equal(t0) || w2.Running != 0 || !w2.HeartbeatAt.Equal(t0.Add(20*time.Second)) {
			t.Fatalf("workers %+v %+v", w1, w2)
		}
		if st := w1.State(t0.Add(61 * time.Second)); st != store.WorkerLost {
			t.Fatalf("w1 silent for 61 s with a 1 min lease: %s", st)
		}
		if st := w2.State(t0.Add(61 * time.Second)); st != store.WorkerRunning {
			t.Fatalf("w2 heartbeated 41 s ago: %s", st)
		}
		// w1's process is gone: its lease is reaped before it expires.
		reaped, err := s.TaskReapExpired(ctx, store.TaskReapExpiredParams{Now: t0.Add(time.Second), DeadWorkers: []string{"w1"}})
		if err != nil || len(reaped) != 1 || reaped[0].Task.ID != got[0].ID || reaped[0].Task.State != store.TaskPending ||
			!strings.Contains(reaped[0].Task.Error, "process is gone") {
			t.Fatalf("reaped %v %v", reaped, err)
		}
		if again := lease(t, s, store.TaskLeaseManyParams{Limit: 2, Worker: "w2", Now: t0.Add(time.Second)}); len(again) != 2 || again[0].ID != first {
			t.Fatalf("after reaping w1, w2 leased %v", ids(again))
		}
		if err := s.WorkerStop(ctx, "w2", t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		ws, _ = s.WorkerList(ctx, store.WorkerListParams{})
		if len(ws) != 2 || ws[0].State(t0) != store.WorkerStopped || ws[1].State(t0) != store.WorkerStopped || !ws[1].StoppedAt.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("after w1 was reaped and w2 stopped: %+v %+v", ws[0], ws[1])
		}
		if active, _ := s.WorkerList(ctx, store.WorkerListParams{Active: true}); len(active) != 0 {
			t.Fatalf("active workers %+v", active)
		}
		// A restarted worker starts afresh.
		if err := s.WorkerRegister(ctx, store.WorkerRegisterParams{ID: "w1", Host: "h2", PID: 7, Concurrency: 1, LeaseTimeout: time.Second, At: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if ws, _ := s.WorkerList(ctx, store.WorkerListParams{Active: true}); len(ws) != 1 || ws[0].Host != "h2" || !ws[0].StoppedAt.IsZero() || ws[0].Pools != nil {
			t.Fatalf("restarted worker %+v", ws)
		}
	})

	t.Run("RunFinishIdleEndsRunsLeftActive", func(t *testing.T) {
		s := fresh(t)
		done, _ := insert(t, s, task{}, task{})
		open, _ := insert(t, s, task{})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 2, RunID: done.ID})
		finish(t, s, got[0], store.TaskSucceeded)
		// The process finishing the last task dies after its commit
		// (the task failed, the run's counts moved with it), before the
		// run's completion check.
		db := rawDB(t, s)
		mustExec(t, db, fmt.Sprintf(`UPDATE tasks SET state = 'failed', lease_expires_at = NULL WHERE id = %d`, got[1].ID))
		mustExec(t, db, fmt.Sprintf(`INSERT INTO run_counts (run_id, asset, state, slot, tasks, partitions) VALUES (%d, 'a', 'running', 99, -1, -1), (%d, 'a', 'failed', 99, 1, 1)`, done.ID, done.ID))
		if r, _ := s.RunGet(ctx, done.ID); r.Status != store.RunRunning {
			t.Fatalf("run %s before the sweep", r.Status)
		}
		ended, err := s.RunFinishIdle(ctx, t0.Add(time.Minute))
		if err != nil || fmt.Sprint(ended) != fmt.Sprint([]int64{done.ID}) {
			t.Fatalf("RunFinishIdle = %v, %v; want [%d]", ended, err, done.ID)
		}
		r, _ := s.RunGet(ctx, done.ID)
		if r.Status != store.RunFailed || r.Error != "1 of 2 tasks failed" || !r.FinishedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("swept run %+v", r)
		}
		if r, _ := s.RunGet(ctx, open.ID); r.Status != store.RunRunning {
			t.Fatalf("a run with a pending task was ended: %s", r.Status)
		}
		if again, err := s.RunFinishIdle(ctx, t0.Add(time.Minute)); err != nil || len(again) != 0 {
			t.Fatalf("second sweep %v %v", again, err)
		}
	})

	t.Run("LeaseFollowsDependenciesPriorityAndRank", func(t *testing.T) {
		s := fresh(t)
		// 0 -> 1 -> 2, and 3 independent with high priority.
		run, first := insert(t, s, task{dependents: []int32{1}}, task{dependents: []int32{2}}, task{}, task{priority: 5})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 10})
		if fmt.Sprint(ids(got)) != fmt.Sprint([]int64{first + 3, first}) {
			t.Fatalf("leased %v, want the high-priority task, then the first", ids(got))
		}
		if got[0].Attempt != 1 || got[0].State != store.TaskRunning || got[0].Worker != "w1" || !got[0].LeaseExpiresAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("leased task %+v", got[0])
		}
		finish(t, s, got[0], store.TaskSucceeded)
		if r := finish(t, s, got[1], store.TaskSucceeded); r.RunFinished {
			t.Fatal("run finished with tasks left")
		}
		next := lease(t, s, store.TaskLeaseManyParams{Limit: 10})
		if len(next) != 1 || next[0].ID != first+1 {
			t.Fatalf("after the first task, leased %v", ids(next))
		}
		finish(t, s, next[0], store.TaskSucceeded)
		last := lease(t, s, store.TaskLeaseManyParams{Limit: 10})
		res := finish(t, s, last[0], store.TaskSucceeded)
		if !res.RunFinished || res.RunStatus != store.RunSucceeded {
			t.Fatalf("last task: %+v", res)
		}
		if r, _ := s.RunGet(ctx, run.ID); r.Status != store.RunSucceeded || !r.FinishedAt.Equal(t0) {
			t.Fatalf("run %+v", r)
		}
		if len(lease(t, s, store.TaskLeaseManyParams{Limit: 10})) != 0 {
			t.Fatal("leased from a finished run")
		}
	})

	t.Run("FencingTokens", func(t *testing.T) {
		s := fresh(t)
		_, id := insert(t, s, task{maxAtt: 3})
		first := lease(t, s, store.TaskLeaseManyParams{})[0]
		_, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: id, LeaseToken: first.LeaseToken, State: store.TaskPending, Error: "boom", NotBefore: t0.Add(time.Second), At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if got := lease(t, s, store.TaskLeaseManyParams{}); len(got) != 0 {
			t.Fatal("leased before not_before")
		}
		second := lease(t, s, store.TaskLeaseManyParams{Now: t0.Add(2 * time.Second), Worker: "w2"})[0]
		if second.LeaseToken <= first.LeaseToken || second.Attempt != 2 {
			t.Fatalf("second lease: token %d after %d, attempt %d", second.LeaseToken, first.LeaseToken, second.Attempt)
		}
		// The first attempt's late writes are fenced off.
		if _, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: id, LeaseToken: first.LeaseToken, State: store.TaskSucceeded, At: t0}); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale finish: %v, want ErrLeaseLost", err)
		}
		_, err = s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: id, LeaseToken: first.LeaseToken, Asset: "a",
			Partitions: []store.PromotedPartition{{Key: "k", Version: "stale"}}})
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale promote: %v, want ErrLeaseLost", err)
		}
		if st, _ := s.PartitionStatusList(ctx, "a"); len(st) != 0 {
			t.Fatalf("stale promote changed status: %+v", st)
		}
		if err := s.TaskRelease(ctx, store.TaskReleaseParams{ID: id, LeaseToken: first.LeaseToken, At: t0}); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale release: %v", err)
		}
		lost, err := s.TaskHeartbeat(ctx, store.TaskHeartbeatParams{Leases: []store.Lease{{TaskID: id, Token: first.LeaseToken}}, Now: t0, LeaseFor: time.Minute})
		if err != nil || len(lost) != 1 {
			t.Fatalf("stale heartbeat: lost %v, %v", lost, err)
		}
		lost, err = s.TaskHeartbeat(ctx, store.TaskHeartbeatParams{Leases: []store.Lease{{TaskID: id, Token: second.LeaseToken}}, Now: t0.Add(time.Hour), LeaseFor: time.Minute})
		if err != nil || len(lost) != 0 {
			t.Fatalf("heartbeat: lost %v, %v", lost, err)
		}
		if tk, _, _ := s.TaskGet(ctx, id); !tk.LeaseExpiresAt.Equal(t0.Add(time.Hour + time.Minute)) {
			t.Fatalf("heartbeat did not extend: %v", tk.LeaseExpiresAt)
		}
		finish(t, s, second, store.TaskSucceeded)
		tk, attempts, err := s.TaskGet(ctx, id)
		if err != nil || tk.State != store.TaskSucceeded || tk.Attempt != 2 || tk.Worker != "w2" || len(attempts) != 2 ||
			attempts[0].State != store.TaskFailed || attempts[0].Error != "boom" || attempts[1].State != store.TaskSucceeded {
			t.Fatalf("task %+v attempts %+v, %v", tk, attempts, err)
		}
		if _, _, err := s.TaskGet(ctx, id+1000); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing task: %v", err)
		}
	})

	t.Run("FailureSkipsDownstreamTransitively", func(t *testing.T) {
		s := fresh(t)
		run, first := insert(t, s, task{dependents: []int32{1}}, task{dependents: []int32{2}}, task{}, task{})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 10})
		res := finish(t, s, got[0], store.TaskFailed)
		if fmt.Sprint(ids(res.Skipped)) != fmt.Sprint([]int64{first + 1, first + 2}) || res.RunFinished {
			t.Fatalf("failure: %+v skipped %v", res, ids(res.Skipped))
		}
		res = finish(t, s, got[1], store.TaskSucceeded)
		if !res.RunFinished || res.RunStatus != store.RunFailed {
			t.Fatalf("last task: %+v", res)
		}
		r, _ := s.RunGet(ctx, run.ID)
		if r.Status != store.RunFailed || r.Error != "1 of 4 tasks failed, 2 skipped" || r.Tasks[store.TaskSkipped] != 2 {
			t.Fatalf("run %+v", r)
		}
	})

	t.Run("ReapExpiredLeases", func(t *testing.T) {
		s := fresh(t)
		_, first := insert(t, s, task{maxAtt: 2}, task{maxAtt: 1, dependents: []int32{2}}, task{})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 10, LeaseFor: 10 * time.Second, Worker: "dead"})
		if len(got) != 2 {
			t.Fatalf("leased %v", ids(got))
		}
		if res, err := s.TaskReapExpired(ctx, store.TaskReapExpiredParams{Now: t0.Add(5 * time.Second)}); err != nil || len(res) != 0 {
			t.Fatalf("reaped live leases: %v %v", res, err)
		}
		res, err := s.TaskReapExpired(ctx, store.TaskReapExpiredParams{Now: t0.Add(11 * time.Second)})
		if err != nil || len(res) != 2 {
			t.Fatalf("reap: %v %v", res, err)
		}
		byID := map[int64]*store.TaskFinishResult{}
		for _, r := range res {
			byID[r.Task.ID] = r
		}
		if r := byID[first]; r.Task.State != store.TaskPending {
			t.Fatalf("reaped task with attempts left: %+v", r.Task)
		}
		if r := byID[first+1]; r.Task.State != store.TaskFailed || len(r.Skipped) != 1 || r.Skipped[0].ID != first+2 {
			t.Fatalf("reaped task without attempts left: %+v", r)
		}
		again := lease(t, s, store.TaskLeaseManyParams{Now: t0.Add(12 * time.Second), Worker: "alive"})
		if len(again) != 1 || again[0].ID != first || again[0].LeaseToken != got[0].LeaseToken+1 {
			t.Fatalf("re-lease: %+v", again)
		}
		// The dead worker's completion is rejected.
		if _, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: first, LeaseToken: got[0].LeaseToken, State: store.TaskSucceeded, At: t0}); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("late finish: %v", err)
		}
	})

	t.Run("ReleaseKeepsTheAttempt", func(t *testing.T) {
		s := fresh(t)
		_, id := insert(t, s, task{maxAtt: 1})
		got := lease(t, s, store.TaskLeaseManyParams{})[0]
		if err := s.TaskRelease(ctx, store.TaskReleaseParams{ID: id, LeaseToken: got.LeaseToken, Reason: "worker stopping", At: t0}); err != nil {
			t.Fatal(err)
		}
		again := lease(t, s, store.TaskLeaseManyParams{})[0]
		if again.Attempt != 2 || again.MaxAttempts != 2 {
			t.Fatalf("after release: attempt %d of %d", again.Attempt, again.MaxAttempts)
		}
		_, attempts, _ := s.TaskGet(ctx, id)
		if attempts[0].State != store.AttemptReleased || attempts[0].Error != "worker stopping" {
			t.Fatalf("attempts %+v", attempts[0])
		}
	})

	t.Run("RunTaskStatsCountsAndTimesInTheDatabase", func(t *testing.T) {
		s := fresh(t)
		insert(t, s, task{}) // another run's task: not counted
		run, _ := insert(t, s, task{}, task{}, task{})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 2, RunID: run.ID})
		finish(t, s, got[0], store.TaskFailed)
		if _, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: got[1].ID, LeaseToken: got[1].LeaseToken, State: store.TaskSucceeded,
			At: t0.Add(1500 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		stats, err := s.RunTaskStats(ctx, run.ID)
		if err != nil || stats.Tasks != 3 || stats.Attempts != 2 || len(stats.Seconds) != 1 {
			t.Fatalf("stats %+v %v", stats, err)
		}
		tk, _, _ := s.TaskGet(ctx, got[1].ID)
		if want := tk.FinishedAt.Sub(tk.StartedAt).Seconds(); math.Abs(stats.Seconds[0]-want) > 0.002 {
			t.Fatalf("duration %v s, the task's stamps say %v s", stats.Seconds[0], want)
		}
	})

	t.Run("CancelWhileTasksEndKeepsTheCountsExact", func(t *testing.T) {
		// A worker's finishes commit while a cancel runs: every task is
		// counted once, in the state it ended in.
		for round := 0; round < 5; round++ {
			s := fresh(t)
			specs := make([]task, 120)
			run, _ := insert(t, s, specs...)
			leased := lease(t, s, store.TaskLeaseManyParams{Limit: 80, LeaseFor: time.Hour})
			var wg sync.WaitGroup
			for _, tk := range leased {
				wg.Go(func() {
					s.TaskFinish(ctx, store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: store.TaskSucceeded, At: t0})
				})
			}
			wg.Go(func() {
				if _, err := s.RunCancel(ctx, store.RunCancelParams{ID: run.ID, Actor: "test", At: t0}); err != nil {
					t.Error(err)
				}
			})
			wg.Wait()
			got, err := s.RunGet(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			tasks, _ := s.TaskList(ctx, store.TaskListParams{RunID: run.ID})
			want := map[store.TaskState]int64{}
			for _, tk := range tasks {
				want[tk.State]++
			}
			for _, st := range store.TaskStates {
				if got.Tasks[st] != want[st] {
					t.Fatalf("round %d: counted %v, the tasks are %v", round, got.Tasks, want)
				}
			}
		}
	})

	t.Run("ReadySinceIsWhenTheOldestReadyTaskCouldStart", func(t *testing.T) {
		s := fresh(t)
		insert(t, s, task{pool: "p", dependents: []int32{1}}, task{pool: "p"})
		since := func() time.Time {
			t.Helper()
			pools, err := s.PoolList(ctx)
			if err != nil || len(pools) != 1 {
				t.Fatalf("pools %+v %v", pools, err)
			}
			return pools[0].ReadySince
		}
		if got := since(); !got.Equal(t0) {
			t.Fatalf("ready since %s, want the run's creation %s", got, t0)
		}
		up := lease(t, s, store.TaskLeaseManyParams{Limit: 1})
		if got := since(); !got.IsZero() {
			t.Fatalf("nothing ready, yet ready since %s", got)
		}
		later := t0.Add(90 * time.Minute)
		if _, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: up[0].ID, LeaseToken: up[0].LeaseToken, State: store.TaskSucceeded, At: later}); err != nil {
			t.Fatal(err)
		}
		if got := since(); !got.Equal(later) {
			t.Fatalf("ready since %s, want its upstream's success %s", got, later)
		}
		down := lease(t, s, store.TaskLeaseManyParams{Limit: 1, Now: later})
		backoff := later.Add(time.Hour)
		if _, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: down[0].ID, LeaseToken: down[0].LeaseToken, State: store.TaskPending, NotBefore: backoff,
			At: later}); err != nil {
			t.Fatal(err)
		}
		if got := since(); !got.Equal(backoff) {
			t.Fatalf("ready since %s, want its backoff's end %s", got, backoff)
		}
	})

	t.Run("PoolQuotaAndFilters", func(t *testing.T) {
		s := fresh(t)
		if err := s.PoolSet(ctx, store.PoolSetParams{Name: "warehouse", MaxRunning: 2}); err != nil {
			t.Fatal(err)
		}
		if err := s.PoolSet(ctx, store.PoolSetParams{Name: "bad", MaxRunning: -1}); err == nil {
			t.Fatal("negative quota accepted")
		}
		run, _ := insert(t, s, task{pool: "warehouse"}, task{pool: "warehouse"}, task{pool: "warehouse"}, task{pool: "other"})
		if got := lease(t, s, store.TaskLeaseManyParams{Limit: 10, Pools: []string{"nope"}}); len(got) != 0 {
			t.Fatal("leased from another pool")
		}
		if got := lease(t, s, store.TaskLeaseManyParams{Limit: 10, RunID: run.ID + 1}); len(got) != 0 {
			t.Fatal("leased from another run")
		}
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 10, RunID: run.ID})
		if len(got) != 3 {
			t.Fatalf("leased %d, want 2 of warehouse and 1 of other", len(got))
		}
		if more := lease(t, s, store.TaskLeaseManyParams{Limit: 10}); len(more) != 0 {
			t.Fatalf("quota exceeded: leased %v", ids(more))
		}
		pools, err := s.PoolList(ctx)
		if err != nil || len(pools) != 2 || !pools[1].ReadySince.Equal(t0) {
			t.Fatalf("pools %+v %v", pools, err)
		}
		pools[1].ReadySince = time.Time{}
		if pools[1] != (store.Pool{Name: "warehouse", MaxRunning: 2, Running: 2, Ready: 1}) || pools[0] != (store.Pool{Name: "other", MaxRunning: -1, Running: 1}) {
			t.Fatalf("pools %+v %v", pools, err)
		}
		// A paused run's tasks are not the backlog.
		if _, err := s.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunPaused, At: t0}); err != nil {
			t.Fatal(err)
		}
		if pools, _ := s.PoolList(ctx); pools[1].Ready != 0 {
			t.Fatalf("paused run's ready task counted: %+v", pools)
		}
		if _, err := s.RunSetStatus(ctx, store.RunSetStatusParams{ID: run.ID, To: store.RunRunning, At: t0}); err != nil {
			t.Fatal(err)
		}
		finish(t, s, got[0], store.TaskSucceeded)
		if more := lease(t, s, store.TaskLeaseManyParams{Limit: 10}); len(more) != 1 {
			t.Fatalf("after one finished, leased %v", ids(more))
		}
		active, err := s.TaskActiveList(ctx, "a")
		if err != nil || len(active) != 3 || active[0].RunID != run.ID || active[0].PartitionFirst == "" {
			t.Fatalf("active %+v %v", active, err)
		}
	})

	t.Run("ConcurrentLeasersNeverExceedTheQuota", func(t *testing.T) {
		s := fresh(t)
		const quota, n = 3, 60
		s.PoolSet(ctx, store.PoolSetParams{Name: "warehouse", MaxRunning: quota})
		insert(t, s, make([]task, 0)...)
		tasks := make([]task, n)
		for i := range tasks {
			tasks[i].pool = "warehouse"
		}
		run, _ := insert(t, s, tasks...)
		var held, peak, done atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for done.Load() < n {
					lr, err := s.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: fmt.Sprint("w", w), Limit: 2, Now: t0, LeaseFor: time.Minute})
					if err != nil {
						errs <- err
						return
					}
					got := lr.Tasks
					h := held.Add(int64(len(got)))
					for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
					}
					pools, err := s.PoolList(ctx)
					if err != nil {
						errs <- err
						return
					}
					for _, p := range pools {
						if p.Name == "warehouse" && p.Running > quota {
							errs <- fmt.Errorf("store shows %d running in warehouse, quota %d", p.Running, quota)
						}
					}
					for _, tk := range got {
						held.Add(-1)
						if _, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: store.TaskSucceeded, At: t0}); err != nil {
							errs <- err
							return
						}
						done.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if peak.Load() > quota {
			t.Fatalf("%d leases held at once, quota %d", peak.Load(), quota)
		}
		// Leases and finishes interleaved to the end: the run must end.
		if r, _ := s.RunGet(ctx, run.ID); r.Status != store.RunSucceeded {
			t.Fatalf("run %s after all its tasks succeeded", r.Status)
		}
	})

	t.Run("ConcurrentFinishersEndTheRun", func(t *testing.T) {
		s := fresh(t)
		for round := 0; round < 20; round++ {
			run, _ := insert(t, s, make([]task, 8)...)
			got := lease(t, s, store.TaskLeaseManyParams{Limit: 8, RunID: run.ID})
			var wg sync.WaitGroup
			var finished atomic.Int32
			for _, tk := range got {
				wg.Go(func() {
					res, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: store.TaskSucceeded, At: t0})
					if err != nil {
						t.Error(err)
						return
					}
					if res.RunFinished {
						finished.Add(1)
					}
				})
			}
			wg.Wait()
			r, _ := s.RunGet(ctx, run.ID)
			if r.Status != store.RunSucceeded || finished.Load() != 1 {
				t.Fatalf("round %d: run %s, ended by %d finishers, want succeeded by exactly 1", round, r.Status, finished.Load())
			}
		}
	})

	t.Run("PromoteFailAndStatus", func(t *testing.T) {
		s := fresh(t)
		run, _ := insert(t, s, task{}, task{})
		if err := s.PartitionFail(ctx, store.PartitionFailParams{Asset: "a", Keys: []string{"2024-01-01", "2024-01-02"}, RunID: run.ID, Error: "bad",
			Cause: store.FailCheck, At: t0}); err != nil {
			t.Fatal(err)
		}
		tk := lease(t, s, store.TaskLeaseManyParams{})[0]
		promote := store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: run.ID, Attempt: 1, Asset: "a",
			CodeVersion: "v1", StartedAt: t0, PromotedAt: t0.Add(time.Second),
			Partitions: []store.PromotedPartition{{Key: "2024-01-01", Version: "v-1", ManifestSHA256: "abc", Files: 1, Bytes: 10,
				Inputs: []store.Input{{Asset: "up", PartitionKey: "2024-01-01", Version: "u-1"}}}}}
		res, err := s.MaterializationPromote(ctx, promote)
		if err != nil || res.Task.State != store.TaskSucceeded {
			t.Fatalf("promote: %+v %v", res, err)
		}
		// Promotion ended the task: promoting again is fenced off.
		if _, err := s.MaterializationPromote(ctx, promote); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("second promotion: %v", err)
		}
		if got, _ := s.TaskReapExpired(ctx, store.TaskReapExpiredParams{Now: t0.Add(time.Hour)}); len(got) != 0 {
			t.Fatalf("reaped a promoted task: %+v", got)
		}
		st, err := s.PartitionStatusList(ctx, "a")
		if err != nil || len(st) != 2 || st[0].PartitionKey != "2024-01-01" || st[0].Version != "v-1" || st[0].Failed || st[0].FailCause != store.FailWork ||
			st[1].Version != "" || !st[1].Failed || st[1].Error != "bad" || st[1].FailCause != store.FailCheck {
			t.Fatalf("status %+v %v", st, err)
		}
		for key, want := range map[string]time.Time{"2024-01-01": t0.Add(time.Second), "2024-01-02": {}, "nope": {}} {
			if at, err := s.PartitionPromotedAt(ctx, "a", key); err != nil || !at.Equal(want) {
				t.Fatalf("%s promoted at %s, %v; want %s", key, at, err, want)
			}
		}
		cur, err := s.PartitionCurrentList(ctx, "a", []string{"2024-01-01", "2024-01-02", "nope"})
		if err != nil || len(cur) != 1 || cur[0].Version != "v-1" || cur[0].ManifestSHA256 != "abc" {
			t.Fatalf("current %+v %v", cur, err)
		}
		mats, err := s.MaterializationList(ctx, store.MaterializationListParams{Asset: "a"})
		if err != nil || len(mats) != 1 || mats[0].Version != "v-1" || mats[0].CodeVersion != "v1" || !mats[0].PromotedAt.Equal(t0.Add(time.Second)) {
			t.Fatalf("materializations %+v %v", mats, err)
		}
		for task, want := range map[int64]int{tk.ID: 1, tk.ID + 1: 0} {
			got, err := s.MaterializationList(ctx, store.MaterializationListParams{RunID: run.ID, TaskID: task})
			if err != nil || len(got) != want {
				t.Fatalf("materializations of task %d: %+v %v, want %d", task, got, err, want)
			}
		}
		ins, err := s.MaterializationInputs(ctx, mats[0].ID)
		if err != nil || len(ins) != 1 || ins[0].Version != "u-1" {
			t.Fatalf("inputs %+v %v", ins, err)
		}
		if err := s.PartitionFail(ctx, store.PartitionFailParams{Asset: "a", Keys: []string{"2024-01-01"}, RunID: run.ID, Error: "again",
			Cause: store.FailUpstream, At: t0}); err != nil {
			t.Fatal(err)
		}
		cur, _ = s.PartitionCurrentList(ctx, "a", []string{"2024-01-01"})
		if len(cur) != 1 || cur[0].Version != "v-1" || !cur[0].Failed || cur[0].FailCause != store.FailUpstream {
			t.Fatalf("after failure %+v", cur)
		}
		var causes []store.FailCause
		if _, err := s.PartitionStateChanges(ctx, "a", 0, func(ps *store.PartitionState) error {
			causes = append(causes, ps.FailCause)
			return nil
		}); err != nil || !slices.Equal(causes, []store.FailCause{store.FailUpstream, store.FailCheck}) {
			t.Fatalf("fail causes %v %v", causes, err)
		}
	})

	t.Run("StatusSummariesKeepTheLatestMark", func(t *testing.T) {
		s := fresh(t)
		if got, err := s.StatusSummaryGet(ctx, "a"); got != nil || err != nil {
			t.Fatalf("before any: %+v %v", got, err)
		}
		put := func(mark int64, def, body string) {
			t.Helper()
			if err := s.StatusSummaryPut(ctx, store.StatusSummary{Asset: "a", Definition: def, Mark: mark, Body: []byte(body)}); err != nil {
				t.Fatal(err)
			}
		}
		get := func(want string) {
			t.Helper()
			got, err := s.StatusSummaryGet(ctx, "a")
			if err != nil || got == nil || fmt.Sprintf("%d %s %s", got.Mark, got.Definition, got.Body) != want {
				t.Fatalf("summary %+v %v, want %s", got, err, want)
			}
		}
		put(10, "daily", "\x01ten")
		get("10 daily \x01ten")
		put(5, "daily", "five") // a reader that began earlier keeps nothing
		get("10 daily \x01ten")
		put(12, "hourly", "twelve")
		get("12 hourly twelve")
		if got, err := s.StatusSummaryGet(ctx, "b"); got != nil || err != nil {
			t.Fatalf("another asset's: %+v %v", got, err)
		}
	})

	t.Run("PromotionKeepsStalenessOnTheCurrentRow", func(t *testing.T) {
		s := fresh(t)
		run, _ := insert(t, s, task{}, task{}, task{}, task{})
		tasks := lease(t, s, store.TaskLeaseManyParams{Limit: 4})
		if len(tasks) != 4 {
			t.Fatalf("leased %d", len(tasks))
		}
		promote := func(tk *store.Task, asset, key, version, code string, inputs ...store.Input) {
			t.Helper()
			_, err := s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: run.ID,
				Attempt: 1, Asset: asset, CodeVersion: code, StartedAt: t0, PromotedAt: t0,
				Partitions: []store.PromotedPartition{{Key: key, Version: version, ManifestSHA256: "x", Inputs: inputs}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		check := func(when string, staleKeys ...string) {
			t.Helper()
			rows, err := s.PartitionStatusList(ctx, "down")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				if r.InputStale {
					got = append(got, r.PartitionKey)
				}
				if r.CodeVersion != "c1" {
					t.Errorf("%s: %s made by code %q, want c1", when, r.PartitionKey, r.CodeVersion)
				}
			}
			var each []string
			_, err = s.PartitionStateChanges(ctx, "down", 0, func(st *store.PartitionState) error {
				if !st.Current || st.CodeVersion != "c1" || st.Failed || st.VerifyFailed {
					t.Errorf("%s: state %+v", when, *st)
				}
				if st.InputStale {
					each = append(each, st.Key)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			changed, err := s.PartitionInputsChanged(ctx, "down")
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(each) != fmt.Sprint(got) {
				t.Errorf("%s: PartitionStateChanges says %v are input-stale, PartitionStatusList %v", when, each, got)
			}
			if fmt.Sprint(got) != fmt.Sprint(staleKeys) || fmt.Sprint(changed["up"]) != fmt.Sprint(staleKeys) || len(changed) > 1 {
				t.Errorf("%s: input-stale %v, changed %v; want %v", when, got, changed, staleKeys)
			}
		}
		promote(tasks[0], "up", "p", "u1", "c1")
		promote(tasks[1], "down", "d1", "d1-1", "c1", store.Input{Asset: "up", PartitionKey: "p", Version: "u1"})
		check("read the current version")
		// up p promoted again: the version that read u1 is stale now.
		promote(tasks[2], "up", "p", "u2", "c1")
		check("after up changed", "d1")
		// A task that read u1 before u2 was promoted, promoted after it:
		// stale as it is promoted.
		promote(tasks[3], "down", "d2", "d2-1", "c1", store.Input{Asset: "up", PartitionKey: "p", Version: "u1"})
		check("promoted from an old read", "d1", "d2")
		// d1 made again from u2: fresh.
		run2, _ := insert(t, s, task{})
		tk := lease(t, s, store.TaskLeaseManyParams{RunID: run2.ID})[0]
		_, err := s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: run2.ID,
			Attempt: 1, Asset: "down", CodeVersion: "c1", StartedAt: t0, PromotedAt: t0,
			Partitions: []store.PromotedPartition{{Key: "d1", Version: "d1-2", ManifestSHA256: "x", Inputs: []store.Input{{Asset: "up", PartitionKey: "p", Version: "u2"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		check("made again", "d2")
	})

	t.Run("RunsAndNotFound", func(t *testing.T) {
		s := fresh(t)
		insert(t, s, task{})
		insert(t, s)
		runs, err := s.RunList(ctx, store.RunListParams{})
		if err != nil || len(runs) != 2 || runs[0].ID <= runs[1].ID || runs[1].Tasks[store.TaskPending] != 1 {
			t.Fatalf("runs %v %v", runs, err)
		}
		if _, err := s.RunGet(ctx, 999); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing run: %v", err)
		}
		if err := s.RunFinish(ctx, store.RunFinishParams{ID: 999, Status: store.RunFailed, FinishedAt: t0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("finish missing run: %v", err)
		}
	})

	t.Run("TaskWake", func(t *testing.T) {
		s := fresh(t)
		wake := s.TaskWake()
		insert(t, s, task{dependents: []int32{1}}, task{})
		<-wake // a run insert wakes
		tk := lease(t, s, store.TaskLeaseManyParams{})[0]
		wake = s.TaskWake()
		finish(t, s, tk, store.TaskSucceeded)
		<-wake // a success that readies a dependent wakes
	})

	t.Run("CheckResults", func(t *testing.T) {
		s := fresh(t)
		err := s.CheckResultInsertMany(ctx, []store.CheckResult{
			{Asset: "a", Partitions: "2024-01-01", RunID: 1, TaskID: 2, Attempt: 1, Name: "rows", Passed: true, Value: "10", CheckedAt: t0},
			{Asset: "a", Partitions: "2024-01-01", RunID: 1, TaskID: 2, Attempt: 1, Name: "nulls", Warn: true, Value: "3", Error: "want 0, got 3", CheckedAt: t0},
			{Asset: "b", Partitions: "all", RunID: 1, TaskID: 3, Attempt: 1, Name: "x", Passed: true, CheckedAt: t0},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.CheckResultList(ctx, store.CheckResultListParams{Asset: "a"})
		if err != nil || len(got) != 2 || got[0].Name != "nulls" || !got[0].Warn || got[0].Passed || got[0].Error != "want 0, got 3" ||
			!got[1].Passed || got[1].Value != "10" || !got[1].CheckedAt.Equal(t0) {
			t.Fatalf("results %+v %v", got, err)
		}
		if got, err := s.CheckResultList(ctx, store.CheckResultListParams{RunID: 1, TaskID: 3}); err != nil || len(got) != 1 || got[0].Asset != "b" {
			t.Fatalf("results of task 3: %+v %v", got, err)
		}
	})

	t.Run("DynamicPartitions", func(t *testing.T) {
		s := fresh(t)
		n, err := s.DynamicPartitionAdd(ctx, store.DynamicPartitionAddParams{Name: "customers", Keys: []string{"acme", "globex"}, At: t0})
		if err != nil || n != 2 {
			t.Fatalf("add: %d %v", n, err)
		}
		n, err = s.DynamicPartitionAdd(ctx, store.DynamicPartitionAddParams{Name: "customers", Keys: []string{"globex", "initech"}, At: t0})
		if err != nil || n != 1 {
			t.Fatalf("add again: %d %v", n, err)
		}
		keys, err := s.DynamicPartitionList(ctx, "customers")
		if err != nil || len(keys) != 3 || keys[0] != "acme" || keys[2] != "initech" {
			t.Fatalf("keys %v %v", keys, err)
		}
		if keys, _ := s.DynamicPartitionList(ctx, "other"); len(keys) != 0 {
			t.Fatalf("other: %v", keys)
		}
	})
}

// checkCounts checks, after a test, that every run's task counts (RunGet,
// RunProgress: kept as tasks change state) agree with its tasks.
func checkCounts(t *testing.T, s store.Store) {
	t.Helper()
	runs, err := s.RunList(ctx, store.RunListParams{Limit: -1})
	if err != nil {
		t.Errorf("list runs to check their counts: %v", err)
		return
	}
	for _, run := range runs {
		tasks, err := s.TaskList(ctx, store.TaskListParams{RunID: run.ID})
		if err != nil {
			t.Errorf("tasks of run %d: %v", run.ID, err)
			return
		}
		want := map[store.TaskState]int64{}
		wantAssets := map[string]int64{}
		for _, tk := range tasks {
			want[tk.State]++
			wantAssets[tk.Asset+" "+string(tk.State)] += tk.PartitionCount
		}
		if fmt.Sprint(run.Tasks) != fmt.Sprint(want) {
			t.Errorf("run %d counts %v, its tasks %v", run.ID, run.Tasks, want)
		}
		pr, err := s.RunProgress(ctx, store.RunProgressParams{ID: run.ID})
		if err != nil {
			t.Errorf("progress of run %d: %v", run.ID, err)
			return
		}
		got := map[string]int64{}
		for _, a := range pr.Assets {
			got[a.Asset+" "+string(a.State)] = a.Partitions
		}
		if fmt.Sprint(got) != fmt.Sprint(wantAssets) {
			t.Errorf("run %d partitions by asset and state %v, its tasks %v", run.ID, got, wantAssets)
		}
	}
}
