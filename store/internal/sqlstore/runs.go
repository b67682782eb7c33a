package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/weir-dev/weir/store"
)

// analyzeAfter is the size of a run after whose insert the dialect's
// Analyze runs.
const analyzeAfter = 5000

var taskInsertColumns = []string{"id", "run_id", "asset", "partition_first", "partition_last", "partition_count", "state",
	"max_attempts", "base_attempts", "pool", "priority", "rank", "waiting", "dependents"}

// RunInsert stores the run and its tasks in one transaction, streaming the
// tasks in batches.
func (s *Store) RunInsert(ctx context.Context, p store.RunInsertParams) (*store.Run, int64, error) {
	assets, err := json.Marshal(p.Assets)
	if err != nil {
		return nil, 0, err
	}
	if p.Order == "" {
		p.Order = "oldest-first"
	}
	var runID, first, count int64
	err = s.txConn(ctx, func(conn *sql.Conn, tx *sql.Tx) error {
		if s.d.RunInsertLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.RunInsertLock); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO runs (kind, selection, assets, partitions, reprocess, status, created_by, created_at,
				priority, task_order, pool, max_concurrent, rate_per_sec, breaker_max_failure_rate, breaker_min_tasks, breaker_max_consecutive, plan)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			p.Kind, p.Selection, string(assets), p.Partitions, p.Reprocess, store.RunRunning, p.CreatedBy, s.t(p.CreatedAt),
			p.Priority, p.Order, p.Pool, p.Throttle.MaxConcurrent, p.Throttle.RatePerSec,
			p.Breaker.MaxFailureRate, p.Breaker.MinTasks, p.Breaker.MaxConsecutive, p.Plan).Scan(&runID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM tasks`).Scan(&first); err != nil {
			return err
		}
		next := first
		waitsFor := map[int64][]int64{} // task of another run -> tasks of this run reading it
		c := newCounts()
		rows := func(yield func([]any) bool) {
			if p.Tasks == nil {
				return
			}
			row := make([]any, 0, len(taskInsertColumns)) // the loader copies each row's values out
			for t := range p.Tasks {
				pool := t.Pool
				if p.Pool != "" {
					pool = p.Pool
				}
				attempts := max(t.MaxAttempts, 1)
				for _, ext := range t.WaitsFor {
					waitsFor[ext] = append(waitsFor[ext], next)
				}
				c.add(runID, t.Asset, store.TaskPending, 1, t.PartitionCount)
				row = append(row[:0], next, runID, t.Asset, t.PartitionFirst, t.PartitionLast, t.PartitionCount, string(store.TaskPending),
					attempts, attempts, pool, p.Priority+t.Priority, t.Rank, t.Waiting, store.EncodeDependents(first, t.Dependents))
				next++
				if !yield(row) {
					return
				}
			}
		}
		pull, stop := iter.Pull(rows)
		defer stop()
		err := conn.Raw(func(dc any) error {
			_, err := s.d.CopyFrom(ctx, dc, "tasks", taskInsertColumns, func() ([]any, bool) { return pull() })
			return err
		})
		if err != nil {
			return err
		}
		count = next - first
		if count > 0 {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET first_task_id = ?, last_task_id = ? WHERE id = ?`), first, next-1, runID); err != nil {
				return err
			}
		}
		if err := s.saveCounts(ctx, tx, c); err != nil {
			return err
		}
		runs, err := s.waitForOtherRuns(ctx, tx, waitsFor)
		if err != nil {
			return err
		}
		if len(runs) > 0 {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET waits_for = ? WHERE id = ?`), store.EncodeIDs(runs), runID); err != nil {
				return err
			}
		}
		if p.Sensor != nil {
			if err := s.sensorTick(ctx, tx, *p.Sensor, runID); err != nil {
				return err
			}
		}
		if len(p.Ticks) > 0 {
			n, err := s.insertTicks(ctx, tx, p.Ticks, runID)
			if err != nil {
				return err
			}
			if n < int64(len(p.Ticks)) {
				return fmt.Errorf("%w: a tick of schedule %s from %s on", store.ErrTickExists, p.Ticks[0].Schedule, p.Ticks[0].ScheduledAt.UTC().Format(time.RFC3339))
			}
		}
		if err := s.event(ctx, tx, runID, p.CreatedAt, "created", p.CreatedBy, fmt.Sprintf("%d tasks", next-first)); err != nil {
			return err
		}
		return s.notify(ctx, tx)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("insert run: %w", err)
	}
	if n := count; n >= analyzeAfter && s.d.Analyze != "" {
		if _, err := s.db.ExecContext(ctx, s.d.Analyze); err != nil {
			return nil, 0, fmt.Errorf("insert run: analyze after %d tasks: %w", n, s.mapErr(err))
		}
	}
	s.waker.Notify()
	run, err := s.RunGet(ctx, runID)
	return run, first, err
}

// waitForOtherRuns makes tasks of the new run dependents of the tasks of
// other runs they read, where those are still pending or running, and
// returns those runs. The update locks the other task's row, so a worker
// finishing it either commits first (and it is seen succeeded) or sees the
// new dependents.
func (s *Store) waitForOtherRuns(ctx context.Context, tx *sql.Tx, waitsFor map[int64][]int64) ([]int64, error) {
	exts := make([]int64, 0, len(waitsFor))
	for ext := range waitsFor {
		exts = append(exts, ext)
	}
	slices.Sort(exts) // lock in id order
	var runs []int64
	for _, ext := range exts {
		ids := waitsFor[ext]
		slices.Sort(ids)
		ids = slices.Compact(ids)
		enc := store.EncodeIDs(ids)
		var got int64
		var extRun int64
		err := tx.QueryRowContext(ctx, s.q(`UPDATE tasks SET dependents = CASE WHEN dependents = '' THEN ? ELSE dependents || ',' || ? END
			WHERE id = ? AND state IN ('pending', 'running') RETURNING id, run_id`), enc, enc, ext).Scan(&got, &extRun)
		if errors.Is(err, sql.ErrNoRows) {
			var state store.TaskState
			var runID int64
			if err := tx.QueryRowContext(ctx, s.q(`SELECT state, run_id FROM tasks WHERE id = ?`), ext).Scan(&state, &runID); err != nil {
				return nil, fmt.Errorf("task %d of another run: %w", ext, err)
			}
			if state == store.TaskSucceeded {
				continue
			}
			return nil, fmt.Errorf("task %d of run %d, whose partitions this run reads, ended %s while the run was being stored; plan again", ext, runID, state)
		}
		if err != nil {
			return nil, err
		}
		runs = append(runs, extRun)
		for _, r := range idRanges(ids) {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE tasks SET waiting = waiting + 1 WHERE id BETWEEN ? AND ?`), r.Lo, r.Hi); err != nil {
				return nil, err
			}
		}
	}
	return dedup(runs), nil
}

