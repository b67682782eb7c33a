package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
)

// TestBatcherCommitsWaitingTasksTogether: three running tasks ask for a
// commit; it happens once, when all three wait (the gate closes), with
// each caller getting its own result. A lone task afterwards commits
// alone, at once.
func TestBatcherCommitsWaitingTasksTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{}
		var sizes []int
		b := newBatcher(g, "test", func(_ context.Context, reqs []int) ([]string, error) {
			sizes = append(sizes, len(reqs))
			out := make([]string, len(reqs))
			for i, r := range reqs {
				out[i] = fmt.Sprint("done ", r)
			}
			return out, nil
		})
		ctx, cancel := context.WithCancel(t.Context())
		var loop sync.WaitGroup
		loop.Go(func() { b.run(ctx) })

		g.add(3) // three tasks run
		var wg sync.WaitGroup
		got := make([]string, 3)
		for i := range 3 {
			wg.Go(func() {
				res, err := b.do(i)
				if err != nil {
					t.Error(err)
				}
				got[i] = res
				g.add(-1) // the task ends
			})
		}
		wg.Wait()
		if fmt.Sprint(sizes) != "[3]" || fmt.Sprint(got) != "[done 0 done 1 done 2]" {
			t.Fatalf("batches %v, results %q; want one batch of 3", sizes, got)
		}

		g.add(1)
		if res, err := b.do(7); err != nil || res != "done 7" {
			t.Fatalf("lone task: %q %v", res, err)
		}
		g.add(-1)
		if fmt.Sprint(sizes) != "[3 1]" {
			t.Fatalf("batches %v; want [3 1]", sizes)
		}

		cancel()
		loop.Wait()
		if _, err := b.do(8); !errors.Is(err, errCommitterStopped) {
			t.Fatalf("after stop: %v", err)
		}
	})
}

// TestBatcherLingersForBusyTasks: while another task still computes, a
// commit waits for it at most linger, then goes alone.
func TestBatcherLingersForBusyTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{}
		var sizes []int
		fail := errors.New("database gone")
		b := newBatcher(g, "test", func(_ context.Context, reqs []int) ([]int, error) {
			sizes = append(sizes, len(reqs))
			return nil, fail
		})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go b.run(ctx)
		g.add(2) // one task commits, the other computes on
		if _, err := b.do(1); !errors.Is(err, fail) {
			t.Fatalf("a failed commit's callers get its error: %v", err)
		}
		if fmt.Sprint(sizes) != "[1]" {
			t.Fatalf("batches %v", sizes)
		}
	})
}
