package scheduler_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// TestTaskLogsKeptPerAttempt: what a task's code logs, and the error of an
// attempt that failed, are kept per attempt in the bucket; an attempt
// that logged nothing has no log.
func TestTaskLogsKeptPerAttempt(t *testing.T) {
	var calls atomic.Int32
	noisy := func(ctx context.Context, task *pipelines.Task) error {
		n := calls.Add(1)
		task.Logger.Info("reading orders", "rows", 3*n)
		if n == 1 {
			task.Logger.Warn("upstream slow")
			return errors.New("transient: connection reset")
		}
		return writeKey(ctx, task)
	}
	e := newEnv(t, &pipelines.Asset{Key: "noisy", Partitions: daily, Compute: noisy, Retry: pipelines.RetryPolicy{MaxAttempts: 2}})
	res := e.run(t, plan.Request{Selection: "*", Partitions: "2024-01-02"})
	if res.Status != store.RunSucceeded {
		t.Fatalf("result %+v", res)
	}
	ctx := context.Background()
	tasks, err := e.store.TaskList(ctx, store.TaskListParams{RunID: res.RunID})
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks %v %v", tasks, err)
	}
	_, attempts, err := e.store.TaskGet(ctx, tasks[0].ID)
	if err != nil || len(attempts) != 3 {
		t.Fatalf("attempts %+v %v", attempts, err)
	}
	var got []string
	for _, a := range attempts {
		lines, _, ok, err := scheduler.ReadTaskLog(ctx, e.bucket, res.RunID, a.TaskID, a.Attempt, 0)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(l.Level + " " + l.Message)
			if rows, ok := l.Attrs["rows"]; ok {
				b.WriteString(" rows=" + jsonNumber(rows))
			}
			if e, ok := l.Attrs["error"].(string); ok {
				b.WriteString(": " + e)
			}
			b.WriteString("; ")
		}
		got = append(got, a.Phase+" "+string(a.State)+" ok="+map[bool]string{true: "yes", false: "no"}[ok]+": "+b.String())
	}
	want := []string{
		"compute failed ok=yes: INFO reading orders rows=3; WARN upstream slow; ERROR attempt failed: compute: transient: connection reset; ",
		"compute succeeded ok=yes: INFO reading orders rows=6; ",
		"verify succeeded ok=no: ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("logs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func jsonNumber(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return "?"
}
