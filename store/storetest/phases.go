package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// runPhases checks the compute and verify phases of a task.
func runPhases(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("StageStartsTheVerifyPhase", func(t *testing.T) {
		s := fresh(t)
		run, _ := insert(t, s, task{maxAtt: 2})
		tk := lease(t, s, store.TaskLeaseManyParams{})[0]
		if tk.Phase != store.PhaseCompute {
			t.Fatalf("leased phase %q", tk.Phase)
		}
		v, err := s.TaskStage(ctx, store.TaskStageParams{ID: tk.ID, LeaseToken: tk.LeaseToken, Staged: `{"version":"v1"}`, At: t0, LeaseFor: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if v.Phase != store.PhaseVerify || v.Staged != `{"version":"v1"}` || v.Attempt != 2 || v.MaxAttempts != 3 || v.LeaseToken == tk.LeaseToken || v.State != store.TaskRunning {
			t.Fatalf("staged task %+v", v)
		}
		if staged, err := s.TaskStagedList(ctx, v.Asset); err != nil || len(staged) != 1 || staged[0].ID != v.ID {
			t.Fatalf("staged tasks of %s: %v %v", v.Asset, staged, err)
		}
		if staged, _ := s.TaskStagedList(ctx, "other"); len(staged) != 0 {
			t.Fatalf("staged tasks of another asset: %v", staged)
		}
		// The compute attempt's token is stale now.
		if _, err := s.TaskStage(ctx, store.TaskStageParams{ID: tk.ID, LeaseToken: tk.LeaseToken, At: t0, LeaseFor: time.Minute}); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stage with the old token: %v", err)
		}
		// Verification fails for a passing reason: it retries as verify.
		if _, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: v.ID, LeaseToken: v.LeaseToken, State: store.TaskPending, Error: "bucket timeout", At: t0}); err != nil {
			t.Fatal(err)
		}
		again := lease(t, s, store.TaskLeaseManyParams{Worker: "w2"})
		if len(again) != 1 || again[0].Phase != store.PhaseVerify || again[0].Staged != `{"version":"v1"}` || again[0].Attempt != 3 {
			t.Fatalf("re-leased %+v", again)
		}
		finish(t, s, again[0], store.TaskSucceeded)
		_, attempts, err := s.TaskGet(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range attempts {
			got = append(got, fmt.Sprintf("%d %s %s %s", a.Attempt, a.Phase, a.Worker, a.State))
		}
		want := "[1 compute w1 succeeded 2 verify w1 failed 3 verify w2 succeeded]"
		if fmt.Sprint(got) != want {
			t.Fatalf("attempts %v, want %s", got, want)
		}
		if r, _ := s.RunGet(ctx, run.ID); r.Status != store.RunSucceeded {
			t.Fatalf("run %s", r.Status)
		}
	})

	t.Run("RetryComputesAgain", func(t *testing.T) {
		s := fresh(t)
		run, _ := insert(t, s, task{})
		tk := lease(t, s, store.TaskLeaseManyParams{})[0]
		v, err := s.TaskStage(ctx, store.TaskStageParams{ID: tk.ID, LeaseToken: tk.LeaseToken, Staged: "x", At: t0, LeaseFor: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		finish(t, s, v, store.TaskFailed) // a checksum mismatch
		if _, err := s.RunRetryFailed(ctx, store.RunRetryFailedParams{ID: run.ID, Actor: "oncall", At: t0}); err != nil {
			t.Fatal(err)
		}
		again := lease(t, s, store.TaskLeaseManyParams{})
		if len(again) != 1 || again[0].Phase != store.PhaseCompute || again[0].Staged != "" {
			t.Fatalf("retried task %+v, want the compute phase again", again)
		}
	})
}
