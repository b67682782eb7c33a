// Package store defines weir's state store: the one interface through which
// runs, tasks, materializations, partition status and dynamic partition keys
// are kept. Drivers live in sub-packages (sqlite; postgres later) and pass the
// conformance suite in storetest. SQL lives in the drivers; no driver type
// crosses this interface.
//
// The store never reads the clock: every time it records comes in a Params
// struct, so callers inject the clock.
package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/weir-dev/weir/internal/urlredact"
)

// Sentinel errors every driver maps its own errors to.
var (
	// ErrNotFound: the run, task or row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLeaseLost: the caller's fencing token is no longer the task's, so
	// another attempt owns the task; the write was not made.
	ErrLeaseLost = errors.New("lease lost")
	// ErrRunState: the run's status does not allow the change asked for
	// (resuming a finished run, say); the error names the status.
	ErrRunState = errors.New("not allowed in the run's status")
	// ErrNothingToRetry: the run has no failed or skipped task to retry.
	ErrNothingToRetry = errors.New("no failed or skipped tasks to retry")
	// ErrTickExists: a schedule's tick was recorded already (fired or
	// skipped, by this daemon before a restart or by another); the run
	// that would have fired it again was not stored.
	ErrTickExists = errors.New("schedule tick recorded already")
	// ErrSensorMoved: a sensor's cursor is not where the caller read it
	// (another daemon evaluated it first).
	ErrSensorMoved = errors.New("sensor cursor moved")
)

// Store is the state store.
type Store interface {
	Queue
	Catalog
	Outbox
	// Close releases the store's connections.
	Close() error
}

