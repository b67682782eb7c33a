package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// runBatches checks the group-commit methods: one transaction for many
// tasks, each fenced on its own.
func runBatches(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("PromoteManyPromotesOnlyTheHolders", func(t *testing.T) {
		s := fresh(t)
		// Task 0 has a dependent (task 4), which two promoted tasks feed.
		run, _ := insert(t, s, task{dependents: []int32{4}}, task{dependents: []int32{4}}, task{}, task{}, task{})
		// Task 0 is leased for 30 seconds and reaped: its token is stale by
		// the time its worker promotes it. Tasks 1 to 3 still hold theirs.
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 1, LeaseFor: 30 * time.Second})
		got = append(got, lease(t, s, store.TaskLeaseManyParams{Limit: 3, LeaseFor: time.Hour})...)
		if len(got) != 4 {
			t.Fatalf("leased %d tasks, want 4", len(got))
		}
		reaped, err := s.TaskReapExpired(ctx, store.TaskReapExpiredParams{Now: t0.Add(time.Minute)})
		if err != nil || len(reaped) != 1 || reaped[0].Task.ID != got[0].ID {
			t.Fatalf("reap: %+v %v", reaped, err)
		}
		lost := reaped[0].Task.ID
		var ps []store.MaterializationPromoteParams
		for _, tk := range got {
			ps = append(ps, store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: run.ID, Attempt: tk.Attempt,
				Asset: "a", StartedAt: t0, PromotedAt: t0.Add(time.Second),
				Partitions: []store.PromotedPartition{{Key: tk.PartitionFirst, Version: fmt.Sprintf("v%d", tk.ID), ManifestSHA256: "m"}}})
		}
		// The same attempt twice in one batch: promoted once.
		ps = append(ps, ps[0])
		res, err := s.MaterializationPromoteMany(ctx, ps)
		if err != nil || len(res) != len(ps) {
			t.Fatalf("promote many: %d results, %v", len(res), err)
		}
		for i, r := range res {
			wantLost := ps[i].TaskID == lost || i == len(ps)-1
			if wantLost != errors.Is(r.Err, store.ErrLeaseLost) || wantLost != (r.Result == nil) {
				t.Errorf("task %d: result %+v, error %v; want lost %v", ps[i].TaskID, r.Result, r.Err, wantLost)
			}
			if r.Result != nil && r.Result.Task.State != store.TaskSucceeded {
				t.Errorf("task %d is %s", ps[i].TaskID, r.Result.Task.State)
			}
		}
		// A range of the run's tasks: the promotions of those tasks only.
		if mats, err := s.MaterializationList(ctx, store.MaterializationListParams{RunID: run.ID, TaskID: got[0].ID, TaskIDTo: got[3].ID, Limit: -1}); err != nil || len(mats) != 3 {
			t.Fatalf("materializations of tasks %d to %d: %d, %v", got[0].ID, got[3].ID, len(mats), err)
		}
		one := got[1]
		if one.ID == lost {
			one = got[2]
		}
		if mats, _ := s.MaterializationList(ctx, store.MaterializationListParams{RunID: run.ID, TaskID: one.ID, TaskIDTo: one.ID, Limit: -1}); len(mats) != 1 || mats[0].TaskID != one.ID {
			t.Fatalf("materializations of task %d alone: %+v", one.ID, mats)
		}
		cur, err := s.PartitionCurrentList(ctx, "a", []string{"k0", "k1", "k2", "k3"})
		if err != nil {
			t.Fatal(err)
		}
		versions := map[string]string{}
		for _, c := range cur {
			versions[c.PartitionKey] = c.Version
		}
		for _, tk := range got {
			want := fmt.Sprintf("v%d", tk.ID)
			if tk.ID == lost {
				want = ""
			}
			if versions[tk.PartitionFirst] != want {
				t.Errorf("partition %s is at %q, want %q", tk.PartitionFirst, versions[tk.PartitionFirst], want)
			}
		}
		mats, _ := s.MaterializationList(ctx, store.MaterializationListParams{Asset: "a"})
		if len(mats) != 3 {
			t.Errorf("%d materializations, want 3 (one per holder)", len(mats))
		}
		// Task 4 waits for tasks 0 and 1: one of them was promoted.
		dep, _, err := s.TaskGet(ctx, got[0].ID+4)
		if err != nil || dep.Waiting != 1 {
			t.Fatalf("dependent task: %+v %v (want waiting 1)", dep, err)
		}
	})

	t.Run("StageAndFinishManyFenceEachTask", func(t *testing.T) {
		s := fresh(t)
		insert(t, s, task{maxAtt: 2}, task{maxAtt: 2}, task{maxAtt: 2})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 3})
		stale := got[2].LeaseToken - 1
		ps := []store.TaskStageParams{
			{ID: got[0].ID, LeaseToken: got[0].LeaseToken, Staged: `{"v":0}`, At: t0, LeaseFor: time.Minute},
			{ID: got[1].ID, LeaseToken: got[1].LeaseToken, Staged: `{"v":1}`, At: t0, LeaseFor: time.Minute},
			{ID: got[2].ID, LeaseToken: stale, Staged: `{"v":2}`, At: t0, LeaseFor: time.Minute},
		}
		res, err := s.TaskStageMany(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res[:2] {
			if r.Err != nil || r.Task.Phase != store.PhaseVerify || r.Task.Staged != ps[i].Staged || r.Task.LeaseToken == got[i].LeaseToken {
				t.Fatalf("stage %d: %+v %v", i, r.Task, r.Err)
			}
		}
		if !errors.Is(res[2].Err, store.ErrLeaseLost) || res[2].Task != nil {
			t.Fatalf("stale stage: %+v", res[2])
		}
		if tk, _, _ := s.TaskGet(ctx, got[2].ID); tk.Phase != store.PhaseCompute {
			t.Fatalf("a stale token staged task %d", tk.ID)
		}
		// Finish: one succeeds, one retries, the old token of the first
		// (before staging) is refused.
		fin, err := s.TaskFinishMany(ctx, []store.TaskFinishParams{
			{ID: got[0].ID, LeaseToken: got[0].LeaseToken, State: store.TaskSucceeded, At: t0},
			{ID: got[1].ID, LeaseToken: res[1].Task.LeaseToken, State: store.TaskPending, NotBefore: t0.Add(time.Second), Error: "flaky", At: t0},
			{ID: got[2].ID, LeaseToken: got[2].LeaseToken, State: store.TaskFailed, Error: "broken", At: t0},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(fin[0].Err, store.ErrLeaseLost) || fin[1].Err != nil || fin[1].Result.Task.State != store.TaskPending ||
			fin[2].Err != nil || fin[2].Result.Task.State != store.TaskFailed {
			t.Fatalf("finish many: %+v %+v %+v", fin[0], fin[1], fin[2])
		}
		_, attempts, _ := s.TaskGet(ctx, got[1].ID)
		if len(attempts) != 2 || attempts[0].State != store.TaskSucceeded || attempts[1].State != store.TaskFailed || attempts[1].Error != "flaky" {
			t.Fatalf("attempts of the retried task: %+v %+v", attempts[0], attempts[len(attempts)-1])
		}
		// A state a finish cannot end in is refused whole: nothing changes.
		if _, err := s.TaskFinishMany(ctx, []store.TaskFinishParams{
			{ID: got[0].ID, LeaseToken: res[0].Task.LeaseToken, State: store.TaskSucceeded, At: t0},
			{ID: got[1].ID, LeaseToken: 1, State: store.TaskSkipped, At: t0},
		}); err == nil || !strings.Contains(err.Error(), `"skipped"`) {
			t.Fatalf("bad state: %v", err)
		}
		if tk, _, _ := s.TaskGet(ctx, got[0].ID); tk.State != store.TaskRunning {
			t.Fatalf("a refused batch changed task %d to %s", tk.ID, tk.State)
		}
	})
}