func idRanges(ids []int64) []store.IDRange {
	var out []store.IDRange
	for _, id := range ids {
		if n := len(out); n > 0 && out[n-1].Hi+1 == id {
			out[n-1].Hi = id
			continue
		}
		out = append(out, store.IDRange{Lo: id, Hi: id})
	}
	return out
}

// event appends to a run's audit trail.
func (s *Store) event(ctx context.Context, tx *sql.Tx, runID int64, at time.Time, kind, actor, detail string) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO run_events (run_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)`), runID, s.t(at), kind, actor, detail)
	return err
}

// RunFinish records the run's end.
func (s *Store) RunFinish(ctx context.Context, p store.RunFinishParams) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?`), p.Status, p.Error, s.t(p.FinishedAt), p.ID)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", p.ID, s.mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish run %d: %w", p.ID, store.ErrNotFound)
	}
	return nil
}

const runColumns = `id, kind, selection, assets, partitions, reprocess, status, created_by, created_at, finished_at, error,
	priority, task_order, pool, max_concurrent, rate_per_sec, breaker_max_failure_rate, breaker_min_tasks, breaker_max_consecutive,
	breaker_finished, breaker_failed, breaker_consecutive, trip_reason, plan, waits_for`

func scanRun(row scanner) (*store.Run, error) {
	var r store.Run
	var assets, waitsFor string
	var created, finished dbTime
	if err := row.Scan(&r.ID, &r.Kind, &r.Selection, &assets, &r.Partitions, &r.Reprocess, &r.Status, &r.CreatedBy, &created, &finished, &r.Error,
		&r.Priority, &r.Order, &r.Pool, &r.Throttle.MaxConcurrent, &r.Throttle.RatePerSec, &r.Breaker.MaxFailureRate, &r.Breaker.MinTasks,
		&r.Breaker.MaxConsecutive, &r.BreakerFinished, &r.BreakerFailed, &r.BreakerConsecutive, &r.TripReason, &r.Plan, &waitsFor); err != nil {
		return nil, err
	}
	ranges, err := store.DecodeDependents(waitsFor)
	if err != nil {
		return nil, fmt.Errorf("run %d: waits_for column: %w", r.ID, err)
	}
	for _, rg := range ranges {
		for id := rg.Lo; id <= rg.Hi; id++ {
			r.WaitsFor = append(r.WaitsFor, id)
		}
	}
	if err := json.Unmarshal([]byte(assets), &r.Assets); err != nil {
		return nil, fmt.Errorf("run %d: assets column: %w", r.ID, err)
	}
	r.CreatedAt, r.FinishedAt = created.t, finished.t
	r.Tasks = map[store.TaskState]int64{}
	return &r, nil
}