// Queue is the part of the store that runs work: runs and their tasks,
// leases with fencing tokens, throttles, pools, workers, and promotion (the
// fenced end of a task). Workers, the scheduler and backfill control use it.
type Queue interface {
	// RunInsert stores a run and its tasks in one transaction, so a run is
	// never visible without its tasks. The tasks get consecutive ids, in
	// the order given, starting at the returned first task id.
	RunInsert(ctx context.Context, p RunInsertParams) (run *Run, firstTaskID int64, err error)
	// RunFinish records a run's end.
	RunFinish(ctx context.Context, p RunFinishParams) error
	// RunGet returns one run with its task counts.
	RunGet(ctx context.Context, id int64) (*Run, error)
	// RunList returns runs, newest first.
	RunList(ctx context.Context, p RunListParams) ([]*Run, error)
	// RunSetStatus pauses a running run or resumes a paused or tripped one,
	// and records who did it. Any other change is refused with an error
	// naming the run's status.
	RunSetStatus(ctx context.Context, p RunSetStatusParams) (*Run, error)
	// RunCancel cancels a run in one transaction: its pending tasks never
	// start, and its running tasks lose their leases (their workers'
	// writes, promotion included, are refused), so nothing of it is
	// published after the call returns.
	RunCancel(ctx context.Context, p RunCancelParams) (*RunCancelResult, error)
	// RunRetryFailed puts a finished or tripped run's failed tasks, and the
	// tasks skipped below them, back in the queue with fresh attempts;
	// succeeded tasks are left alone.
	RunRetryFailed(ctx context.Context, p RunRetryFailedParams) (*RunRetryResult, error)
	// RunEventList returns a run's audit trail, oldest first.
	RunEventList(ctx context.Context, runID int64) ([]RunEvent, error)
	// RunProgress reads a run and counts its tasks and partitions per asset
	// and state, and its recent pace.
	RunProgress(ctx context.Context, p RunProgressParams) (*RunProgress, error)
	// TaskDurations returns how long the latest succeeded tasks of an asset
	// took, newest first, at most limit of them.
	TaskDurations(ctx context.Context, asset string, limit int) ([]time.Duration, error)
	// TaskLeaseMany leases up to Limit runnable tasks in one transaction:
	// pending, every upstream task succeeded (waiting = 0), not_before
	// passed, in one of Pools, of a run that is running, within each pool's
	// quota and each run's throttle (counted under the pool's and the run's
	// lock, so they hold across any number of workers). Each leased task is
	// running with attempt+1 and a new lease token that every later write
	// about it must carry. Runs of higher effective priority first (a run's
	// priority rises by one level each AgeEvery it waits), then rank, then
	// id. When a run's rate held tasks back, ThrottledUntil says when to
	// ask again.
	TaskLeaseMany(ctx context.Context, p TaskLeaseManyParams) (*LeaseResult, error)
	// TaskHeartbeat extends the leases of tasks the caller still holds. It
	// returns the ids whose lease was lost (the others were extended).
	TaskHeartbeat(ctx context.Context, p TaskHeartbeatParams) (lost []int64, err error)
	// TaskFinish ends the attempt that holds LeaseToken (ErrLeaseLost
	// otherwise). Success readies dependents (their waiting count drops); a
	// final failure skips every pending task downstream, transitively, and
	// returns them. The run is finished when its last task is.
	TaskFinish(ctx context.Context, p TaskFinishParams) (*TaskFinishResult, error)
	// TaskStage ends the compute phase of the attempt holding LeaseToken
	// (ErrLeaseLost otherwise) and starts its verify phase as a new attempt
	// of the same task, leased to the same worker with a new token, which
	// it returns. Staged records what the compute phase wrote, so that any
	// worker can verify and promote it if this one dies; the verify phase
	// retries on its own, with a fresh budget of the task's attempts,
	// without computing again.
	TaskStage(ctx context.Context, p TaskStageParams) (*Task, error)
	// TaskStageMany is TaskStage for many tasks in one transaction (a
	// worker's group commit). Each task is fenced on its own: results[i]
	// is ps[i]'s, its Err ErrLeaseLost when that task's token is no longer
	// its own, while the others are staged all the same. An error of the
	// call itself means nothing was staged.
	TaskStageMany(ctx context.Context, ps []TaskStageParams) (results []StageResult, err error)
	// TaskFinishMany is TaskFinish for many attempts in one transaction,
	// each fenced on its own as in TaskStageMany.
	TaskFinishMany(ctx context.Context, ps []TaskFinishParams) ([]FinishResult, error)
	// TaskRelease returns a leased task to pending without using up an
	// attempt's outcome (a worker shutting down).
	TaskRelease(ctx context.Context, p TaskReleaseParams) error
	// TaskReapExpired ends the attempts whose lease expired before Now:
	// back to pending, or failed (with its dependents skipped) once the
	// attempts are used up. Safe to run from every worker at once.
	TaskReapExpired(ctx context.Context, p TaskReapExpiredParams) ([]*TaskFinishResult, error)
	// RunFinishIdle ends the active runs that have no pending or running
	// task left, as finishing their last task would have: a process that
	// died between that commit and the run's completion check left them
	// active. It returns the ids of the runs it ended.
	RunFinishIdle(ctx context.Context, at time.Time) ([]int64, error)
	// TaskList returns tasks in id order.
	TaskList(ctx context.Context, p TaskListParams) ([]*Task, error)
	// AttemptEach calls fn with every attempt of every task, in task and
	// attempt order, without holding them all (exports, `weir query`).
	AttemptEach(ctx context.Context, fn func(*TaskAttempt) error) error
	// TaskRetryList returns, for a run, the tasks that needed more than
	// one attempt in a phase, by task id and phase.
	TaskRetryList(ctx context.Context, runID int64) ([]TaskRetry, error)
	// RunTaskStats counts a run's tasks and their attempts, and returns
	// how long each succeeded task took, in the database (reports of
	// millions of tasks read no task row).
	RunTaskStats(ctx context.Context, runID int64) (*TaskStats, error)
	// TaskGet returns one task with its attempts.
	TaskGet(ctx context.Context, id int64) (*Task, []*TaskAttempt, error)
	// TaskActiveList returns the unfinished (pending or running) tasks of an
	// asset in every run, for planners that must not queue a partition twice:
	// what they cover, not every column (87,600 pending tasks of an asset
	// are read for each `weir assets status`).
	TaskActiveList(ctx context.Context, asset string) ([]ActiveTask, error)
	// TaskActiveRuns returns the unfinished tasks of assets per asset and
	// run (in that order), as stretches of consecutive task ids, read in
	// one statement (one snapshot) by a few index seeks per stretch, not a
	// row per task: what
	// status shows in flight beside a backfill of millions of pending
	// tasks. A run's tasks of one asset have consecutive ids in partition
	// order (plan.Plan.Expand), so a stretch covers its first task's first
	// partition to its last task's last, unless the run left partitions
	// out between its tasks: ActiveRun.Partitions says how many the run's
	// stretches cover.
	TaskActiveRuns(ctx context.Context, assets []string) ([]ActiveRun, error)
	// TaskSpanList returns the unfinished tasks with ids firstID..lastID,
	// in id order: a planner reads the few tasks of a stretch that its own
	// tasks must wait for.
	TaskSpanList(ctx context.Context, firstID, lastID int64) ([]ActiveTask, error)
	// TaskStagedList returns the unfinished tasks of an asset in their
	// verify phase: their staged versions are not garbage.
	TaskStagedList(ctx context.Context, asset string) ([]*Task, error)
	// TaskWake returns a channel that receives when tasks may have become
	// runnable (a run was inserted, a task succeeded or was released or
	// reaped), from this process and, where the driver can (PostgreSQL
	// LISTEN/NOTIFY), from others. Wake-ups coalesce; poll as a fallback.
	TaskWake() <-chan struct{}
	// PoolSet sets a pool's quota of running tasks across all workers.
	PoolSet(ctx context.Context, p PoolSetParams) error
	// PoolList returns the pools with a quota, and how many of their tasks
	// run now.
	PoolList(ctx context.Context) ([]Pool, error)
	// WorkerRegister records a worker that starts; TaskHeartbeat with its
	// id keeps its last heartbeat.
	WorkerRegister(ctx context.Context, p WorkerRegisterParams) error
	// WorkerStop records that a worker stopped.
	WorkerStop(ctx context.Context, id string, at time.Time) error
	// WorkerList returns workers by id, each with its running tasks.
	WorkerList(ctx context.Context, p WorkerListParams) ([]*Worker, error)
	// MaterializationPromote makes a task attempt's verified versions
	// current and ends the task as succeeded, in one transaction fenced by
	// the attempt's lease token: materialization rows with their inputs,
	// each partition's current version, the task's success (dependents
	// readied, the run finished if it was the last task). A stale token
	// changes nothing and returns ErrLeaseLost. Because promotion and
	// success commit together, no reaper can hand a promoted task to
	// another worker: promotion is exactly-once.
	MaterializationPromote(ctx context.Context, p MaterializationPromoteParams) (*TaskFinishResult, error)
	// ScheduleGet returns a schedule's state, recording the schedule
	// (Since = at) the first time it is asked for.
	ScheduleGet(ctx context.Context, name string, at time.Time) (*ScheduleState, error)
	// ScheduleList returns the schedules the store has seen, by name.
	ScheduleList(ctx context.Context) ([]*ScheduleState, error)
	// ScheduleSetPaused pauses or resumes a schedule, recording it if new.
	ScheduleSetPaused(ctx context.Context, name string, paused bool, at time.Time) error
	// TickList returns a schedule's ticks, newest first.
	TickList(ctx context.Context, p TickListParams) ([]Tick, error)
	// TickSkip records ticks that did not fire, with why; ticks recorded
	// already are left as they are.
	TickSkip(ctx context.Context, ticks []Tick) error
	// SensorCursor returns a sensor's cursor, "" before its first tick.
	SensorCursor(ctx context.Context, name string) (string, error)
	// SensorTickRecord records an evaluation that starts no run (nothing
	// new, or an error), advancing the cursor from CursorFrom to CursorTo
	// (ErrSensorMoved if it is not at CursorFrom).
	SensorTickRecord(ctx context.Context, t SensorTick) error
	// SensorTickList returns a sensor's ticks, newest first (Limit
	// defaults to 20; -1 means all).
	SensorTickList(ctx context.Context, name string, limit int) ([]SensorTick, error)
	// LeaderAcquire takes or renews the lease of a role for a holder: it
	// leads if the lease is free (never taken, expired) or its own. The
	// lease is measured on the store's clock, like task leases.
	LeaderAcquire(ctx context.Context, p LeaderParams) (*Leader, error)
	// LeaderRelease gives up a holder's lease of a role (a daemon that
	// stops), so another may lead at once; a lease held by another is
	// left alone.
	LeaderRelease(ctx context.Context, role, holder string) error
	// MaterializationPromoteMany is MaterializationPromote for many
	// attempts in one transaction, each fenced on its own: only the
	// attempts that still hold their lease are promoted (the others'
	// results carry ErrLeaseLost and change nothing).
	MaterializationPromoteMany(ctx context.Context, ps []MaterializationPromoteParams) ([]FinishResult, error)
}

