package scheduler_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestTaskLogGarbage: the logs of runs that ended before the cut-off, and
// of runs the store does not have, are garbage; those of a run that ended
// later, of a run not ended, and objects not weir's are kept.
func TestTaskLogGarbage(t *testing.T) {
	ctx := context.Background()
	logging := func(ctx context.Context, task *pipelines.Task) error {
		task.Logger.Info("working")
		return writeKey(ctx, task)
	}
	e := newEnv(t, &pipelines.Asset{Key: "a", Partitions: daily, Compute: logging})
	old := e.run(t, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-02"})
	e.clock.Advance(48 * time.Hour)
	recent := e.run(t, plan.Request{Selection: "*", Partitions: "2024-01-03"})
	pl, _ := (&plan.Planner{Graph: e.graph, Status: e.store}).Plan(ctx, plan.Request{Selection: "*", Partitions: "2024-01-04"}, e.clock.Now())
	tg, _ := pl.Expand()
	queued, _, err := scheduler.Enqueue(ctx, e.store, tg, scheduler.EnqueueOpts{Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{scheduler.TaskLogKey(queued.ID, 99, 1), scheduler.TaskLogKey(404, 1, 1), "_weir/logs/notes.txt", "_weir/logs/run-x/a"} {
		if err := e.bucket.WriteAll(ctx, key, []byte("{}\n"), nil); err != nil {
			t.Fatal(err)
		}
	}
	garbage, err := scheduler.TaskLogGarbage(ctx, e.bucket, e.store, e.clock.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(garbage) != 2 || garbage[0].RunID != old.RunID || garbage[0].Files != 2 || garbage[1].RunID != 404 || garbage[1].Files != 1 {
		t.Fatalf("garbage %+v (runs: old %d, recent %d, queued %d)", garbage, old.RunID, recent.RunID, queued.ID)
	}
	for _, g := range garbage {
		if err := g.Delete(ctx, e.bucket); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string]bool{
		scheduler.TaskLogKey(old.RunID, 1, 1): false, scheduler.TaskLogKey(404, 1, 1): false,
		scheduler.TaskLogKey(recent.RunID, 3, 1): true, scheduler.TaskLogKey(queued.ID, 99, 1): true,
		"_weir/logs/notes.txt": true, "_weir/logs/run-x/a": true,
	} {
		if ok, _ := e.bucket.Exists(ctx, key); ok != want {
			t.Errorf("%s exists: %v, want %v", key, ok, want)
		}
	}
}
