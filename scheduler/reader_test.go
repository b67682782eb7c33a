package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/internal/blobtest"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
)

// TestReadersSeeOnlyWholeVerifiedVersions: while a partition is
// re-materialized and promoted again and again, a reader that follows the
// published layout (pointer, manifest, files) only ever sees one complete,
// checksum-valid version: its files all come from the same run.
func TestReadersSeeOnlyWholeVerifiedVersions(t *testing.T) {
	for scheme, u := range blobtest.URLs(t) {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			st, bucket := openBackend(t, u)
			var gen atomic.Int32
			graph := lineage.Must(&pipelines.Asset{Key: "a", Partitions: daily,
				Compute: func(ctx context.Context, task *pipelines.Task) error {
					n := gen.Add(1)
					for _, name := range []string{"part-1.txt", "part-2.txt", "part-3.txt"} {
						w, err := task.Output.Create(ctx, task.Keys[0], name)
						if err != nil {
							return err
						}
						fmt.Fprintf(w, "generation %d %s", n, strings.Repeat("x", 4096))
						if err := w.Close(); err != nil {
							return err
						}
					}
					return nil
				}})
			done := make(chan struct{})
			var reads atomic.Int64
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					gens, err := readPublished(ctx, bucket)
					if errors.Is(err, verify.ErrMissing) {
						continue // nothing published yet
					}
					if err != nil {
						t.Errorf("reader: %v", err)
						return
					}
					if gens[0] != gens[1] || gens[1] != gens[2] {
						t.Errorf("reader saw a mix of versions: %v", gens)
						return
					}
					reads.Add(1)
				}
			})
			for i := 0; i < 15; i++ {
				pl, err := (&plan.Planner{Graph: graph, Status: st}).Plan(ctx, plan.Request{Selection: "a", Partitions: "2024-01-01", Reprocess: plan.ReprocessAll}, t0)
				if err != nil {
					t.Fatal(err)
				}
				g, _ := pl.Expand()
				if res, err := (&scheduler.Executor{Store: st, Bucket: bucket}).Run(ctx, g, scheduler.RunOpts{}); err != nil || res.Status != store.RunSucceeded {
					t.Fatalf("run %d: %+v %v", i, res, err)
				}
			}
			// One more read after the last promotion, then stop.
			for reads.Load() == 0 {
				if _, err := readPublished(ctx, bucket); err != nil && !errors.Is(err, verify.ErrMissing) {
					t.Fatal(err)
				}
				reads.Add(1)
			}
			close(done)
			wg.Wait()
			t.Logf("%d whole reads during 15 promotions", reads.Load())
		})
	}
}

// readPublished reads partition 2024-01-01 of "a" as a reader outside weir
// does, and returns the generation each file holds.
func readPublished(ctx context.Context, b *blob.Bucket) ([]string, error) {
	ptr, err := verify.ReadPointer(ctx, b, "a", "2024-01-01")
	if err != nil {
		return nil, err
	}
	in := verify.NewInput(b, "a", []verify.PartitionVersion{{Key: "2024-01-01", Version: ptr.Version, ManifestSHA256: ptr.ManifestSHA256}})
	var gens []string
	for _, name := range []string{"part-1.txt", "part-2.txt", "part-3.txt"} {
		r, err := in.Open(ctx, "2024-01-01", name)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, err
		}
		gen, _, _ := strings.Cut(strings.TrimPrefix(string(data), "generation "), " ")
		gens = append(gens, gen)
	}
	return gens, nil
}