// ScheduleState is what the store keeps of a schedule.
type ScheduleState struct {
	Name   string
	Paused bool
	// Since is when the store first saw the schedule: no tick before it
	// is due.
	Since     time.Time
	UpdatedAt time.Time
}

// Tick is one scheduled time of a schedule and what became of it: the run
// it fired, or why it was skipped.
type Tick struct {
	Schedule    string
	ScheduledAt time.Time
	FiredAt     time.Time
	RunID       int64
	Skipped     string
}

// TickListParams filters TickList.
type TickListParams struct {
	Schedule string
	// Limit caps the ticks. Defaults to 20; -1 means all.
	Limit int
}

// LeaderParams asks to lead a role.
type LeaderParams struct {
	Role, Holder string
	// TTL is how long the lease lasts unrenewed.
	TTL time.Duration
	Now time.Time
}

// Leader is who leads a role.
type Leader struct {
	Role, Holder string
	// Token rises each time the role changes hands.
	Token     int64
	ExpiresAt time.Time
	// Leading says whether the asking holder leads.
	Leading bool
}

// StageResult is what TaskStageMany did with one task: the task in its
// verify phase, or why not (ErrLeaseLost).
type StageResult struct {
	Task *Task
	Err  error
}

// FinishResult is what TaskFinishMany or MaterializationPromoteMany did
// with one attempt: what ending it changed, or why it did not end
// (ErrLeaseLost).
type FinishResult struct {
	Result *TaskFinishResult
	Err    error
}

// Catalog is the part of the store that records what exists: promoted
// versions with their inputs (runtime lineage), each partition's status,
// check results and dynamic partition keys. Planning, lineage queries and
// verification read it.
type Catalog interface {
	// MaterializationList returns materializations of an asset, newest
	// first.
	MaterializationList(ctx context.Context, p MaterializationListParams) ([]*Materialization, error)
	// MaterializationInputs returns the versions a materialization read.
	MaterializationInputs(ctx context.Context, materializationID int64) ([]Input, error)
	// PartitionVerified records what verifying a partition's current
	// version found wrong ("" when it verified); a version other than the
	// current one is ignored.
	PartitionVerified(ctx context.Context, asset, key, version, problem string) error
	// PartitionInputsChanged returns, for the partitions of asset whose
	// current version read a partition that has had another version
	// promoted since (PartitionStatus.InputStale), the upstream assets
	// that changed, each with the keys of the partitions that read them.
	PartitionInputsChanged(ctx context.Context, asset string) (map[string][]string, error)
	// CurrentReaders returns the current materializations (of any asset)
	// that record a version of a partition as read: its impact.
	CurrentReaders(ctx context.Context, in Input) ([]*Materialization, error)
	// InputEach calls fn with every recorded input of every
	// materialization, in materialization id order, without holding them
	// all (exports, `weir query`).
	InputEach(ctx context.Context, fn func(materializationID int64, in Input) error) error
	// InputsOfCurrent returns the versions of asset's partitions that the
	// current versions of any asset record as read: their provenance,
	// which retention must keep.
	InputsOfCurrent(ctx context.Context, asset string) ([]Input, error)
	// GarbageCandidates returns the versions of assets that the store's
	// records say garbage collection may delete, and that it has not
	// collected yet, by asset: promoted versions another version of their
	// partition has replaced (with their rank), and the versions of ended
	// attempts that were never promoted and are not awaited by their task.
	// Read through indexes that hold only such versions: its cost follows
	// the garbage, not the store's size.
	GarbageCandidates(ctx context.Context, assets []string) ([]GarbageCandidate, error)
	// VersionsCollected records that garbage collection deleted (or found
	// no objects of) versions GarbageCandidates returned, so they are not
	// returned again.
	VersionsCollected(ctx context.Context, vs []GarbageCandidate) error
	// PartitionFail records that partitions failed to materialize (their
	// current version, if any, stays current).
	PartitionFail(ctx context.Context, p PartitionFailParams) error
	// PartitionPromotedAt returns when a partition's current version was
	// promoted; the zero time if it has none.
	PartitionPromotedAt(ctx context.Context, asset, key string) (time.Time, error)
	// PartitionStatusList returns every partition of an asset that has a
	// status: a current version, a failure, or both. One query, however many
	// partitions.
	PartitionStatusList(ctx context.Context, asset string) ([]PartitionStatus, error)
	// PartitionStateChanges calls fn with the state of every partition of
	// an asset whose status changed at or after mark since (since 0: every
	// partition that has a status, in key order), without holding them
	// (the planner reads 87,600 per asset); fn must not keep the pointer.
	// It returns the mark to pass next time: nothing written after this
	// call began has an earlier one. A partition may be passed again.
	PartitionStateChanges(ctx context.Context, asset string, since int64, fn func(*PartitionState) error) (next int64, err error)
	// StatusSummaryGet returns the status summary a reader kept of an
	// asset, nil if none (or one kept in another database).
	StatusSummaryGet(ctx context.Context, asset string) (*StatusSummary, error)
	// StatusSummaryPut keeps summaries in one transaction, each unless the
	// one kept of its asset has a later mark.
	StatusSummaryPut(ctx context.Context, sums ...StatusSummary) error
	// PartitionCurrentList returns the current version of the given
	// partitions; partitions without one are left out.
	PartitionCurrentList(ctx context.Context, asset string, keys []string) ([]PartitionStatus, error)
	// CheckResultInsertMany records the outcome of an attempt's checks.
	CheckResultInsertMany(ctx context.Context, results []CheckResult) error
	// CheckResultList returns an asset's check results, newest first.
	CheckResultList(ctx context.Context, p CheckResultListParams) ([]CheckResult, error)
	// DynamicPartitionAdd adds keys to a dynamic partitions definition,
	// after the existing ones; keys already there are left alone. It returns
	// how many were new.
	DynamicPartitionAdd(ctx context.Context, p DynamicPartitionAddParams) (int, error)
	// CursorGet returns a named cursor; ok is false if it was never set.
	CursorGet(ctx context.Context, name string) (value int64, ok bool, err error)
	// CursorSet sets a named cursor.
	CursorSet(ctx context.Context, name string, value int64) error
	// DynamicPartitionList returns the keys of a dynamic definition in the
	// order they were added.
	DynamicPartitionList(ctx context.Context, name string) ([]string, error)
}

