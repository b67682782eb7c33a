package weircli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/partitions"
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
	// ASSET  REQUESTED  KEPT  TO RUN  TASKS
	// hello  all        0     all     1
	//
	// run 1 succeeded in 0s: 1 succeeded, 0 failed, 0 skipped (1 task, 2 attempts in compute and verify phases)
	// ASSET  SUCCEEDED  FAILED  SKIPPED
	// hello  all        -       -
	// exit 0
}

// A backfill re-runs partitions under throttles that hold across every
// worker; --wait runs it here on the embedded store.
func ExampleRun_backfill() {
	dir, _ := os.MkdirTemp("", "weir-example-")
	defer os.RemoveAll(dir)
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2023-12-01"})
	events := &pipelines.Asset{
		Key:        "events",
		Partitions: days,
		Compute: func(ctx context.Context, t *pipelines.Task) error {
			w, err := t.Output.Create(ctx, t.Keys[0], "events.txt")
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "events of", t.Keys[0])
			return w.Close()
		},
	}
	cfg := weircli.Config{
		Assets: []*pipelines.Asset{events},
		Stdout: os.Stdout,
		Stderr: os.Stdout,
		Clock:  fixedClock{},
		Getenv: func(k string) string {
			return map[string]string{
				"WEIR_STORE": "sqlite://" + filepath.Join(dir, "state.db"),
				"WEIR_BLOB":  "file://" + filepath.Join(dir, "blobs"),
				"WEIR_USER":  "oncall",
			}[k]
		},
	}
	code := weircli.Run(context.Background(), cfg, []string{"backfill", "create", "--select", "events", "--from", "2023-12-01", "--to", "2023-12-05",
		"--max-concurrent", "2", "--priority", "low", "--wait", "--progress", "none"})
	fmt.Println("exit", code)
	// Output:
	// plan: 5 tasks for 1 asset (reprocess missing)
	// ASSET   REQUESTED                KEPT  TO RUN                   TASKS
	// events  2023-12-01...2023-12-05  0     2023-12-01...2023-12-05  5
	// backfill 1 created: 5 tasks, priority low, at most 2 running
	//
	// backfill:    1
	// status:      succeeded
	// selection:   events
	// partitions:  2023-12-01...2023-12-05 (reprocess missing, oldest-first)
	// created:     2024-01-01 00:00:00Z by oncall
	// throttle:    priority low, at most 2 running
	// breaker:     off
	// progress:    5 of 5 tasks succeeded (100%), 0 running; 0 tasks/min, 0.0 starts/s
	// finished:    2024-01-01 00:00:00Z (took 0s)
	//
	// ASSET   PARTITIONS  PENDING  RUNNING  SUCCEEDED  FAILED  SKIPPED  CANCELLED  KEPT  QUEUED ELSEWHERE
	// events  5           0        0        5          0       0        0          0     0
	// exit 0
}

// Command is the command line as a cobra command: embed it in a command
// tree of your own, add commands, and name your binary; errors say its
// name and map to exit codes with ExitCode.
func ExampleCommand() {
	var out bytes.Buffer
	version := &cobra.Command{Use: "version", Short: "Print the pipelines' version", Run: func(cmd *cobra.Command, _ []string) {
		fmt.Fprintln(cmd.OutOrStdout(), "mypipes 1.4.2")
	}}
	root := weircli.Command(weircli.Config{Name: "mypipes", Commands: []*cobra.Command{version}, Stdout: &out, Stderr: &out,
		Getenv: func(string) string { return "" }})
	root.SetArgs([]string{"version"})
	err := root.ExecuteContext(context.Background())
	fmt.Print(out.String())
	fmt.Println("exit", weircli.ExitCode(err))

	root = weircli.Command(weircli.Config{Name: "mypipes", Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
	root.SetArgs([]string{"runs", "show", "x"})
	err = root.ExecuteContext(context.Background())
	fmt.Println(err)
	fmt.Println("exit", weircli.ExitCode(err))
	// Output:
	// mypipes 1.4.2
	// exit 0
	// run id "x" is not a positive whole number
	// exit 2
}
