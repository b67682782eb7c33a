package scheduler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/weir-dev/weir/internal/urlredact"
	"github.com/weir-dev/weir/store"
)

// TaskLogKey is where the log of one attempt of a task is kept in the
// bucket: what the task's code logged through pipelines.Task.Logger, as
// JSON lines (log/slog's JSON form), and, for an attempt that failed, a
// last line with its error. Asset keys start with a letter or digit, so
// "_weir/" is never an asset's.
func TaskLogKey(runID, taskID int64, attempt int) string {
	return fmt.Sprintf(taskLogPrefix+"run-%d/task-%d/attempt-%d.jsonl", runID, taskID, attempt)
}

// maxTaskLog caps what one attempt keeps; what comes after is counted.
const maxTaskLog = 4 << 20

// LogFlushEvery is how often a running attempt's log is written out (when
// it grew), so that `weir tasks logs --follow` sees it from another host.
const LogFlushEvery = 2 * time.Second

// captureLog starts capturing an attempt's log: it returns the logger to
// give the task's code and done, which writes the log to the bucket (with
// err as its last line when the attempt failed).
func (w *Worker) captureLog(ctx context.Context, t *store.Task, base *slog.Logger) (*slog.Logger, func(err error)) {
	al := &attemptLog{}
	key := TaskLogKey(t.RunID, t.ID, t.Attempt)
	stop, flushed := make(chan struct{}), make(chan struct{})
	go func() { defer close(flushed); al.keepFlushing(ctx, w, key, stop) }()
	return al.logger(base, w.Clock.Now), func(err error) {
		close(stop)
		<-flushed
		if err != nil {
			al.failed(w.Clock.Now(), err)
		}
		if ferr := al.flush(context.WithoutCancel(ctx), w.Bucket, key, true); ferr != nil {
			w.Logger.Warn("write task log", "key", key, "error", ferr)
		}
	}
}

// recordFailedAttempt keeps the error of an attempt whose code did not
// run (a verify attempt) as its log.
func (w *Worker) recordFailedAttempt(ctx context.Context, t *store.Task, err error) {
	al := &attemptLog{}
	al.failed(w.Clock.Now(), err)
	if ferr := al.flush(context.WithoutCancel(ctx), w.Bucket, TaskLogKey(t.RunID, t.ID, t.Attempt), true); ferr != nil {
		w.Logger.Warn("write task log", "task", t.ID, "error", ferr)
	}
}

// attemptLog collects one attempt's log lines.
type attemptLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
	written int // bytes of buf already in the bucket
}

func (l *attemptLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > maxTaskLog {
		l.dropped++
		return len(p), nil
	}
	return l.buf.Write(p)
}

// logger returns a logger that writes to base and to l, l's lines timed
// by now (the worker's clock).
func (l *attemptLog) logger(base *slog.Logger, now func() time.Time) *slog.Logger {
	kept := slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		switch {
		case len(groups) == 0 && a.Key == slog.TimeKey:
			a.Value = slog.TimeValue(now().UTC())
		case a.Value.Kind() == slog.KindString:
			a.Value = slog.StringValue(urlredact.Text(a.Value.String())) // passwords in URLs
		}
		return a
	}})
	return slog.New(slog.NewMultiHandler(base.Handler(), kept))
}

// failed appends the attempt's error as its last line.
func (l *attemptLog) failed(at time.Time, err error) {
	line, _ := json.Marshal(map[string]any{"time": at.UTC(), "level": "ERROR", "msg": "attempt failed", "error": urlredact.Text(err.Error())})
	l.Write(append(line, '\n'))
}

// flush writes the log to key if it grew since it was last written (or
// always, if final and anything was logged).
func (l *attemptLog) flush(ctx context.Context, bucket *blob.Bucket, key string, final bool) error {
	l.mu.Lock()
	data := bytes.Clone(l.buf.Bytes())
	dropped := l.dropped
	grown := len(data) > l.written
	l.mu.Unlock()
	if !grown && !(final && dropped > 0) {
		return nil
	}
	if final && dropped > 0 {
		line, _ := json.Marshal(map[string]any{"level": "WARN", "msg": fmt.Sprintf("%d more log lines dropped: an attempt keeps %d MiB", dropped, maxTaskLog>>20)})
		data = append(append(data, line...), '\n')
	}
	if err := bucket.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: "application/x-ndjson"}); err != nil {
		return err
	}
	l.mu.Lock()
	l.written = len(data)
	l.mu.Unlock()
	return nil
}

