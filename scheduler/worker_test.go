package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
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
	run := enqueue(t, e.store, e.graph, plan.Request{Selection: "a", Partitions: "2024-01-01"}, scheduler.EnqueueOpts{})

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
	run := enqueue(t, e.store, e.graph, plan.Request{Selection: "a", Partitions: "2024-01-01"}, scheduler.EnqueueOpts{})
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

// stageRaceStore forces the interleaving of issue 10 item 2: a heartbeat
// copies the compute attempt's token, staging moves the token on to the
// verify attempt, and only then does the heartbeat reach the store with the
// old token.
type stageRaceStore struct {
	store.Store
	hbEntered, staged, secondHB chan struct{}
	heartbeats                  atomic.Int32
}

func (s *stageRaceStore) TaskHeartbeat(ctx context.Context, p store.TaskHeartbeatParams) ([]int64, error) {
	if len(p.Leases) > 0 {
		switch s.heartbeats.Add(1) {
		case 1:
			close(s.hbEntered)
			<-s.staged
		case 2:
			close(s.secondHB)
		}
	}
	return s.Store.TaskHeartbeat(ctx, p)
}

func (s *stageRaceStore) TaskStageMany(ctx context.Context, ps []store.TaskStageParams) ([]store.StageResult, error) {
	<-s.hbEntered
	defer close(s.staged)
	return s.Store.TaskStageMany(ctx, ps)
}

// TestHeartbeatDuringStageKeepsTheVerifyLease: a heartbeat refused for the
// compute attempt's token, after the task moved on to its verify attempt,
// must not cancel the live verify attempt.
func TestHeartbeatDuringStageKeepsTheVerifyLease(t *testing.T) {
	inCheck := make(chan struct{})
	rs := &stageRaceStore{hbEntered: make(chan struct{}), staged: make(chan struct{}), secondHB: make(chan struct{})}
	e := newEnv(t, &pipelines.Asset{Key: "a", Partitions: daily, Compute: writeKey,
		Checks: []pipelines.Check{{Name: "waits for the next heartbeat", Func: func(ctx context.Context, s pipelines.Staged) (string, error) {
			close(inCheck)
			select { // by the second heartbeat, the first one's losses were acted on
			case <-rs.secondHB:
			case <-ctx.Done():
			}
			return "ok", context.Cause(ctx)
		}}}})
	rs.Store = e.store
	run := enqueue(t, e.store, e.graph, plan.Request{Selection: "a", Partitions: "2024-01-01"}, scheduler.EnqueueOpts{})
	clk := clock.NewFake(t0)
	var lost atomic.Int32
	w := &scheduler.Worker{Store: rs, Bucket: e.bucket, Graph: e.graph, ID: "A", Clock: clk, LeaseTimeout: 30 * time.Second, RunID: run.ID,
		OnEvent: func(ev scheduler.Event) {
			if ev.Kind == scheduler.EventLeaseLost {
				lost.Add(1)
			}
		}}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	stop := make(chan struct{})
	defer close(stop)
	// heartbeat, reaper and the lease loop all wait on the clock: the first
	// heartbeat copies the compute attempt's token.
	clk.BlockUntil(3, stop)
	clk.Advance(10 * time.Second)
	<-inCheck
	clk.BlockUntil(3, stop)
	clk.Advance(10 * time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // the live verify attempt was cancelled: the run waits for its lease to expire
		t.Fatalf("worker did not finish the run; %d lease-lost events", lost.Load())
	}
	_, attempts, _ := e.store.TaskGet(context.Background(), 1)
	var got []string
	for _, at := range attempts {
		got = append(got, fmt.Sprintf("%d %s %s", at.Attempt, at.Phase, at.State))
	}
	if want := "[1 compute succeeded 2 verify succeeded]"; fmt.Sprint(got) != want || lost.Load() != 0 {
		t.Fatalf("attempts %v (want %s), %d lease-lost events (want 0)", got, want, lost.Load())
	}
}

// promoteStallStore stalls the first promotion after it commits, before the
// worker publishes its pointer.
type promoteStallStore struct {
	store.Store
	committed, release chan struct{}
	once               sync.Once
}

