package weircli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/pipelines"
)

// fixedClock keeps the example's output the same on every run.
type fixedClock struct{}

func (fixedClock) Now() time.Time                       { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }
func (fixedClock) After(time.Duration) <-chan time.Time { return time.After(0) }

// Your own binary gets weir's command line with your assets compiled in:
// func main() { weircli.Main(myAssets...) }. Run is the same, for tests.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "weir-example-")
	defer os.RemoveAll(dir)
	hello := &pipelines.Asset{
		Key: "hello",
		Compute: func(ctx context.Context, t *pipelines.Task) error {
			w, err := t.Output.Create(ctx, t.Keys[0], "hello.txt")
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "hello, weir")
			return w.Close()
		},
	}
	cfg := weircli.Config{
		Assets: []*pipelines.Asset{hello},
		Stdout: os.Stdout,
		Clock:  fixedClock{},
		Getenv: func(k string) string {
			return map[string]string{
				"WEIR_STORE": "sqlite://" + filepath.Join(dir, "state.db"),
				"WEIR_BLOB":  "file://" + filepath.Join(dir, "blobs"),
				"WEIR_USER":  "example",
			}[k]
		},
	}
	code := weircli.Run(context.Background(), cfg, []string{"materialize", "--select", "hello", "--quiet"})
	fmt.Println("exit", code)
	// Output:
	// plan: 1 task for 1 asset (reprocess missing)
	// ASSET  REQUESTED  FRESH  TO RUN  TASKS
	// hello  all        0      all     1
	//
	// run 1 succeeded in 0s: 1 succeeded, 0 failed, 0 skipped (1 task, 2 attempts in compute and verify phases)
	// ASSET  SUCCEEDED  FAILED  SKIPPED
	// hello  all        -       -
	// exit 0
}
