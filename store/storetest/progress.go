package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// runProgress covers the read side that status views, estimates and audit
// reports rest on: RunProgress, TaskDurations and TaskRetryList.
func runProgress(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("RunProgressDurationsAndRetries", func(t *testing.T) {
		s := fresh(t)
		run, first := insert(t, s, task{asset: "a", maxAtt: 3}, task{asset: "a", maxAtt: 3}, task{asset: "b", maxAtt: 3}, task{asset: "b"})
		finishAt := func(tk *store.Task, state store.TaskState, at time.Time) {
			t.Helper()
			p := store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: state, At: at}
			if state == store.TaskPending {
				p.NotBefore = at
			}
			if _, err := s.TaskFinish(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		leased := lease(t, s, store.TaskLeaseManyParams{Limit: 3, Now: t0}) // tasks 0, 1, 2
		finishAt(leased[0], store.TaskSucceeded, t0.Add(3*time.Second))
		finishAt(leased[1], store.TaskSucceeded, t0.Add(5*time.Second))
		finishAt(leased[2], store.TaskPending, t0.Add(time.Second)) // a retry
		again := lease(t, s, store.TaskLeaseManyParams{Limit: 1, Now: t0.Add(2 * time.Second)})
		if len(again) != 1 || again[0].ID != first+2 {
			t.Fatalf("second lease %v", ids(again))
		}

		ds, err := s.TaskDurations(ctx, "a", 10)
		if err != nil || fmt.Sprint(ds) != "[5s 3s]" {
			t.Fatalf("durations of a: %v %v (want newest first: [5s 3s])", ds, err)
		}
		if ds, _ := s.TaskDurations(ctx, "a", 1); len(ds) != 1 {
			t.Fatalf("limit 1: %v", ds)
		}
		if ds, _ := s.TaskDurations(ctx, "b", 10); len(ds) != 0 {
			t.Fatalf("durations of b, none succeeded: %v", ds)
		}

		retries, err := s.TaskRetryList(ctx, run.ID)
		if err != nil || len(retries) != 1 || retries[0] != (store.TaskRetry{TaskID: first + 2, Phase: store.PhaseCompute, Attempts: 2}) {
			t.Fatalf("retries %+v %v", retries, err)
		}

		pr, err := s.RunProgress(ctx, store.RunProgressParams{ID: run.ID, Since: t0.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, a := range pr.Assets {
			got[a.Asset+" "+string(a.State)] = a.Partitions
		}
		if fmt.Sprint(got) != "map[a succeeded:2 b pending:1 b running:1]" {
			t.Fatalf("progress by asset and state %v", got)
		}
		if pr.Run.ID != run.ID || pr.Run.Tasks[store.TaskSucceeded] != 2 || pr.Run.Tasks[store.TaskRunning] != 1 || pr.Run.TaskCount() != 4 {
			t.Fatalf("progress run %+v", pr.Run)
		}
		// Since t0+1s: the retry's start at t0+2s, and both successes.
		if pr.StartedSince != 1 || pr.FinishedSince != 2 {
			t.Fatalf("started %d, finished %d since t0+1s; want 1 and 2", pr.StartedSince, pr.FinishedSince)
		}
	})
}