// RunStatus is the state of a run.
type RunStatus string

// Run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
	// RunPaused: no task of the run starts until it is resumed; running
	// ones finish.
	RunPaused RunStatus = "paused"
	// RunTripped: the circuit breaker stopped the run's starts; it waits
	// for a resume or a cancel.
	RunTripped RunStatus = "tripped"
)

// Active reports whether the run may still start or finish tasks.
func (s RunStatus) Active() bool { return s == RunRunning || s == RunPaused || s == RunTripped }

// RunQueued is how a running run shows while every task of it is pending:
// no worker runs it now. It is not stored; Run.State derives it.
const RunQueued RunStatus = "queued"

// State is the run's status as every command shows it: its stored status,
// except that a running run all of whose tasks are pending is queued.
func (r *Run) State() RunStatus {
	if r.Status == RunRunning && r.TaskCount() > 0 && r.Tasks[TaskPending] == r.TaskCount() {
		return RunQueued
	}
	return r.Status
}

// Run priorities: higher leases first. Interactive and scheduled runs are
// PriorityHigh by default, backfills PriorityNormal.
const (
	PriorityLow    = -10
	PriorityNormal = 0
	PriorityHigh   = 10
	// PriorityStep is one level; a waiting run ages by one level each
	// TaskLeaseManyParams.AgeEvery.
	PriorityStep = 10
)

// Throttle limits the starts of one run's tasks, across all workers.
type Throttle struct {
	// MaxConcurrent caps the run's running tasks; 0 means no cap.
	MaxConcurrent int
	// RatePerSec caps task starts per second (spaced at least 1/rate
	// apart); 0 means no cap.
	RatePerSec float64
}

// Validate reports a throttle that cannot hold: a negative cap, or a rate
// that is negative, not a number or infinite.
func (t Throttle) Validate() error {
	if t.MaxConcurrent < 0 {
		return fmt.Errorf("max concurrent %d must be 0 (no cap) or more", t.MaxConcurrent)
	}
	if math.IsNaN(t.RatePerSec) || math.IsInf(t.RatePerSec, 0) || t.RatePerSec < 0 {
		return fmt.Errorf("rate %g per second must be a finite number, 0 (no cap) or more", t.RatePerSec)
	}
	return nil
}

// Breaker is a run's circuit breaker: when a condition holds, the run
// stops starting tasks (status tripped) until resumed or cancelled.
type Breaker struct {
	// MaxFailureRate trips when failed / finished tasks exceeds it, once
	// MinTasks have finished; 0 turns it off.
	MaxFailureRate float64
	MinTasks       int
	// MaxConsecutive trips after that many failed tasks in a row; 0
	// turns it off.
	MaxConsecutive int
}

// On reports whether any condition is set.
func (b Breaker) On() bool { return b.MaxFailureRate > 0 || b.MaxConsecutive > 0 }

// TaskState is the state of a task.
type TaskState string

// Task states. A task waiting for its retry is pending with NotBefore set;
// one waiting for its upstream tasks is pending with Waiting > 0.
const (
	TaskPending   TaskState = "pending"
	TaskRunning   TaskState = "running"
	TaskSucceeded TaskState = "succeeded"
	TaskFailed    TaskState = "failed"
	// TaskSkipped: not run because an upstream task failed.
	TaskSkipped TaskState = "skipped"
	// TaskCancelled: never finished because its run was cancelled.
	TaskCancelled TaskState = "cancelled"
)

// AttemptReleased is the state of an attempt whose worker gave the lease
// back (shutting down); it does not count against the task's attempts.
const AttemptReleased TaskState = "released"

// Task phases: a task computes its output, then verifies and promotes it.
const (
	PhaseCompute = "compute"
	PhaseVerify  = "verify"
)

// TaskStates lists every task state, in lifecycle order.
var TaskStates = []TaskState{TaskPending, TaskRunning, TaskSucceeded, TaskFailed, TaskSkipped, TaskCancelled}

// Run is one request to materialize a selection of assets over partitions.
type Run struct {
	ID         int64
	Kind       string
	Selection  string
	Assets     []string
	Partitions string
	Reprocess  string
	Status     RunStatus
	CreatedBy  string
	CreatedAt  time.Time
	FinishedAt time.Time // zero while running
	Error      string
	Priority   int
	// Order is oldest-first or newest-first.
	Order string
	// Pool, if set, overrides the assets' pools for every task of the run.
	Pool     string
	Throttle Throttle
	Breaker  Breaker
	// BreakerFinished, BreakerFailed and BreakerConsecutive count the
	// tasks that ended since the run was created or last resumed.
	BreakerFinished, BreakerFailed, BreakerConsecutive int
	// TripReason says why the breaker tripped last.
	TripReason string
	// Plan is the caller's summary of the run's plan (JSON), stored with
	// the run.
	Plan string
	// WaitsFor are the other runs whose tasks some of this run's tasks
	// wait for (see TaskInsertParams.WaitsFor), as they were at insert.
	WaitsFor []int64
	// Tasks counts the run's tasks by state.
	Tasks map[TaskState]int64
}

