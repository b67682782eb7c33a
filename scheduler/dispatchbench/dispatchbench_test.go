package dispatchbench_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/weir-dev/weir/scheduler/dispatchbench"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

func TestBenchDispatchRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.db")
	res, err := dispatchbench.Run(context.Background(), dispatchbench.Opts{
		Open:  func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, path) },
		Tasks: 200, Workers: 2, Concurrency: 4, Chain: 5, Now: time.Unix(0, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Handoffs) != 4 || res.Complete <= 0 || res.Enqueue <= 0 {
		t.Fatalf("result %+v", res)
	}
	t.Log(res)
}