func (s *promoteStallStore) MaterializationPromoteMany(ctx context.Context, ps []store.MaterializationPromoteParams) ([]store.FinishResult, error) {
	res, err := s.Store.MaterializationPromoteMany(ctx, ps)
	s.once.Do(func() {
		close(s.committed)
		<-s.release
	})
	return res, err
}

// TestStalledPointerWriterDoesNotRegress: worker A promotes version 1 and
// stalls before writing the pointer; worker B promotes and publishes
// version 2; A's late pointer write must not leave version 1 named.
func TestStalledPointerWriterDoesNotRegress(t *testing.T) {
	e := newEnv(t, &pipelines.Asset{Key: "a", Partitions: daily, Compute: writeKey})
	ss := &promoteStallStore{Store: e.store, committed: make(chan struct{}), release: make(chan struct{})}
	req := plan.Request{Selection: "a", Partitions: "2024-01-01", Reprocess: plan.ReprocessAll}
	run1 := enqueue(t, e.store, e.graph, req, scheduler.EnqueueOpts{})
	a := &scheduler.Worker{Store: ss, Bucket: e.bucket, Graph: e.graph, ID: "A", Clock: clock.NewFake(t0), RunID: run1.ID}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(context.Background()) }()
	<-ss.committed

	run2 := enqueue(t, e.store, e.graph, req, scheduler.EnqueueOpts{})
	b := &scheduler.Worker{Store: e.store, Bucket: e.bucket, Graph: e.graph, ID: "B", Clock: clock.NewFake(t0.Add(time.Hour)), RunID: run2.ID}
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(ss.release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	cur, err := e.store.PartitionCurrentList(context.Background(), "a", []string{"2024-01-01"})
	if err != nil || len(cur) != 1 {
		t.Fatal(cur, err)
	}
	mats, _ := e.store.MaterializationList(context.Background(), store.MaterializationListParams{Asset: "a", Limit: -1})
	ptr, err := verify.ReadPointer(context.Background(), e.bucket, "a", "2024-01-01")
	if err != nil {
		t.Fatal(err)
	}
	if len(mats) != 2 || ptr.Version != cur[0].Version || mats[0].Version != cur[0].Version {
		t.Fatalf("pointer names %s, the store's current version is %s (materializations, newest first: %s, %s)", ptr.Version, cur[0].Version, mats[0].Version, mats[1].Version)
	}
}

// TestDeadLocalWorkersLeaseIsReapedAtOnce: a worker process on this host
// that no longer exists holds a lease that has not expired; a new worker
// reaps it at once instead of waiting for the expiry (issue 10 item 7).
func TestDeadLocalWorkersLeaseIsReapedAtOnce(t *testing.T) {
	e := newEnv(t, &pipelines.Asset{Key: "a", Partitions: daily, Retry: pipelines.RetryPolicy{MaxAttempts: 2}, Compute: writeKey})
	run := enqueue(t, e.store, e.graph, plan.Request{Selection: "a", Partitions: "2024-01-01"}, scheduler.EnqueueOpts{})
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	ctx := context.Background()
	if err := e.store.WorkerRegister(ctx, store.WorkerRegisterParams{ID: "killed", Host: host, PID: gone.Process.Pid, Concurrency: 1,
		LeaseTimeout: time.Hour, At: t0}); err != nil {
		t.Fatal(err)
	}
	lr, err := e.store.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "killed", Limit: 1, Now: t0, LeaseFor: time.Hour})
	if err != nil || len(lr.Tasks) != 1 {
		t.Fatal(lr, err)
	}
	// The new worker's clock stays where the dead lease is an hour from
	// expiring.
	w := &scheduler.Worker{Store: e.store, Bucket: e.bucket, Graph: e.graph, ID: "new", Clock: clock.NewFake(t0), RunID: run.ID}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the new worker waited for the dead worker's lease to expire")
	}
	_, attempts, _ := e.store.TaskGet(ctx, lr.Tasks[0].ID)
	if len(attempts) != 3 || attempts[0].Worker != "killed" || !strings.Contains(attempts[0].Error, "process is gone") || attempts[2].State != store.TaskSucceeded {
		t.Fatalf("attempts %+v", attempts)
	}
	ws, _ := e.store.WorkerList(ctx, store.WorkerListParams{})
	if len(ws) != 2 || ws[0].ID != "killed" || ws[0].State(t0) != store.WorkerStopped {
		t.Fatalf("workers %+v", ws)
	}
}