// keepFlushing writes the log every LogFlushEvery until stop is closed
// (on the process's timer, not the injected clock: it is not the task's
// time, and tests that wait for a worker to sleep must not see it).
func (l *attemptLog) keepFlushing(ctx context.Context, w *Worker, key string, stop <-chan struct{}) {
	tick := time.NewTicker(LogFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if err := l.flush(ctx, w.Bucket, key, false); err != nil && ctx.Err() == nil {
				w.Logger.Warn("write task log", "key", key, "error", err)
			}
		}
	}
}

// LogLine is one line of a task attempt's log.
type LogLine struct {
	Time    time.Time      `json:"time"`
	Level   string         `json:"level"`
	Message string         `json:"msg"`
	Attrs   map[string]any `json:"attrs,omitempty"`
}

// ReadTaskLog reads an attempt's log from the bucket, from byte offset on
// (for following a log as it grows). It returns the lines and the offset
// after the last whole line; ok is false when the attempt has no log (it
// logged nothing, or has not flushed yet).
func ReadTaskLog(ctx context.Context, bucket *blob.Bucket, runID, taskID int64, attempt int, offset int64) (lines []LogLine, next int64, ok bool, err error) {
	data, err := bucket.ReadAll(ctx, TaskLogKey(runID, taskID, attempt))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, offset, false, nil
	}
	if err != nil {
		return nil, offset, false, fmt.Errorf("read the log of task %d attempt %d: %w", taskID, attempt, err)
	}
	if offset > int64(len(data)) {
		offset = 0 // rewritten shorter: never, but do not fail on it
	}
	r := bufio.NewReader(bytes.NewReader(data[offset:]))
	next = offset
	for {
		raw, err := r.ReadBytes('\n')
		if err == io.EOF {
			break // a line without its newline is still being written
		}
		next += int64(len(raw))
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			lines = append(lines, LogLine{Level: "INFO", Message: string(bytes.TrimSpace(raw))})
			continue
		}
		l := LogLine{}
		if s, ok := m["time"].(string); ok {
			l.Time, _ = time.Parse(time.RFC3339Nano, s)
		}
		l.Level, _ = m["level"].(string)
		l.Message, _ = m["msg"].(string)
		delete(m, "time")
		delete(m, "level")
		delete(m, "msg")
		if len(m) > 0 {
			l.Attrs = m
		}
		lines = append(lines, l)
	}
	return lines, next, true, nil
}

// taskLogPrefix is where task logs live in the bucket.
const taskLogPrefix = "_weir/logs/"

// TaskLogs are the task logs of one run, as garbage collection finds them.
type TaskLogs struct {
	RunID int64 `json:"run_id"`
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	keys  []string
}

// TaskLogGarbage finds the task logs of runs that ended before before,
// and of runs the store no longer has; logs of runs not ended are kept
// (a task may still be writing). Runs come in id order.
func TaskLogGarbage(ctx context.Context, bucket *blob.Bucket, st store.Queue, before time.Time) ([]TaskLogs, error) {
	it := bucket.List(&blob.ListOptions{Prefix: taskLogPrefix, Delimiter: "/"})
	var out []TaskLogs
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list task logs: %w", err)
		}
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(obj.Key, taskLogPrefix+"run-"), "/"), 10, 64)
		if !obj.IsDir || err != nil {
			continue // not weir's: left alone
		}
		run, err := st.RunGet(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		case run.FinishedAt.IsZero() || !run.FinishedAt.Before(before):
			continue
		}
		logs := TaskLogs{RunID: id}
		files := bucket.List(&blob.ListOptions{Prefix: obj.Key})
		for {
			f, err := files.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("list the task logs of run %d: %w", id, err)
			}
			logs.Files++
			logs.Bytes += f.Size
			logs.keys = append(logs.keys, f.Key)
		}
		out = append(out, logs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RunID < out[j].RunID })
	return out, nil
}

// Delete deletes the logs (one already gone is no error).
func (l TaskLogs) Delete(ctx context.Context, bucket *blob.Bucket) error {
	for _, k := range l.keys {
		if err := bucket.Delete(ctx, k); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("delete task log %s: %w", k, err)
		}
	}
	return nil
}