// Done returns the number of tasks that have ended: succeeded, failed,
// skipped or cancelled.
func (r *Run) Done() int64 {
	return r.Tasks[TaskSucceeded] + r.Tasks[TaskFailed] + r.Tasks[TaskSkipped] + r.Tasks[TaskCancelled]
}

// TaskCount returns the number of tasks in all.
func (r *Run) TaskCount() int64 {
	var n int64
	for _, c := range r.Tasks {
		n += c
	}
	return n
}

// Task is one compute call of an asset over one partition or a consecutive
// range of partitions.
type Task struct {
	ID             int64
	RunID          int64
	Asset          string
	PartitionFirst string
	PartitionLast  string
	PartitionCount int64
	State          TaskState
	Attempt        int
	MaxAttempts    int
	Pool           string
	Priority       int
	Rank           int64
	// Waiting counts upstream tasks that have not succeeded yet.
	Waiting        int
	NotBefore      time.Time
	LeaseToken     int64
	LeaseExpiresAt time.Time
	Worker         string
	StartedAt      time.Time
	FinishedAt     time.Time
	Error          string
	// Phase is PhaseCompute or PhaseVerify.
	Phase string
	// Staged is what the compute phase wrote (the scheduler's JSON), set
	// once the task is in its verify phase.
	Staged string
	// BaseAttempts is the attempts each phase may take (the asset's retry
	// policy).
	BaseAttempts int
	// Version is the version id the task's outputs are written under: a
	// new one each time its compute phase is leased (NewVersionID, chosen
	// by the store and recorded on the attempt before anything is
	// written, so garbage collection knows every prefix from the store),
	// kept through its verify phase.
	Version string
}

// PhaseAttempt returns which attempt of its current phase the task is on
// (or ended on), counting neither the other phase's attempts nor released
// ones: compare it with BaseAttempts.
func (t *Task) PhaseAttempt() int {
	// Each phase starts with MaxAttempts - BaseAttempts attempts behind
	// it, and a release raises MaxAttempts with the attempt it gave back.
	return t.Attempt - (t.MaxAttempts - t.BaseAttempts)
}

// TaskRetry says that a task needed more than one attempt in a phase.
type TaskRetry struct {
	TaskID int64
	Phase  string
	// Attempts counts the phase's attempts, released ones not included.
	Attempts int
}

// TaskAttempt is one attempt of a task.
type TaskAttempt struct {
	TaskID     int64
	Attempt    int
	Phase      string
	Worker     string
	State      TaskState
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
	// Version is the version id the attempt wrote (compute) or verified
	// (verify) under; "" for attempts recorded before weir kept it.
	Version string
}

// Materialization is one promoted version of one partition of an asset.
type Materialization struct {
	ID             int64
	Asset          string
	PartitionKey   string
	Version        string
	RunID          int64
	TaskID         int64
	Attempt        int
	CodeVersion    string
	ManifestSHA256 string
	Files          int
	Bytes          int64
	StartedAt      time.Time
	PromotedAt     time.Time
}

// Input is one upstream partition version that a materialization read.
type Input struct {
	Asset        string
	PartitionKey string
	Version      string
}

// PartitionStatus is what the store knows of one partition of an asset.
type PartitionStatus struct {
	PartitionKey string
	// Version is the current version, "" if never materialized.
	Version           string
	MaterializationID int64
	ManifestSHA256    string
	// Failed is set when the last attempt to materialize the partition
	// failed after its current version (if any) was promoted.
	Failed      bool
	FailedRunID int64
	Error       string
	// FailCause is why the last attempt failed, when Failed.
	FailCause FailCause
	// CodeVersion is the asset's code version that made the current
	// version.
	CodeVersion string
	// InputStale: a partition the current version read has had another
	// version promoted since.
	InputStale bool
	// VerifyError is what weir verify last found wrong with the current
	// version's files ("" when it verified or was not verified).
	VerifyError string
}

// StatusSummary is an asset's partition states up to a mark, in a form
// the store does not read (the planner's interval sets): the status is the
// summary plus the changes since its mark (PartitionStateChanges), so a
// reader does not read one row per partition. Readers keep it up to date.
type StatusSummary struct {
	Asset string
	// Definition identifies the partition definition Body's indexes are
	// of; a summary of another definition is not used.
	Definition string
	// Mark: Body holds every change before it.
	Mark int64
	Body []byte
}

// PartitionState is what planning needs of a partition's status.
type PartitionState struct {
	Key string
	// Current: it has a current version, made by CodeVersion.
	Current     bool
	CodeVersion string
	// Failed: its last attempt failed. VerifyFailed: its current
	// version's files failed verification. InputStale: a partition its
	// current version read has had another version promoted since.
	Failed, VerifyFailed, InputStale bool
	// FailCause is why the last attempt failed, when Failed.
	FailCause FailCause
}

// FailCause is why a partition's last attempt failed.
type FailCause string

const (
	// FailWork: its own work failed (compute, staging, verification).
	FailWork FailCause = ""
	// FailCheck: a blocking check refused its output.
	FailCheck FailCause = "check"
	// FailUpstream: it was not run, as a partition it reads failed.
	FailUpstream FailCause = "upstream"
)

// ActiveTask is an unfinished task's partitions.
type ActiveTask struct {
	ID, RunID                     int64
	PartitionFirst, PartitionLast string
}

// ActiveRun is a run's unfinished tasks of one asset.
type ActiveRun struct {
	Asset string
	RunID int64
	// Tasks and Partitions count the tasks and the partitions they cover,
	// from the run's counts.
	Tasks, Partitions int64
	// Stretches are the tasks as stretches of consecutive ids, in order.
	Stretches []TaskStretch
}

