// Package storetest is the conformance suite every state-store driver runs
// in full: the same behaviour, fencing included, on every driver.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/weir-dev/weir/internal/store"
)

// Run runs the suite. open returns a fresh, empty store for each subtest;
// the suite closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	fresh := func(t *testing.T) store.Store {
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	newRun := func(t *testing.T, s store.Store, n int) (*store.Run, int64) {
		t.Helper()
		p := store.RunInsertParams{Kind: "materialize", Selection: "*", Assets: []string{"a", "b"}, Partitions: "2024-01-01...2024-01-03",
			Reprocess: "missing", CreatedBy: "tester", CreatedAt: t0}
		for i := 0; i < n; i++ {
			p.Tasks = append(p.Tasks, store.TaskInsertParams{Asset: "a", PartitionFirst: "k", PartitionLast: "k", PartitionCount: 1, MaxAttempts: 2, Pool: "default"})
		}
		run, first, err := s.RunInsert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return run, first
	}

	t.Run("RunInsertAssignsConsecutiveTaskIDs", func(t *testing.T) {
		s := fresh(t)
		_, first1 := newRun(t, s, 1200)
		run, first2 := newRun(t, s, 3)
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
	})

	t.Run("TaskLifecycleAndFencing", func(t *testing.T) {
		s := fresh(t)
		_, id := newRun(t, s, 1)
		tok1, err := s.TaskStart(ctx, store.TaskStartParams{ID: id, Worker: "w1", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.TaskStart(ctx, store.TaskStartParams{ID: id, Worker: "w2", At: t0}); err == nil {
			t.Fatal("started a running task")
		}
		// Retry: back to pending, then a second attempt gets a new token.
		if err := s.TaskFinish(ctx, store.TaskFinishParams{ID: id, LeaseToken: tok1, State: store.TaskPending, Error: "boom", NotBefore: t0.Add(time.Second), At: t0}); err != nil {
			t.Fatal(err)
		}
		tok2, err := s.TaskStart(ctx, store.TaskStartParams{ID: id, Worker: "w2", At: t0.Add(2 * time.Second)})
		if err != nil || tok2 <= tok1 {
			t.Fatalf("second start: token %d after %d, %v", tok2, tok1, err)
		}
		// The first attempt's late writes are fenced off.
		err = s.TaskFinish(ctx, store.TaskFinishParams{ID: id, LeaseToken: tok1, State: store.TaskSucceeded, At: t0})
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale finish: %v, want ErrLeaseLost", err)
		}
		err = s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: id, LeaseToken: tok1, Asset: "a",
			Partitions: []store.PromotedPartition{{Key: "k", Version: "stale"}}})
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale promote: %v, want ErrLeaseLost", err)
		}
		if st, _ := s.PartitionStatusList(ctx, "a"); len(st) != 0 {
			t.Fatalf("stale promote changed status: %+v", st)
		}
		if err := s.TaskFinish(ctx, store.TaskFinishParams{ID: id, LeaseToken: tok2, State: store.TaskSucceeded, At: t0.Add(3 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		task, attempts, err := s.TaskGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if task.State != store.TaskSucceeded || task.Attempt != 2 || task.Worker != "w2" || len(attempts) != 2 ||
			attempts[0].State != store.TaskFailed || attempts[0].Error != "boom" || attempts[1].State != store.TaskSucceeded {
			t.Fatalf("task %+v attempts %+v %+v", task, attempts[0], attempts[len(attempts)-1])
		}
		if _, _, err := s.TaskGet(ctx, id+1000); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing task: %v", err)
		}
	})

	t.Run("PromoteFailAndStatus", func(t *testing.T) {
		s := fresh(t)
		run, id := newRun(t, s, 2)
		if err := s.PartitionFail(ctx, store.PartitionFailParams{Asset: "a", Keys: []string{"2024-01-01", "2024-01-02"}, RunID: run.ID, Error: "bad", At: t0}); err != nil {
			t.Fatal(err)
		}
		tok, _ := s.TaskStart(ctx, store.TaskStartParams{ID: id, Worker: "w", At: t0})
		err := s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: id, LeaseToken: tok, RunID: run.ID, Attempt: 1, Asset: "a",
			CodeVersion: "v1", StartedAt: t0, PromotedAt: t0.Add(time.Second),
			Partitions: []store.PromotedPartition{{Key: "2024-01-01", Version: "v-1", ManifestSHA256: "abc", Files: 1, Bytes: 10,
				Inputs: []store.Input{{Asset: "up", PartitionKey: "2024-01-01", Version: "u-1"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.PartitionStatusList(ctx, "a")
		if err != nil || len(st) != 2 {
			t.Fatalf("status %+v %v", st, err)
		}
		if st[0].PartitionKey != "2024-01-01" || st[0].Version != "v-1" || st[0].Failed || st[1].Version != "" || !st[1].Failed || st[1].Error != "bad" {
			t.Fatalf("status %+v", st)
		}
		cur, err := s.PartitionCurrentList(ctx, "a", []string{"2024-01-01", "2024-01-02", "nope"})
		if err != nil || len(cur) != 1 || cur[0].Version != "v-1" || cur[0].ManifestSHA256 != "abc" {
			t.Fatalf("current %+v %v", cur, err)
		}
		mats, err := s.MaterializationList(ctx, store.MaterializationListParams{Asset: "a"})
		if err != nil || len(mats) != 1 || mats[0].Version != "v-1" || mats[0].CodeVersion != "v1" || !mats[0].PromotedAt.Equal(t0.Add(time.Second)) {
			t.Fatalf("materializations %+v %v", mats, err)
		}
		ins, err := s.MaterializationInputs(ctx, mats[0].ID)
		if err != nil || len(ins) != 1 || ins[0].Version != "u-1" {
			t.Fatalf("inputs %+v %v", ins, err)
		}
		// A later failure keeps the current version and marks it failed.
		if err := s.PartitionFail(ctx, store.PartitionFailParams{Asset: "a", Keys: []string{"2024-01-01"}, RunID: run.ID, Error: "again", At: t0}); err != nil {
			t.Fatal(err)
		}
		cur, _ = s.PartitionCurrentList(ctx, "a", []string{"2024-01-01"})
		if len(cur) != 1 || cur[0].Version != "v-1" || !cur[0].Failed {
			t.Fatalf("after failure %+v", cur)
		}
	})

	t.Run("SkipAndFinishRun", func(t *testing.T) {
		s := fresh(t)
		run, id := newRun(t, s, 3)
		tok, _ := s.TaskStart(ctx, store.TaskStartParams{ID: id, Worker: "w", At: t0})
		if err := s.TaskFinish(ctx, store.TaskFinishParams{ID: id, LeaseToken: tok, State: store.TaskFailed, Error: "x", At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.TaskSkipMany(ctx, store.TaskSkipManyParams{IDs: []int64{id, id + 1}, Reason: "upstream failed", At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.TaskSkipMany(ctx, store.TaskSkipManyParams{IDs: []int64{id + 2}, State: store.TaskCancelled, Reason: "run cancelled", At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.TaskSkipMany(ctx, store.TaskSkipManyParams{IDs: []int64{id + 2}, State: store.TaskRunning}); err == nil {
			t.Fatal("TaskSkipMany accepted state running")
		}
		if err := s.RunFinish(ctx, store.RunFinishParams{ID: run.ID, Status: store.RunFailed, Error: "1 task failed", FinishedAt: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.RunGet(ctx, run.ID)
		if err != nil || got.Status != store.RunFailed || got.Tasks[store.TaskFailed] != 1 || got.Tasks[store.TaskSkipped] != 1 || got.Tasks[store.TaskCancelled] != 1 || got.TaskCount() != 3 {
			t.Fatalf("run %+v %v", got, err)
		}
		if _, err := s.RunGet(ctx, 999); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing run: %v", err)
		}
		if err := s.RunFinish(ctx, store.RunFinishParams{ID: 999, Status: store.RunFailed, FinishedAt: t0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("finish missing run: %v", err)
		}
		newRun(t, s, 0)
		runs, err := s.RunList(ctx, store.RunListParams{})
		if err != nil || len(runs) != 2 || runs[0].ID <= runs[1].ID || runs[1].Tasks[store.TaskSkipped] != 1 {
			t.Fatalf("runs %v %v", runs, err)
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
