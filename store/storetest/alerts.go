package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// runAlerts checks the alert outbox and finding runs by how they ended.
func runAlerts(t *testing.T, fresh func(t *testing.T) store.Store) {
	t.Run("AlertsAreRecordedOncePerSinkAndDeliveredOnce", func(t *testing.T) {
		s := fresh(t)
		ev := store.Alert{DedupKey: "run_failed:7", Kind: "run_failed", Severity: "critical", RunID: 7, Message: "run 7 failed", At: t0}
		hook, slack := ev, ev
		hook.Sink, slack.Sink = "hook", "slack"
		n, err := s.AlertInsertMany(ctx, []store.Alert{hook, slack})
		if err != nil || n != 2 {
			t.Fatalf("insert: %d %v", n, err)
		}
		// The same event again (a restart, a second daemon): nothing new.
		if n, err := s.AlertInsertMany(ctx, []store.Alert{hook}); err != nil || n != 0 {
			t.Fatalf("insert again: %d %v", n, err)
		}
		if _, err := s.AlertInsertMany(ctx, []store.Alert{{Kind: "x"}}); err == nil {
			t.Fatal("an alert without sink and dedup key was recorded")
		}
		due, err := s.AlertDueList(ctx, t0, 10)
		if err != nil || len(due) != 2 || due[0].Sink != "hook" || due[0].RunID != 7 || !due[0].At.Equal(t0) || !due[0].NextAt.Equal(t0) {
			t.Fatalf("due %+v %v", due, err)
		}
		if err := s.AlertRetry(ctx, store.AlertRetryParams{ID: due[0].ID, NextAt: t0.Add(time.Minute), Error: "503"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AlertDelivered(ctx, due[1].ID, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.AlertDelivered(ctx, due[1].ID, t0.Add(2*time.Second)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delivered twice: %v", err)
		}
		if due, err := s.AlertDueList(ctx, t0.Add(30*time.Second), 10); err != nil || len(due) != 0 {
			t.Fatalf("due before the retry: %+v %v", due, err)
		}
		due, err = s.AlertDueList(ctx, t0.Add(time.Minute), 10)
		if err != nil || len(due) != 1 || due[0].Attempts != 1 || due[0].LastError != "503" {
			t.Fatalf("due at the retry: %+v %v", due, err)
		}
		all, err := s.AlertList(ctx, store.AlertListParams{})
		if err != nil || len(all) != 2 || all[0].Sink != "slack" || all[0].DeliveredAt.IsZero() || !all[1].DeliveredAt.IsZero() {
			t.Fatalf("list %+v %v", all, err)
		}
		if l, err := s.AlertList(ctx, store.AlertListParams{Undelivered: true}); err != nil || len(l) != 1 || l[0].Sink != "hook" {
			t.Fatalf("undelivered %+v %v", l, err)
		}
		if l, err := s.AlertList(ctx, store.AlertListParams{Sink: "slack", Kind: "run_failed"}); err != nil || len(l) != 1 {
			t.Fatalf("by sink and kind %+v %v", l, err)
		}
	})

	t.Run("RunListByStatusAndFinishTime", func(t *testing.T) {
		s := fresh(t)
		ra, _ := insert(t, s, task{})
		rb, _ := insert(t, s, task{})
		a, b := ra.ID, rb.ID
		insert(t, s, task{})
		if err := s.RunFinish(ctx, store.RunFinishParams{ID: a, Status: store.RunFailed, FinishedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.RunFinish(ctx, store.RunFinishParams{ID: b, Status: store.RunSucceeded, FinishedAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		runs, err := s.RunList(ctx, store.RunListParams{FinishedSince: t0.Add(time.Minute), Limit: -1})
		if err != nil || len(runs) != 1 || runs[0].ID != b {
			t.Fatalf("finished since: %+v %v", runs, err)
		}
		runs, err = s.RunList(ctx, store.RunListParams{Status: []store.RunStatus{store.RunFailed, store.RunSucceeded}, Limit: -1})
		if err != nil || len(runs) != 2 || runs[0].ID != b || runs[1].ID != a {
			t.Fatalf("by status: %+v %v", runs, err)
		}
	})
}