// RunGet returns one run with its task counts.
func (s *Store) RunGet(ctx context.Context, id int64) (*store.Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, s.q(`SELECT `+runColumns+` FROM runs WHERE id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("get run %d: %w", id, s.mapErr(err))
	}
	if err := s.countTasks(ctx, map[int64]*store.Run{id: r}); err != nil {
		return nil, err
	}
	return r, nil
}

// RunList returns runs, newest first.
func (s *Store) RunList(ctx context.Context, p store.RunListParams) ([]*store.Run, error) {
	limit := p.Limit
	if limit == 0 {
		limit = 50
	}
	var where []string
	args := []any{}
	if p.Kind != "" {
		where = append(where, `kind = ?`)
		args = append(args, p.Kind)
	}
	if len(p.Status) > 0 {
		where = append(where, `status IN (?`+strings.Repeat(`, ?`, len(p.Status)-1)+`)`)
		for _, st := range p.Status {
			args = append(args, string(st))
		}
	}
	if !p.FinishedSince.IsZero() {
		where = append(where, `finished_at >= ?`)
		args = append(args, s.t(p.FinishedSince))
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", s.mapErr(err))
	}
	defer rows.Close()
	var runs []*store.Run
	byID := map[int64]*store.Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
		byID[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", s.mapErr(err))
	}
	rows.Close()
	return runs, s.countTasks(ctx, byID)
}

func (s *Store) countTasks(ctx context.Context, runs map[int64]*store.Run) error {
	if len(runs) == 0 {
		return nil
	}
	var lo, hi int64 = 1 << 62, 0
	for id := range runs {
		lo, hi = min(lo, id), max(hi, id)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT run_id, state, sum(tasks) FROM run_counts WHERE run_id BETWEEN ? AND ? GROUP BY run_id, state`), lo, hi)
	if err != nil {
		return fmt.Errorf("count tasks: %w", s.mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		var state store.TaskState
		if err := rows.Scan(&id, &state, &n); err != nil {
			return err
		}
		if r, ok := runs[id]; ok && n != 0 {
			r.Tasks[state] = n
		}
	}
	return s.mapErr(rows.Err())
}

// lockRun reads a run's status under its row lock.
func (s *Store) lockRun(ctx context.Context, tx *sql.Tx, id int64) (store.RunStatus, error) {
	var status store.RunStatus
	err := tx.QueryRowContext(ctx, s.q(`SELECT status FROM runs WHERE id = ?`+s.d.ForUpdate), id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("run %d: %w", id, store.ErrNotFound)
	}
	return status, err
}

// RunSetStatus pauses or resumes a run.
func (s *Store) RunSetStatus(ctx context.Context, p store.RunSetStatusParams) (*store.Run, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		status, err := s.lockRun(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		switch {
		case p.To == store.RunPaused && status == store.RunRunning:
			_, err = tx.ExecContext(ctx, s.q(`UPDATE runs SET status = 'paused' WHERE id = ?`), p.ID)
			if err == nil {
				err = s.event(ctx, tx, p.ID, p.At, "paused", p.Actor, p.Reason)
			}
			return err
		case p.To == store.RunRunning && (status == store.RunPaused || status == store.RunTripped):
			// The breaker counts afresh: the operator judged the cause.
			_, err = tx.ExecContext(ctx, s.q(`UPDATE runs SET status = 'running', breaker_finished = 0, breaker_failed = 0, breaker_consecutive = 0
				WHERE id = ?`), p.ID)
			if err == nil {
				err = s.event(ctx, tx, p.ID, p.At, "resumed", p.Actor, fmt.Sprintf("was %s", status))
			}
			if err == nil {
				err = s.notify(ctx, tx)
			}
			return err
		case p.To == status:
			return nil // already there
		case p.To != store.RunPaused && p.To != store.RunRunning:
			return fmt.Errorf("run %d: status %q cannot be set directly (pause or resume only)", p.ID, p.To)
		}
		verb := map[store.RunStatus]string{store.RunPaused: "pause", store.RunRunning: "resume"}[p.To]
		return fmt.Errorf("run %d is %s; only a running run can be paused and only a paused or tripped one resumed, cannot %s it: %w",
			p.ID, status, verb, store.ErrRunState)
	})
	if err != nil {
		return nil, fmt.Errorf("set status of run %d: %w", p.ID, err)
	}
	s.waker.Notify()
	return s.RunGet(ctx, p.ID)
}

