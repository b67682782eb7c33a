package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/connectors/bucket"
	"github.com/weir-dev/weir/internal/blobtest"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
	"github.com/weir-dev/weir/verify"
)

// TestCorruptionBeforeAuditIsCaught: a byte of a staged file flips between
// compute and the audit. The audit names the file and both checksums, the
// partition is not promoted, and the previous version stays current and
// readable. On every backend.
func TestCorruptionBeforeAuditIsCaught(t *testing.T) {
	for scheme, u := range blobtest.URLs(t) {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			st, bucket := openBackend(t, u)
			var run atomic.Int32
			graph := lineage.Must(&pipelines.Asset{Key: "a", Partitions: daily,
				Compute: func(ctx context.Context, task *pipelines.Task) error {
					n := run.Load()
					w, err := task.Output.Create(ctx, task.Keys[0], "data.txt")
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "version %d", n)
					if err := w.Close(); err != nil {
						return err
					}
					if n == 2 {
						return flipStaged(ctx, bucket, "a/"+task.Keys[0]+"/")
					}
					return nil
				}})
			materialize := func(reprocess plan.Reprocess) *scheduler.Result {
				run.Add(1)
				pl, err := (&plan.Planner{Graph: graph, Status: st}).Plan(ctx, plan.Request{Selection: "a", Partitions: "2024-01-01", Reprocess: reprocess}, t0)
				if err != nil {
					t.Fatal(err)
				}
				g, _ := pl.Expand()
				res, err := (&scheduler.Executor{Store: st, Bucket: bucket}).Run(ctx, g, scheduler.RunOpts{})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			if res := materialize(plan.ReprocessMissing); res.Status != store.RunSucceeded {
				t.Fatalf("first run %+v", res)
			}
			before, _ := st.PartitionCurrentList(ctx, "a", []string{"2024-01-01"})
			res := materialize(plan.ReprocessAll)
			if res.Status != store.RunFailed || len(res.Failures) != 1 {
				t.Fatalf("corrupted run %+v", res)
			}
			msg := res.Failures[0].Err
			if !strings.HasPrefix(msg, "verify: ") || !strings.Contains(msg, "checksum mismatch") || !strings.Contains(msg, "/data.txt") || strings.Count(msg, "sha256") < 1 {
				t.Fatalf("error does not name the file and checksums: %s", msg)
			}
			after, _ := st.PartitionCurrentList(ctx, "a", []string{"2024-01-01"})
			if after[0].Version != before[0].Version {
				t.Fatalf("current version moved from %s to %s", before[0].Version, after[0].Version)
			}
			ptr, err := verify.ReadPointer(ctx, bucket, "a", "2024-01-01")
			if err != nil || ptr.Version != before[0].Version {
				t.Fatalf("pointer %+v %v", ptr, err)
			}
			in := verify.NewInput(bucket, "a", []verify.PartitionVersion{{Key: "2024-01-01", Version: after[0].Version, ManifestSHA256: after[0].ManifestSHA256}})
			r, err := in.Open(ctx, "2024-01-01", "data.txt")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if b, err := io.ReadAll(r); err != nil || string(b) != "version 1" {
				t.Fatalf("previous version reads %q, %v", b, err)
			}
		})
	}
}

// openBackend opens a SQLite store in a temp dir and the bucket at u; the
// test closes both.
func openBackend(t *testing.T, u string) (store.Store, *blob.Bucket) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := bucket.Open(context.Background(), u)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close(); st.Close() })
	return st, bucket
}

// flipStaged flips the first byte of every data file under prefix that no
// pointer references: the attempt's staged files.
func flipStaged(ctx context.Context, b *blob.Bucket, prefix string) error {
	current := ""
	if ptr, err := verify.ReadPointer(ctx, b, "a", strings.TrimSuffix(strings.TrimPrefix(prefix, "a/"), "/")); err == nil {
		current = ptr.Version
	}
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !strings.HasSuffix(obj.Key, "/data.txt") || (current != "" && strings.Contains(obj.Key, "/"+current+"/")) {
			continue
		}
		data, err := b.ReadAll(ctx, obj.Key)
		if err != nil {
			return err
		}
		data[0] ^= 0xff
		if err := b.WriteAll(ctx, obj.Key, data, nil); err != nil {
			return err
		}
	}
}

// TestCorruptInputFailsAtOnce: a promoted upstream file changes in the
// bucket. The downstream compute that reads it fails for good on its first
// attempt (no retry with backoff: the bytes stay wrong), naming the file
// and both checksums, also when the compute passes the error on without
// its type (as through DuckDB).
func TestCorruptInputFailsAtOnce(t *testing.T) {
	for _, wrap := range []struct {
		name string
		fn   func(error) error
	}{
		{"typed", func(err error) error { return fmt.Errorf("read upstream: %w", err) }},
		{"untyped", func(err error) error { return fmt.Errorf("duckdb: %v", err) }},
	} {
		t.Run(wrap.name, func(t *testing.T) {
			var downAttempts atomic.Int32
			e := newEnv(t,
				&pipelines.Asset{Key: "up", Partitions: daily, Compute: writeKey},
				&pipelines.Asset{Key: "down", Partitions: daily, Deps: []pipelines.Dep{pipelines.On("up")}, Retry: pipelines.RetryPolicy{MaxAttempts: 3},
					Compute: func(ctx context.Context, task *pipelines.Task) error {
						downAttempts.Add(1)
						if err := writeKey(ctx, task); err != nil {
							return wrap.fn(err)
						}
						return nil
					}},
			)
			ctx := context.Background()
			if res := e.run(t, plan.Request{Selection: "up", Partitions: "2024-01-01"}); res.Status != store.RunSucceeded {
				t.Fatalf("up: %+v", res)
			}
			cur, _ := e.store.PartitionCurrentList(ctx, "up", []string{"2024-01-01"})
			key := verify.VersionPrefix("up", "2024-01-01", cur[0].Version) + "data.txt"
			if err := e.bucket.WriteAll(ctx, key, []byte("up=2024-01-0X"), nil); err != nil {
				t.Fatal(err)
			}
			res := e.run(t, plan.Request{Selection: "down", Partitions: "2024-01-01"})
			if res.Status != store.RunFailed || len(res.Failures) != 1 || downAttempts.Load() != 1 || res.Failures[0].Attempts != 1 {
				t.Fatalf("run %s, failures %+v, %d computes; want one failed attempt", res.Status, res.Failures, downAttempts.Load())
			}
			msg := res.Failures[0].Err
			if !strings.Contains(msg, "corrupt input") || !strings.Contains(msg, key) || strings.Count(msg, "sha256") != 1 || strings.Count(msg, "recorded") != 1 {
				t.Fatalf("error does not name the file and both checksums: %s", msg)
			}
		})
	}
}
