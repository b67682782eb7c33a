package scheduler_test

import (
	"context"
	"errors"
	"sync"
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
	plan, err := (&scheduler.Planner{Graph: e.graph, Status: e.store}).Plan(context.Background(), scheduler.PlanRequest{Selection: "a", Partitions: "2024-01-01"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := plan.Expand()
	run, _, err := scheduler.Enqueue(context.Background(), e.store, g, scheduler.EnqueueOpts{Now: t0})
	if err != nil {
		t.Fatal(err)
	}

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
	if len(mats) != 1 || mats[0].Attempt != 2 || len(attempts) != 2 || attempts[0].Worker != "A" || attempts[0].State != store.TaskFailed ||
		attempts[1].Worker != "B" || attempts[1].State != store.TaskSucceeded {
		t.Fatalf("materializations %+v attempts %+v %+v", mats, attempts[0], attempts[len(attempts)-1])
	}
}