// RunCancel cancels a run's pending and running tasks and the run.
func (s *Store) RunCancel(ctx context.Context, p store.RunCancelParams) (*store.RunCancelResult, error) {
	res := &store.RunCancelResult{}
	var touched []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		*res, touched = store.RunCancelResult{}, nil
		status, err := s.lockRun(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if !status.Active() {
			return fmt.Errorf("run %d is %s already; only a running, paused or tripped run can be cancelled: %w", p.ID, status, store.ErrRunState)
		}
		reason := "cancelled by " + p.Actor
		if p.Reason != "" {
			reason += ": " + p.Reason
		}
		lo, hi, err := s.taskRange(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		// The counters move by what each UPDATE changed, not by a count
		// read before it: a task that a worker finishes or leases in
		// between is then neither counted twice nor missed. Pending first:
		// a task leased after that UPDATE is running for the next one.
		c := newCounts()
		var outside []store.IDRange
		for _, from := range []store.TaskState{store.TaskPending, store.TaskRunning} {
			rows, err := tx.QueryContext(ctx, s.q(`UPDATE tasks SET state = 'cancelled', lease_token = lease_token + 1, lease_expires_at = NULL,
					error = ?, finished_at = ?
				WHERE run_id = ? AND state = ? RETURNING asset, partition_count, dependents`), reason, s.t(p.At), p.ID, from)
			if err != nil {
				return err
			}
			var n int64
			for rows.Next() {
				var asset, deps string
				var parts int64
				if err := rows.Scan(&asset, &parts, &deps); err != nil {
					rows.Close()
					return err
				}
				n++
				c.add(p.ID, asset, from, -1, -parts)
				c.add(p.ID, asset, store.TaskCancelled, 1, parts)
				// Only dependents outside the run matter: its own are
				// cancelled.
				ranges, err := store.DecodeDependents(deps)
				if err != nil {
					rows.Close()
					return err
				}
				for _, r := range ranges {
					if r.Hi > hi || r.Lo < lo {
						outside = append(outside, r)
					}
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if from == store.TaskPending {
				res.Pending = n
			} else {
				res.Interrupted = n
			}
		}
		// The interrupted attempts end cancelled; the tasks' tokens moved
		// on, so their heartbeats, finishes and promotions are refused
		// (ErrLeaseLost). (Only this cancel makes a task cancelled.)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE task_attempts SET state = 'cancelled', error = ?, finished_at = ?, unpromoted = TRUE
			WHERE finished_at IS NULL AND task_id IN (SELECT id FROM tasks WHERE run_id = ? AND state = 'cancelled')`), reason, s.t(p.At), p.ID); err != nil {
			return err
		}
		// Tasks of other runs that waited for a cancelled one never run.
		res.Skipped, err = s.skipDownstream(ctx, tx, fmt.Sprintf("not run: the run it waited for (%d) was cancelled", p.ID), outside, p.At)
		if err != nil {
			return err
		}
		for _, t := range res.Skipped {
			touched = append(touched, t.RunID)
			c.move(t, store.TaskPending)
		}
		if err := s.saveCounts(ctx, tx, c); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET status = 'cancelled', error = ?, finished_at = ? WHERE id = ?`), reason, s.t(p.At), p.ID); err != nil {
			return err
		}
		detail := fmt.Sprintf("%d pending tasks cancelled, %d running interrupted", res.Pending, res.Interrupted)
		if p.Reason != "" {
			detail += "; " + p.Reason
		}
		return s.event(ctx, tx, p.ID, p.At, "cancelled", p.Actor, detail)
	})
	if err != nil {
		return nil, fmt.Errorf("cancel run %d: %w", p.ID, err)
	}
	s.waker.Notify()
	for _, runID := range dedup(touched) {
		if _, err := s.finishRunIfDone(ctx, runID, p.At); err != nil {
			return res, fmt.Errorf("cancel run %d: %w", p.ID, err)
		}
	}
	return res, nil
}