// TaskStretch is a stretch of consecutive unfinished tasks of a run and
// asset.
type TaskStretch struct {
	FirstTaskID, LastTaskID int64
	// PartitionFirst is the first task's first partition, PartitionLast
	// the last task's last.
	PartitionFirst, PartitionLast string
}

// RunInsertParams describes a new run and its tasks.
type RunInsertParams struct {
	Kind       string
	Selection  string
	Assets     []string
	Partitions string
	Reprocess  string
	CreatedBy  string
	CreatedAt  time.Time
	// Priority is the run's priority; each task's is this plus its own.
	Priority int
	// Order is recorded with the run; tasks come ranked already.
	Order    string
	Pool     string
	Throttle Throttle
	Breaker  Breaker
	Plan     string
	// Tasks yields the tasks, inserted in batches as they come, so a run
	// of millions of tasks never sits in memory whole.
	Tasks iter.Seq[TaskInsertParams]
	// Sensor, if set, is the sensor evaluation the run starts: its cursor
	// advances from Sensor.CursorFrom in the run's transaction, or, if the
	// cursor is not CursorFrom any more (another daemon moved it), the
	// insert fails with ErrSensorMoved and stores nothing.
	Sensor *SensorTick
	// Ticks are the schedule ticks the run fires, recorded with it in its
	// transaction (their RunID is the run's). If one is recorded already
	// the insert fails with ErrTickExists and stores nothing.
	Ticks []Tick
}

// TaskInsertParams describes a new task. Tasks get consecutive ids in the
// order given (RunInsert returns the first).
type TaskInsertParams struct {
	Asset          string
	PartitionFirst string
	PartitionLast  string
	PartitionCount int64
	MaxAttempts    int
	Pool           string
	Priority       int
	// Rank orders tasks of equal priority: lower leases first.
	Rank int64
	// Waiting is the number of tasks of the same run this one depends on.
	Waiting int
	// Dependents are the positions, in this run's task list, of the tasks
	// that depend on this one, ascending. Each one's Waiting drops by one
	// when this task succeeds.
	Dependents []int32
	// WaitsFor are tasks of other runs that produce partitions this one
	// reads. Each that is still pending or running when the run is stored
	// gets this task as a dependent (and Waiting one more); each that
	// succeeded already is not waited for; one that failed fails the
	// insert.
	WaitsFor []int64
}

// RunSetStatusParams pauses or resumes a run.
type RunSetStatusParams struct {
	ID int64
	// To is RunPaused or RunRunning.
	To     RunStatus
	Actor  string
	Reason string
	At     time.Time
}

// RunCancelParams cancels a run.
type RunCancelParams struct {
	ID     int64
	Actor  string
	Reason string
	At     time.Time
}

// RunCancelResult is what a cancel changed.
type RunCancelResult struct {
	// Pending counts tasks that will never start; Interrupted, running
	// tasks whose leases were revoked.
	Pending, Interrupted int64
	// Skipped are tasks of other runs that waited for a cancelled one.
	Skipped []*Task
}

// RunRetryFailedParams re-queues a run's failed tasks.
type RunRetryFailedParams struct {
	ID    int64
	Actor string
	At    time.Time
}

// RunRetryResult counts what a retry put back in the queue.
type RunRetryResult struct {
	Failed, Skipped int64
	Run             *Run
}

// RunEvent is one entry of a run's audit trail.
type RunEvent struct {
	RunID  int64
	At     time.Time
	Kind   string // created, paused, resumed, tripped, cancelled, retried, finished
	Actor  string
	Detail string
}

// RunProgressParams asks for a run's progress.
type RunProgressParams struct {
	ID int64
	// Since starts the window for the recent pace.
	Since time.Time
}

// RunProgress is a run's progress.
type RunProgress struct {
	// Run is the run, its task counts taken from Assets (one scan of its
	// tasks, not two).
	Run    *Run
	Assets []AssetProgress
	// StartedSince counts compute attempts started, FinishedSince tasks
	// succeeded, since RunProgressParams.Since (to the second: from the
	// start of its second).
	StartedSince, FinishedSince int64
}

// AssetProgress counts one asset's tasks and partitions in one state.
type AssetProgress struct {
	Asset      string
	State      TaskState
	Tasks      int64
	Partitions int64
}

// RunFinishParams ends a run.
type RunFinishParams struct {
	ID         int64
	Status     RunStatus
	Error      string
	FinishedAt time.Time
}

// RunListParams filters RunList.
type RunListParams struct {
	// Kind, if set, keeps runs of that kind (materialize, backfill).
	Kind string
	// Status, if set, keeps runs in one of these states.
	Status []RunStatus
	// FinishedSince, if set, keeps runs that finished at or after it.
	FinishedSince time.Time
	// Limit caps the number of runs. Defaults to 50; -1 means all.
	Limit int
}

// TaskLeaseManyParams asks for runnable tasks.
type TaskLeaseManyParams struct {
	// Worker names the caller in the task's attempts.
	Worker string
	// Pools limits leasing to these pools; empty means every pool.
	Pools []string
	// RunID limits leasing to one run; 0 means every run.
	RunID int64
	// AlsoRunIDs, with RunID, adds these runs (the runs RunID waits for).
	AlsoRunIDs []int64
	// Limit caps the batch. Defaults to 1.
	Limit int
	// Now is the caller's clock; leases expire at Now + LeaseFor.
	Now      time.Time
	LeaseFor time.Duration
	// AgeEvery raises a waiting run's priority by PriorityStep each time
	// it passes without a task of the run starting, so low-priority runs
	// are never starved. Defaults to 5 minutes.
	AgeEvery time.Duration
}

// LeaseResult is what TaskLeaseMany leased.
type LeaseResult struct {
	Tasks []*Task
	// ThrottledUntil, if set, is when a rate-limited run may start its
	// next task: ask again then. It is on the store's clock (the
	// database's, on a store shared by hosts); ThrottledFor is the same
	// moment as a wait from now.
	ThrottledUntil time.Time
	ThrottledFor   time.Duration
}

