package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-dev/weir/internal/clock"
	"github.com/weir-dev/weir/internal/store"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/scheduler"
)

func TestStalledWorkerLosesItsLease(t *testing.T) {
	stalled, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e := newEnv(t, &pipelines.Asset{Key: "a", Partitions: daily, Retry: pipelines.RetryPolicy{MaxAttempts: 2}, Compute: func(ctx context.Context, task *pipelines.Task) error {
		first := false
		once.Do(func() { first = true })
		if first { // worker A: stall past the lease, then try to finish
			close(stalled)
			<-release
		}
		return writeKey(ctx, task)
	}})
	run := enqueue(t, e.store, e.graph, scheduler.PlanRequest{Selection: "a", Partitions: "2024-01-01"}, scheduler.EnqueueOpts{})

	// Worker A's clock never moves: it never heartbeats.
	aEvents := make(chan scheduler.Event, 8)
	a := &scheduler.Worker{Store: e.store, Bucket: e.bucket, Graph: e.graph, ID: "A", Clock: clock.NewFake(t0), LeaseTimeout: 30 * time.Second,
		OnEvent: func(ev scheduler.Event) { aEvents <- ev }}
	actx, stopA := context.WithCancel(context.Background())
	aDone := make(chan error)
	go func() { aDone <- a.Run(actx) }()
	<-stalled

	// Worker B lives a minute later: A's lease (30s) has expired. B reaps
	// it, leases the task and finishes the run.
	b := &scheduler.Worker{Store: e.store, Bucket: e.bucket, Graph: e.graph, ID: "B", Clock: clock.NewFake(t0.Add(time.Minute)), LeaseTimeout: 30 * time.Second, RunID: run.ID}
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.RunGet(context.Background(), run.ID)
	if got.Status != store.RunSucceeded {
		t.Fatalf("run %+v", got)
	}

	// A wakes up and tries to promote: refused.
	close(release)
	for ev := range aEvents {
		if ev.Kind == scheduler.EventStarted {
			continue
		}
		if ev.Kind != scheduler.EventLeaseLost || !errors.Is(ev.Err, store.ErrLeaseLost) {
			t.Fatalf("stalled worker's event %+v, want lease-lost with ErrLeaseLost", ev)
		}
		break
	}
	stopA()
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	mats, _ := e.store.MaterializationList(context.Background(), store.MaterializationListParams{Asset: "a"})
	tasks, _ := e.store.TaskList(context.Background(), store.TaskListParams{RunID: run.ID})
	_, attempts, _ := e.store.TaskGet(context.Background(), tasks[0].ID)
	// A's compute attempt expired; B computed (attempt 2) and verified and
	// promoted (attempt 3).
	if len(mats) != 1 || mats[0].Attempt != 3 || len(attempts) != 3 || attempts[0].Worker != "A" || attempts[0].State != store.TaskFailed ||
		attempts[1].Worker != "B" || attempts[1].Phase != store.PhaseCompute || attempts[1].State != store.TaskSucceeded ||
		attempts[2].Worker != "B" || attempts[2].Phase != store.PhaseVerify || attempts[2].State != store.TaskSucceeded {
		t.Fatalf("materializations %+v attempts %+v %+v", mats, attempts[0], attempts[len(attempts)-1])
	}
}

// TestVerificationRetriesWithoutRecomputing: verification is a step of its
// own. Worker A computes and stages a partition, then stalls in a check
// and stops heartbeating; worker B, a minute later, reaps the lease and
// verifies and promotes the staged version without computing it again. The
// attempts show each phase.
func TestVerificationRetriesWithoutRecomputing(t *testing.T) {
	var computes atomic.Int32
	stalled, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e := newEnv(t, &pipelines.Asset{Key: "a", Partitions: daily, Retry: pipelines.RetryPolicy{MaxAttempts: 2},
		Compute: func(ctx context.Context, task *pipelines.Task) error {
			computes.Add(1)
			return writeKey(ctx, task)
		},
		Checks: []pipelines.Check{{Name: "slow check", Func: func(ctx context.Context, s pipelines.Staged) (string, error) {
			first := false
			once.Do(func() { first = true })
			if first {
				close(stalled)
				<-release
			}
			return "ok", nil
		}}},
	})
	run := enqueue(t, e.store, e.graph, scheduler.PlanRequest{Selection: "a", Partitions: "2024-01-01"}, scheduler.EnqueueOpts{})
	a := &scheduler.Worker{Store: e.store, Bucket: e.bucket, Graph: e.graph, ID: "A", Clock: clock.NewFake(t0), LeaseTimeout: 30 * time.Second}
	actx, stopA := context.WithCancel(context.Background())
	aDone := make(chan error)
	go func() { aDone <- a.Run(actx) }()
	<-stalled
	if tk, _, _ := e.store.TaskGet(context.Background(), 1); tk.Phase != store.PhaseVerify || tk.State != store.TaskRunning {
		t.Fatalf("task while A verifies: %s %s", tk.Phase, tk.State)
	} else if v, ok := scheduler.StagedVersion(tk); !ok || v == "" {
		t.Fatalf("staged version of a task being verified: %q %v (gc must keep it)", v, ok)
	}
	b := &scheduler.Worker{Store: e.store, Bucket: e.bucket, Graph: e.graph, ID: "B", Clock: clock.NewFake(t0.Add(time.Minute)), LeaseTimeout: 30 * time.Second, RunID: run.ID}
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(release)
	stopA()
	<-aDone
	_, attempts, _ := e.store.TaskGet(context.Background(), 1)
	var got []string
	for _, at := range attempts {
		got = append(got, fmt.Sprintf("%d %s %s %s", at.Attempt, at.Phase, at.Worker, at.State))
	}
	want := "[1 compute A succeeded 2 verify A failed 3 verify B succeeded]"
	if tk, _, _ := e.store.TaskGet(context.Background(), 1); tk.State != store.TaskSucceeded {
		t.Errorf("task %s", tk.State)
	} else if _, ok := scheduler.StagedVersion(tk); ok {
		t.Errorf("a promoted task still reports a staged version")
	}
	if fmt.Sprint(got) != want || computes.Load() != 1 {
		t.Fatalf("attempts %v (want %s), %d computes (want 1)", got, want, computes.Load())
	}
	if r, _ := e.store.RunGet(context.Background(), run.ID); r.Status != store.RunSucceeded {
		t.Fatalf("run %s", r.Status)
	}
}
