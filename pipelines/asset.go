package pipelines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/weir-dev/weir/partitions"
)

// ComputeFunc produces an asset's partitions. It writes each partition's
// files through t.Output and reads its dependencies through t.Input. It may
// run more than once for the same partitions (a retry, a lost worker): what
// it writes goes to a private staging prefix and only becomes visible when
// weir promotes it.
type ComputeFunc func(ctx context.Context, t *Task) error

// Asset declares one asset.
type Asset struct {
	// Key names the asset: letters, digits, '_', '-' and '.', starting with
	// a letter or digit. Required.
	Key string
	// Description is shown by `weir assets show`.
	Description string
	// Deps are the assets this one is computed from.
	Deps []Dep
	// Partitions defines the asset's partitions. Nil means unpartitioned:
	// one partition keyed partitions.UnpartitionedKey.
	Partitions partitions.Definition
	// MaxPartitionsPerRun lets one compute call produce up to this many
	// consecutive partitions. Defaults to 1.
	MaxPartitionsPerRun int
	// CodeVersion is recorded with every materialization; change it when
	// the compute logic changes.
	CodeVersion string
	// Pool names the worker pool whose quota this asset's tasks count
	// against. Defaults to "default".
	Pool string
	// Retry says how failed compute calls are retried.
	Retry RetryPolicy
	// Timeout bounds one compute call; it becomes the context's deadline.
	// Zero means no timeout.
	Timeout time.Duration
	// Tags select the asset with `tag:NAME`.
	Tags []string
	// Group selects the asset with `group:NAME`.
	Group string
	// Checks run on the staged output before it is promoted.
	Checks []Check
	// Eager has `weir serve` materialize the asset's partitions when an
	// upstream partition they read is promoted (again), once every
	// partition they read has a promoted version: the partitions a batch of
	// promotions touches go into one run, so an upstream backfill makes a
	// few runs of ranges, not a run per partition.
	Eager bool
	// Compute produces the asset. Required.
	Compute ComputeFunc
}

// PartitionsDef returns the asset's partitions definition, with nil mapped to
// partitions.Unpartitioned.
func (a *Asset) PartitionsDef() partitions.Definition {
	if a.Partitions == nil {
		return partitions.Unpartitioned()
	}
	return a.Partitions
}

// PoolName returns the asset's pool, "default" when unset.
func (a *Asset) PoolName() string {
	if a.Pool == "" {
		return "default"
	}
	return a.Pool
}

// CheckLabels names the asset's checks for people, as `weir assets show`
// and the HTTP API list them: "NAME (blocking)" or "NAME (warning)". Nil
// when it has none.
func (a *Asset) CheckLabels() []string {
	var out []string
	for _, c := range a.Checks {
		kind := "blocking"
		if c.Warn {
			kind = "warning"
		}
		out = append(out, c.Name+" ("+kind+")")
	}
	return out
}

// PartitionsPerRun returns MaxPartitionsPerRun, at least 1.
func (a *Asset) PartitionsPerRun() int64 { return int64(max(a.MaxPartitionsPerRun, 1)) }

// Dep is a dependency on another asset.
type Dep struct {
	// Asset is the upstream asset's key.
	Asset string
	// Mapping maps this asset's partitions to the upstream partitions they
	// read. Nil means partitions.DefaultMapping.
	Mapping partitions.Mapping
}

// On returns a dependency on asset with the default mapping.
func On(asset string) Dep { return Dep{Asset: asset} }

// OnMapped returns a dependency on asset through mapping m.
func OnMapped(asset string, m partitions.Mapping) Dep { return Dep{Asset: asset, Mapping: m} }

// RetryPolicy says how often and how soon a failed compute call runs again.
// Waits grow exponentially with full jitter: attempt n waits a random time in
// [0, min(MaxBackoff, InitialBackoff × 2^(n-1))).
type RetryPolicy struct {
	// MaxAttempts is the number of calls in all, the first included.
	// Defaults to 1 (no retry).
	MaxAttempts int
	// InitialBackoff caps the first wait. Defaults to 1s.
	InitialBackoff time.Duration
	// MaxBackoff caps every wait. Defaults to 1m.
	MaxBackoff time.Duration
}

// Attempts returns MaxAttempts, at least 1.
func (p RetryPolicy) Attempts() int { return max(p.MaxAttempts, 1) }

// Backoff returns the wait before the attempt after attempt number n (1 for
// the first), given a random number r in [0, 1).
func (p RetryPolicy) Backoff(n int, r float64) time.Duration {
	initial, maxb := p.InitialBackoff, p.MaxBackoff
	if initial <= 0 {
		initial = time.Second
	}
	if maxb <= 0 {
		maxb = time.Minute
	}
	ceiling := maxb
	if n-1 < 40 {
		if c := initial << (n - 1); c > 0 && c < maxb {
			ceiling = c
		}
	}
	return time.Duration(r * float64(ceiling))
}

