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

	t.Run("VersionsAreRecordedBeforeAnythingIsWrittenAndGarbageIsFoundFromThem", func(t *testing.T) {
		s := fresh(t)
		run, _ := insert(t, s, task{maxAtt: 2}, task{}, task{}, task{})
		got := lease(t, s, store.TaskLeaseManyParams{Limit: 4})
		byKey := map[string]*store.Task{}
		seen := map[string]bool{}
		for _, tk := range got {
			made, ok := store.VersionTime(tk.Version)
			if !ok || !made.Equal(t0) || seen[tk.Version] {
				t.Fatalf("leased %s with version %q: want a new version made at %s", tk.PartitionFirst, tk.Version, t0)
			}
			seen[tk.Version] = true
			byKey[tk.PartitionFirst] = tk
		}
		// k0 fails and is retried (a new version); k1 stages and waits to
		// be verified; k2 and k3 promote partition p, k3 after k2.
		k0 := byKey["k0"]
		finish(t, s, k0, store.TaskPending)
		retry := lease(t, s, store.TaskLeaseManyParams{})[0]
		if retry.ID != k0.ID || retry.Version == k0.Version || retry.Version == "" {
			t.Fatalf("a retried compute attempt has version %q (the failed one had %q): want a new one", retry.Version, k0.Version)
		}
		k1 := byKey["k1"]
		v, err := s.TaskStage(ctx, store.TaskStageParams{ID: k1.ID, LeaseToken: k1.LeaseToken, Staged: "{}", At: t0, LeaseFor: time.Minute})
		if err != nil || v.Version != k1.Version {
			t.Fatalf("verify phase version %q (err %v), want the compute phase's %q", v.Version, err, k1.Version)
		}
		finish(t, s, v, store.TaskPending) // its verify attempt fails; the version is still awaited
		for _, k := range []string{"k2", "k3"} {
			tk := byKey[k]
			if _, err := s.MaterializationPromote(ctx, store.MaterializationPromoteParams{TaskID: tk.ID, LeaseToken: tk.LeaseToken, RunID: run.ID,
				Attempt: tk.Attempt, Asset: "a", StartedAt: t0, PromotedAt: t0,
				Partitions: []store.PromotedPartition{{Key: "p", Version: tk.Version, ManifestSHA256: "x"}}}); err != nil {
				t.Fatal(err)
			}
		}
		_, attempts, _ := s.TaskGet(ctx, k1.ID)
		if len(attempts) != 2 || attempts[0].Version != k1.Version || attempts[1].Version != k1.Version {
			t.Fatalf("k1's attempts %+v: want both at version %s", attempts, k1.Version)
		}
		cands, err := s.GarbageCandidates(ctx, []string{"a"})
		if err != nil {
			t.Fatal(err)
		}
		want := []store.GarbageCandidate{
			{Asset: "a", Version: byKey["k2"].Version, PartitionFirst: "p", PartitionLast: "p", PartitionCount: 1, TaskID: byKey["k2"].ID, Rank: 1},
			{Asset: "a", Version: k0.Version, PartitionFirst: "k0", PartitionLast: "k0", PartitionCount: 1, TaskID: k0.ID},
		}
		if len(cands) == 2 {
			want[0].MaterializationID = cands[0].MaterializationID
		}
		if fmt.Sprint(cands) != fmt.Sprint(want) || cands[0].MaterializationID == 0 {
			t.Fatalf("garbage candidates\n%+v\nwant\n%+v", cands, want)
		}
		if other, _ := s.GarbageCandidates(ctx, []string{"b"}); len(other) != 0 {
			t.Fatalf("candidates of another asset: %+v", other)
		}
		if both, _ := s.GarbageCandidates(ctx, []string{"b", "a"}); fmt.Sprint(both) != fmt.Sprint(cands) {
			t.Fatalf("candidates of b and a\n%+v\nwant a's\n%+v", both, cands)
		}
		if err := s.VersionsCollected(ctx, cands); err != nil {
			t.Fatal(err)
		}
		if left, err := s.GarbageCandidates(ctx, []string{"a"}); err != nil || len(left) != 0 {
			t.Fatalf("candidates after they were collected: %+v %v", left, err)
		}
	})
}