// TaskHeartbeatParams extends leases.
type TaskHeartbeatParams struct {
	Leases   []Lease
	Now      time.Time
	LeaseFor time.Duration
	// Worker, if set, is the registered worker that heartbeats (see
	// WorkerRegister): its last heartbeat is recorded too.
	Worker string
}

// GarbageCandidate is a version the store knows of that garbage
// collection may delete, subject to its age, its rank and the provenance
// of current versions (verify.RecordedGarbage decides).
type GarbageCandidate struct {
	Asset   string
	Version string
	// The partitions written under Version: a superseded materialization's
	// one partition, or the attempt's task's range.
	PartitionFirst string
	PartitionLast  string
	PartitionCount int64
	TaskID         int64
	// MaterializationID is set for a promoted version another version of
	// its partition replaced; 0 for an attempt never promoted.
	MaterializationID int64
	// Rank counts, for a superseded version, the versions of its partition
	// promoted after it that are not collected yet: the current one is
	// rank 0, the version it replaced 1, and so on.
	Rank int
}

// Lease identifies a held lease: a task and its fencing token.
type Lease struct {
	TaskID int64
	Token  int64
}

// TaskFinishParams ends the attempt holding LeaseToken. State is
// TaskSucceeded, TaskFailed, or TaskPending for a retry at NotBefore.
type TaskFinishParams struct {
	ID         int64
	LeaseToken int64
	State      TaskState
	Error      string
	NotBefore  time.Time
	At         time.Time
}

// TaskFinishResult is what ending a task changed.
type TaskFinishResult struct {
	Task *Task
	// Skipped are the pending tasks downstream of a failed task, now
	// skipped, so the caller can record their partitions as failed.
	Skipped []*Task
	// RunFinished is set when this was the run's last unfinished task.
	RunFinished bool
	RunStatus   RunStatus
}

// TaskStageParams ends a compute phase.
type TaskStageParams struct {
	ID         int64
	LeaseToken int64
	Staged     string
	At         time.Time
	LeaseFor   time.Duration
}

// TaskReleaseParams gives a lease back.
type TaskReleaseParams struct {
	ID         int64
	LeaseToken int64
	Reason     string
	At         time.Time
}

// TaskReapExpiredParams reaps expired leases.
type TaskReapExpiredParams struct {
	Now time.Time
	// Limit caps the tasks reaped per call. Defaults to 100.
	Limit int
	// DeadWorkers are workers known to be gone (a process on the caller's
	// host that no longer exists): their leases are reaped at once,
	// whatever their expiry, and the workers recorded as stopped.
	DeadWorkers []string
}

// Worker is a registered worker process.
type Worker struct {
	ID          string
	Host        string
	PID         int
	Pools       []string // empty: every pool
	Concurrency int
	// LeaseTimeout is how long its leases live without a heartbeat; it
	// heartbeats every third of it.
	LeaseTimeout time.Duration
	StartedAt    time.Time
	HeartbeatAt  time.Time
	StoppedAt    time.Time // zero while it runs
	// Running counts the tasks it holds leases on now.
	Running int
}

// WorkerState says whether a worker is running, stopped, or lost (it
// stopped heartbeating without saying it stopped).
type WorkerState string

// Worker states.
const (
	WorkerRunning WorkerState = "running"
	WorkerStopped WorkerState = "stopped"
	WorkerLost    WorkerState = "lost"
)

// State returns the worker's state at now: lost once it has not
// heartbeated for a lease timeout.
func (w *Worker) State(now time.Time) WorkerState {
	switch {
	case !w.StoppedAt.IsZero():
		return WorkerStopped
	case now.Sub(w.HeartbeatAt) > w.LeaseTimeout:
		return WorkerLost
	}
	return WorkerRunning
}

// WorkerRegisterParams registers a worker as it starts. A worker id
// registered before (a restarted worker) starts afresh.
type WorkerRegisterParams struct {
	ID           string
	Host         string
	PID          int
	Pools        []string
	Concurrency  int
	LeaseTimeout time.Duration
	At           time.Time
}

// WorkerListParams filters workers.
type WorkerListParams struct {
	// Host, if set, keeps the workers of that host.
	Host string
	// Active keeps the workers that have not said they stopped.
	Active bool
}

// PoolSetParams sets a pool quota.
type PoolSetParams struct {
	Name       string
	MaxRunning int
}

// Pool is a pool with a quota or running tasks.
type Pool struct {
	Name string
	// MaxRunning is the quota; -1 means none.
	MaxRunning int
	Running    int
	// Ready counts the pool's pending tasks whose upstream tasks have all
	// succeeded (of running runs; those waiting out a retry backoff
	// included): the backlog.
	Ready int
	// ReadySince is when the longest-waiting of them became ready (its
	// run's creation, its last upstream task's success, or its retry's
	// backoff end, whichever came last; time a run was paused included);
	// zero without ready tasks. A time in the future is a backoff.
	ReadySince time.Time
}

// TaskStats summarizes a run's tasks.
type TaskStats struct {
	Tasks, Attempts int64
	// Seconds are the succeeded tasks' durations, start to end, in no
	// particular order.
	Seconds []float64
}

// TaskListParams filters TaskList.
type TaskListParams struct {
	// RunID, if set, keeps only that run's tasks.
	RunID int64
	// State, if set, keeps only tasks in that state.
	State TaskState
	// AfterID, if set, keeps only tasks with a greater id: the next page
	// after a page that ended with that id (tasks come in id order).
	AfterID int64
	// Limit caps the rows; 0 means no limit.
	Limit int
}

// MaterializationPromoteParams promotes the verified output of one attempt.
type MaterializationPromoteParams struct {
	TaskID      int64
	LeaseToken  int64
	RunID       int64
	Attempt     int
	Asset       string
	CodeVersion string
	StartedAt   time.Time
	PromotedAt  time.Time
	Partitions  []PromotedPartition
}

