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
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sentinel errors every driver maps its own errors to.
var (
	// ErrNotFound: the run, task or row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLeaseLost: the caller's fencing token is no longer the task's, so
	// another attempt owns the task; the write was not made.
	ErrLeaseLost = errors.New("lease lost")
)

// Store is the state store.
type Store interface {
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

	// TaskStart begins an attempt: state running, attempt+1, a new lease
	// token (returned). Only pending tasks can start.
	TaskStart(ctx context.Context, p TaskStartParams) (token int64, err error)
	// TaskFinish ends the attempt that holds token.
	TaskFinish(ctx context.Context, p TaskFinishParams) error
	// TaskSkipMany marks pending tasks as not run: skipped (an upstream
	// task failed) or cancelled (the run stopped).
	TaskSkipMany(ctx context.Context, p TaskSkipManyParams) error
	// TaskList returns a run's tasks in id order.
	TaskList(ctx context.Context, p TaskListParams) ([]*Task, error)
	// TaskGet returns one task with its attempts.
	TaskGet(ctx context.Context, id int64) (*Task, []*TaskAttempt, error)

	// MaterializationPromote makes a task attempt's verified versions
	// current, in one transaction fenced by the attempt's lease token:
	// materialization rows with their inputs, and each partition's current
	// version. A stale token changes nothing and returns ErrLeaseLost.
	MaterializationPromote(ctx context.Context, p MaterializationPromoteParams) error
	// MaterializationList returns materializations of an asset, newest
	// first.
	MaterializationList(ctx context.Context, p MaterializationListParams) ([]*Materialization, error)
	// MaterializationInputs returns the versions a materialization read.
	MaterializationInputs(ctx context.Context, materializationID int64) ([]Input, error)

	// PartitionFail records that partitions failed to materialize (their
	// current version, if any, stays current).
	PartitionFail(ctx context.Context, p PartitionFailParams) error
	// PartitionStatusList returns every partition of an asset that has a
	// status: a current version, a failure, or both. One query, however many
	// partitions.
	PartitionStatusList(ctx context.Context, asset string) ([]PartitionStatus, error)
	// PartitionCurrentList returns the current version of the given
	// partitions; partitions without one are left out.
	PartitionCurrentList(ctx context.Context, asset string, keys []string) ([]PartitionStatus, error)

	// DynamicPartitionAdd adds keys to a dynamic partitions definition,
	// after the existing ones; keys already there are left alone. It returns
	// how many were new.
	DynamicPartitionAdd(ctx context.Context, p DynamicPartitionAddParams) (int, error)
	// DynamicPartitionList returns the keys of a dynamic definition in the
	// order they were added.
	DynamicPartitionList(ctx context.Context, name string) ([]string, error)

	// Close releases the store's connections.
	Close() error
}

// RunStatus is the state of a run.
type RunStatus string

// Run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// TaskState is the state of a task.
type TaskState string

// Task states. A task waiting for its retry is pending with NotBefore set.
const (
	TaskPending   TaskState = "pending"
	TaskRunning   TaskState = "running"
	TaskSucceeded TaskState = "succeeded"
	TaskFailed    TaskState = "failed"
	// TaskSkipped: not run because an upstream task failed.
	TaskSkipped TaskState = "skipped"
	// TaskCancelled: stopped or never started because the run was
	// cancelled or stopped.
	TaskCancelled TaskState = "cancelled"
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
	// Tasks counts the run's tasks by state.
	Tasks map[TaskState]int64
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
	NotBefore      time.Time
	LeaseToken     int64
	Worker         string
	StartedAt      time.Time
	FinishedAt     time.Time
	Error          string
}

// TaskAttempt is one attempt of a task.
type TaskAttempt struct {
	TaskID     int64
	Attempt    int
	Worker     string
	State      TaskState
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
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
	Tasks      []TaskInsertParams
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
	// Limit caps the number of runs. Defaults to 50.
	Limit int
}

// TaskStartParams begins an attempt.
type TaskStartParams struct {
	ID     int64
	Worker string
	At     time.Time
}

// TaskFinishParams ends the attempt holding LeaseToken. State is
// TaskSucceeded, TaskFailed, TaskCancelled, or TaskPending for a retry at
// NotBefore.
type TaskFinishParams struct {
	ID         int64
	LeaseToken int64
	State      TaskState
	Error      string
	NotBefore  time.Time
	At         time.Time
}

// TaskSkipManyParams ends pending tasks that will not run.
type TaskSkipManyParams struct {
	IDs []int64
	// State is TaskSkipped (the default) or TaskCancelled.
	State  TaskState
	Reason string
	At     time.Time
}

// TaskListParams filters TaskList.
type TaskListParams struct {
	RunID int64
	// State, if set, keeps only tasks in that state.
	State TaskState
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
	// Limit caps the rows. Defaults to 100.
	Limit int
}

// PartitionFailParams records failed partitions.
type PartitionFailParams struct {
	Asset string
	Keys  []string
	RunID int64
	Error string
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
		return nil, fmt.Errorf("store URL %q is not a URL like sqlite://.weir/state.db (supported schemes: %s)", rawURL, schemes())
	}
	driversMu.Lock()
	open, ok := drivers[u.Scheme]
	driversMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("store URL %q: no driver for scheme %q (supported schemes: %s)", rawURL, u.Scheme, schemes())
	}
	return open(ctx, u)
}

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