// Check runs against an asset's staged output before promotion.
type Check struct {
	// Name identifies the check in reports. Required.
	Name string
	// Warn makes a failure a warning: recorded, promotion goes on. By
	// default a failing check blocks promotion.
	Warn bool
	// Func measures the staged files of every partition of the task
	// through staged and returns what it measured (recorded with the
	// result, e.g. "negative amounts: 0") and an error when the check fails.
	Func func(ctx context.Context, staged Staged) (value string, err error)
}

// Staged gives read access to an attempt's staged output.
type Staged interface {
	// Keys returns the partitions the attempt produced.
	Keys() []string
	// Files returns the file names staged for partition key.
	Files(key string) []string
	// Open opens a staged file.
	Open(ctx context.Context, key, name string) (io.ReadCloser, error)
}

// Input reads the current, verified version of an upstream asset's
// partitions.
type Input interface {
	// Asset returns the upstream asset's key.
	Asset() string
	// Keys returns the upstream partitions this task reads, in order.
	Keys() []string
	// Version returns the version id of partition key that the task reads.
	Version(key string) string
	// Files returns the file names of partition key, from its verified
	// manifest.
	Files(ctx context.Context, key string) ([]string, error)
	// Open opens a file of partition key. Reading it to the end checks its
	// size and SHA-256 against the manifest and fails on a mismatch.
	Open(ctx context.Context, key, name string) (io.ReadCloser, error)
}

// Output writes the partitions a task produces.
type Output interface {
	// Create starts a file of partition key. Closing it records its size
	// and SHA-256. Names are relative, without "..", like "data.parquet".
	Create(ctx context.Context, key, name string) (io.WriteCloser, error)
}

// Task is one call of an asset's compute function: the partitions it must
// produce, readers for its inputs and a writer for its output.
type Task struct {
	// Asset is the asset being computed.
	Asset *Asset
	// Keys are the partitions to produce, in order: one, or a consecutive
	// range up to the asset's MaxPartitionsPerRun.
	Keys []string
	// Range is Keys as indexes of the asset's partitions.
	Range partitions.Range
	// RunID and Attempt identify the call (Attempt is 1 for the first).
	RunID   int64
	Attempt int
	// Output receives the files.
	Output Output
	// Logger logs with the run, asset and partitions attached.
	Logger *slog.Logger

	inputs map[string]Input
}

// NewTask returns a task with the given inputs, for the scheduler and for
// tests of compute functions.
func NewTask(a *Asset, keys []string, r partitions.Range, inputs []Input, out Output) *Task {
	t := &Task{Asset: a, Keys: keys, Range: r, Output: out, Attempt: 1, Logger: slog.New(slog.DiscardHandler), inputs: map[string]Input{}}
	for _, in := range inputs {
		t.inputs[in.Asset()] = in
	}
	return t
}

// Input returns the reader of dependency dep. Reading from an asset that is
// not a dependency fails with an error naming both.
func (t *Task) Input(dep string) Input {
	if in, ok := t.inputs[dep]; ok {
		return in
	}
	return missingInput{asset: t.Asset.Key, dep: dep}
}

// Upstream returns the reader of dependency dep, or with dep "" of the
// asset's only dependency: for computes that republish one upstream (a
// sink, a format conversion). An asset with several dependencies must name
// one.
func (t *Task) Upstream(dep string) (Input, error) {
	if dep != "" {
		return t.Input(dep), nil
	}
	if len(t.Asset.Deps) != 1 {
		return nil, Permanent(fmt.Errorf("asset %s has %d dependencies; name the one it reads", t.Asset.Key, len(t.Asset.Deps)))
	}
	return t.Input(t.Asset.Deps[0].Asset), nil
}

// Window returns the time span the task's partitions cover, for time-window
// partitions; ok is false otherwise.
func (t *Task) Window() (start, end time.Time, ok bool) {
	tw, isTW := t.Asset.PartitionsDef().(partitions.Windowed)
	if !isTW {
		return time.Time{}, time.Time{}, false
	}
	start, _ = tw.Window(t.Range.Lo)
	_, end = tw.Window(t.Range.Hi - 1)
	return start, end, true
}

type missingInput struct{ asset, dep string }

func (m missingInput) err() error {
	return fmt.Errorf("asset %q reads %q, which is not one of its deps", m.asset, m.dep)
}
func (m missingInput) Asset() string                                   { return m.dep }
func (m missingInput) Keys() []string                                  { return nil }
func (m missingInput) Version(string) string                           { return "" }
func (m missingInput) Files(context.Context, string) ([]string, error) { return nil, m.err() }
func (m missingInput) Open(context.Context, string, string) (io.ReadCloser, error) {
	return nil, m.err()
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the task fails at once,
// whatever its retry policy.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