// PromotedPartition is one partition's new version and what it read.
type PromotedPartition struct {
	Key            string
	Version        string
	ManifestSHA256 string
	Files          int
	Bytes          int64
	Inputs         []Input
}

// MaterializationListParams filters MaterializationList.
type MaterializationListParams struct {
	Asset        string
	PartitionKey string // optional
	// RunID, if set, keeps the materializations of that run (Asset may
	// then be empty); TaskID, with it, those of one of its tasks, or with
	// TaskIDTo too, of its tasks TaskID to TaskIDTo.
	RunID    int64
	TaskID   int64
	TaskIDTo int64
	// AfterID, if set, keeps the materializations with a greater id (of
	// every asset, unless Asset is set), oldest first: a reader that
	// follows promotions.
	AfterID int64
	// Limit caps the rows. Defaults to 100; -1 means all.
	Limit int
}

// CheckResult is the outcome of one check on one attempt's staged output.
type CheckResult struct {
	ID    int64
	Asset string
	// Partitions are the attempt's partitions in compact form.
	Partitions string
	RunID      int64
	TaskID     int64
	Attempt    int
	Name       string
	// Warn: a failure did not block promotion.
	Warn   bool
	Passed bool
	// Value is what the check measured.
	Value     string
	Error     string
	CheckedAt time.Time
}

// CheckResultListParams filters CheckResultList.
type CheckResultListParams struct {
	Asset string
	// RunID, if set, keeps the results of that run (Asset may then be
	// empty); TaskID, with it, those of one of its tasks, or with TaskIDTo
	// too, of its tasks TaskID to TaskIDTo.
	RunID    int64
	TaskID   int64
	TaskIDTo int64
	// Limit caps the rows. Defaults to 20.
	Limit int
}

// PartitionFailParams records failed partitions.
type PartitionFailParams struct {
	Asset string
	Keys  []string
	RunID int64
	Error string
	Cause FailCause
	At    time.Time
}

// DynamicPartitionAddParams adds dynamic partition keys.
type DynamicPartitionAddParams struct {
	Name string
	Keys []string
	At   time.Time
}

// OpenFunc opens a store from a URL.
type OpenFunc func(ctx context.Context, u *url.URL) (Store, error)

var (
	driversMu sync.Mutex
	drivers   = map[string]OpenFunc{}
)

// Register makes a driver available to Open under a URL scheme. Drivers
// call it from init.
func Register(scheme string, open OpenFunc) {
	driversMu.Lock()
	defer driversMu.Unlock()
	drivers[scheme] = open
}

// Open opens the store at rawURL with the driver registered for its
// scheme, e.g. sqlite://.weir/state.db.
func Open(ctx context.Context, rawURL string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w %q: not a URL like sqlite://.weir/state.db (supported schemes: %s)", ErrBadURL, urlredact.URL(rawURL), schemes())
	}
	driversMu.Lock()
	open, ok := drivers[u.Scheme]
	driversMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q: no driver for scheme %q (supported schemes: %s)", ErrBadURL, urlredact.URL(rawURL), u.Scheme, schemes())
	}
	return open(ctx, u)
}

// ErrBadURL is wrapped by errors about a store URL itself (its syntax, an
// unknown scheme, options the driver does not take), as opposed to a store
// that could not be reached or opened.
var ErrBadURL = errors.New("bad store URL")

func schemes() string {
	driversMu.Lock()
	defer driversMu.Unlock()
	var s []string
	for k := range drivers {
		s = append(s, k+"://")
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// Outbox holds alerts until they are delivered: recorded once per event
// and sink (their dedup key), delivered and retried by whichever daemon
// leads, so an alert survives restarts and failover and is sent once.
type Outbox interface {
	// AlertInsertMany records alerts; one whose sink and dedup key are
	// recorded already is left as it is. It returns how many were new.
	AlertInsertMany(ctx context.Context, alerts []Alert) (int, error)
	// AlertDueList returns undelivered alerts whose next attempt is due at
	// now, oldest first.
	AlertDueList(ctx context.Context, now time.Time, limit int) ([]Alert, error)
	// AlertDelivered records an alert's delivery.
	AlertDelivered(ctx context.Context, id int64, at time.Time) error
	// AlertRetry records a failed delivery and when to try again.
	AlertRetry(ctx context.Context, p AlertRetryParams) error
	// AlertList returns alerts, newest first.
	AlertList(ctx context.Context, p AlertListParams) ([]Alert, error)
}

// Alert is one event to deliver to one sink.
type Alert struct {
	ID int64
	// Sink names where the alert goes.
	Sink string
	// DedupKey identifies the event: an event recorded twice for a sink
	// (two daemons, a restart) is one alert.
	DedupKey string
	Kind     string
	Severity string
	// Asset, Partitions and RunID say what the event is about, where it
	// is about one.
	Asset      string
	Partitions string
	RunID      int64
	Message    string
	// At is when the event happened.
	At time.Time
	// Attempts counts delivery attempts; NextAt is when the next is due.
	Attempts int
	NextAt   time.Time
	// DeliveredAt is zero until delivered.
	DeliveredAt time.Time
	LastError   string
}

// AlertRetryParams records a failed delivery.
type AlertRetryParams struct {
	ID     int64
	NextAt time.Time
	Error  string
}

// AlertListParams filters AlertList.
type AlertListParams struct {
	// Kind and Sink, if set, keep alerts of that kind or sink.
	Kind, Sink string
	// Undelivered keeps alerts not delivered yet.
	Undelivered bool
	// Limit caps the number of alerts. Defaults to 50; -1 means all.
	Limit int
}

// SensorTick is one evaluation of a sensor: the cursor it moved from and
// to, the new input it found (the partitions, compact form), the run it
// started, or the error that stopped it.
type SensorTick struct {
	ID          int64
	Sensor      string
	EvaluatedAt time.Time
	CursorFrom  string
	CursorTo    string
	Arrivals    int64
	Partitions  string
	RunID       int64
	Error       string
}