func dedup(ids []int64) []int64 {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// RunRetryFailed re-queues a run's failed and skipped tasks.
func (s *Store) RunRetryFailed(ctx context.Context, p store.RunRetryFailedParams) (*store.RunRetryResult, error) {
	res := &store.RunRetryResult{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		*res = store.RunRetryResult{}
		status, err := s.lockRun(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if status == store.RunCancelled || status == store.RunRunning || status == store.RunPaused {
			return fmt.Errorf("run %d is %s; retry re-queues the failed tasks of a finished or tripped run: %w", p.ID, status, store.ErrRunState)
		}
		// The counters move by what each UPDATE changed (a tripped run's
		// running tasks may fail meanwhile; see RunCancel).
		c := newCounts()
		requeue := func(from store.TaskState, q string, args ...any) (int64, error) {
			rows, err := tx.QueryContext(ctx, s.q(q+` RETURNING asset, partition_count`), args...)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			var n int64
			for rows.Next() {
				var asset string
				var parts int64
				if err := rows.Scan(&asset, &parts); err != nil {
					return 0, err
				}
				n++
				c.add(p.ID, asset, from, -1, -parts)
				c.add(p.ID, asset, store.TaskPending, 1, parts)
			}
			return n, rows.Err()
		}
		// A retry computes again: verification failed on these bytes.
		if res.Failed, err = requeue(store.TaskFailed, `UPDATE tasks SET state = 'pending', max_attempts = attempt + base_attempts, not_before = NULL,
			error = '', finished_at = NULL, phase = 'compute', staged = '', ready_at = ? WHERE run_id = ? AND state = 'failed'`, s.t(p.At), p.ID); err != nil {
			return err
		}
		// A skipped task still counts its failed upstream tasks as
		// waiting: they never succeeded. Back to pending, it runs when they
		// do.
		if res.Skipped, err = requeue(store.TaskSkipped, `UPDATE tasks SET state = 'pending', error = '', finished_at = NULL WHERE run_id = ? AND state = 'skipped'`,
			p.ID); err != nil {
			return err
		}
		if err := s.saveCounts(ctx, tx, c); err != nil {
			return err
		}
		if res.Failed+res.Skipped == 0 {
			return fmt.Errorf("run %d (%s): %w", p.ID, status, store.ErrNothingToRetry)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET status = 'running', error = '', finished_at = NULL,
			breaker_finished = 0, breaker_failed = 0, breaker_consecutive = 0 WHERE id = ?`), p.ID); err != nil {
			return err
		}
		if err := s.event(ctx, tx, p.ID, p.At, "retried", p.Actor, fmt.Sprintf("%d failed tasks and %d skipped below them re-queued (was %s)",
			res.Failed, res.Skipped, status)); err != nil {
			return err
		}
		return s.notify(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("retry run %d: %w", p.ID, err)
	}
	s.waker.Notify()
	res.Run, err = s.RunGet(ctx, p.ID)
	return res, err
}

// RunEventList returns a run's audit trail.
func (s *Store) RunEventList(ctx context.Context, runID int64) ([]store.RunEvent, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT run_id, at, kind, actor, detail FROM run_events WHERE run_id = ? ORDER BY id`), runID)
	if err != nil {
		return nil, fmt.Errorf("events of run %d: %w", runID, s.mapErr(err))
	}
	defer rows.Close()
	var out []store.RunEvent
	for rows.Next() {
		var e store.RunEvent
		var at dbTime
		if err := rows.Scan(&e.RunID, &at, &e.Kind, &e.Actor, &e.Detail); err != nil {
			return nil, err
		}
		e.At = at.t
		out = append(out, e)
	}
	return out, s.mapErr(rows.Err())
}

// RunProgress counts a run's tasks per asset and state.
func (s *Store) RunProgress(ctx context.Context, p store.RunProgressParams) (*store.RunProgress, error) {
	// One snapshot: a run cancelled between reading its row and its
	// counts showed as running with every task cancelled.
	var out *store.RunProgress
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		run, err := scanRun(tx.QueryRowContext(ctx, s.q(`SELECT `+runColumns+` FROM runs WHERE id = ?`), p.ID))
		if err != nil {
			return err
		}
		out = &store.RunProgress{Run: run}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT asset, state, sum(tasks), sum(partitions) FROM run_counts WHERE run_id = ? GROUP BY asset, state`), p.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a store.AssetProgress
			if err := rows.Scan(&a.Asset, &a.State, &a.Tasks, &a.Partitions); err != nil {
				return err
			}
			if a.Tasks == 0 {
				continue
			}
			out.Assets = append(out.Assets, a)
			run.Tasks[a.State] += a.Tasks
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if p.Since.IsZero() {
			return nil
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT coalesce(sum(started), 0), coalesce(sum(finished), 0) FROM run_pace WHERE run_id = ? AND second >= ?`),
			p.ID, p.Since.Unix()).Scan(&out.StartedSince, &out.FinishedSince)
	})
	if err != nil {
		return nil, fmt.Errorf("progress of run %d: %w", p.ID, err)
	}
	sort.Slice(out.Assets, func(i, j int) bool {
		if out.Assets[i].Asset != out.Assets[j].Asset {
			return out.Assets[i].Asset < out.Assets[j].Asset
		}
		return out.Assets[i].State < out.Assets[j].State
	})
	return out, nil
}

