package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// BenchmarkLeaseBatch measures the queue's statements alone: lease a batch
// of tasks, then finish each, fenced, until the run is done. One op is one
// task; the batch sizes are sub-benchmarks.
func BenchmarkLeaseBatch(b *testing.B, open func(b *testing.B) store.Store) {
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := open(b)
			defer s.Close()
			var tasks []store.TaskInsertParams
			for i := 0; i < b.N; i++ {
				tasks = append(tasks, store.TaskInsertParams{Asset: "a", PartitionFirst: "k", PartitionLast: "k", PartitionCount: 1, MaxAttempts: 1, Pool: "default", Rank: int64(i)})
			}
			p := store.RunInsertParams{Kind: "bench", Selection: "*", CreatedAt: t0, Tasks: slices.Values(tasks)}
			if _, _, err := s.RunInsert(ctx, p); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for done := 0; done < b.N; {
				lr, err := s.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "bench", Limit: size, Now: t0, LeaseFor: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				got := lr.Tasks
				for _, tk := range got {
					if _, err := s.TaskFinish(ctx, store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: store.TaskSucceeded, At: t0}); err != nil {
						b.Fatal(err)
					}
				}
				done += len(got)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}