// TaskDurations returns the durations of an asset's latest succeeded tasks.
func (s *Store) TaskDurations(ctx context.Context, asset string, limit int) ([]time.Duration, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT started_at, finished_at FROM tasks WHERE asset = ? AND state = 'succeeded'
		ORDER BY finished_at DESC LIMIT ?`), asset, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("durations of %s: %w", asset, s.mapErr(err))
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var started, finished dbTime
		if err := rows.Scan(&started, &finished); err != nil {
			return nil, err
		}
		if !started.t.IsZero() && !finished.t.IsZero() {
			out = append(out, finished.t.Sub(started.t))
		}
	}
	return out, s.mapErr(rows.Err())
}

// countBreaker adds a finished task to its run's circuit breaker and trips
// it when a condition holds. It changes nothing for runs without one.
func (s *Store) countBreaker(ctx context.Context, tx *sql.Tx, t *store.Task, failed bool, at time.Time) error {
	if _, none := s.noBreaker.Load(t.RunID); none {
		return nil // a run's breaker is set at insert, never later
	}
	inc := 0
	if failed {
		inc = 1
	}
	var b store.Breaker
	var finishedN, failedN, consecutive int
	var status store.RunStatus
	err := tx.QueryRowContext(ctx, s.q(`UPDATE runs SET breaker_finished = breaker_finished + 1, breaker_failed = breaker_failed + ?,
			breaker_consecutive = CASE WHEN ? = 1 THEN breaker_consecutive + 1 ELSE 0 END
		WHERE id = ? AND (breaker_max_failure_rate > 0 OR breaker_max_consecutive > 0)
		RETURNING status, breaker_max_failure_rate, breaker_min_tasks, breaker_max_consecutive, breaker_finished, breaker_failed, breaker_consecutive`),
		inc, inc, t.RunID).Scan(&status, &b.MaxFailureRate, &b.MinTasks, &b.MaxConsecutive, &finishedN, &failedN, &consecutive)
	if errors.Is(err, sql.ErrNoRows) {
		s.noBreaker.Store(t.RunID, true)
		return nil
	}
	if err != nil || status != store.RunRunning || !failed {
		return err
	}
	var reason string
	switch {
	case b.MaxConsecutive > 0 && consecutive >= b.MaxConsecutive:
		reason = fmt.Sprintf("%d tasks failed in a row (limit %d); last: task %d %s %s: %s", consecutive, b.MaxConsecutive, t.ID, t.Asset, t.PartitionFirst, t.Error)
	case b.MaxFailureRate > 0 && finishedN >= max(b.MinTasks, 1) && float64(failedN)/float64(finishedN) > b.MaxFailureRate:
		reason = fmt.Sprintf("%d of %d finished tasks failed (%.0f%% > %.0f%%, after at least %d); last: task %d %s %s: %s",
			failedN, finishedN, 100*float64(failedN)/float64(finishedN), 100*b.MaxFailureRate, b.MinTasks, t.ID, t.Asset, t.PartitionFirst, t.Error)
	default:
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET status = 'tripped', trip_reason = ? WHERE id = ?`), reason, t.RunID); err != nil {
		return err
	}
	return s.event(ctx, tx, t.RunID, at, "tripped", "breaker", reason)
}
