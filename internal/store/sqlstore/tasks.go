package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/weir-dev/weir/internal/store"
)

const taskColumns = `id, run_id, asset, partition_first, partition_last, partition_count, state, attempt, max_attempts, pool, priority,
	rank, waiting, not_before, lease_token, lease_expires_at, worker, started_at, finished_at, error`

// scanTask scans taskColumns, then extra destinations.
func scanTask(row scanner, extra ...any) (*store.Task, error) {
	var t store.Task
	var notBefore, expires, started, finished dbTime
	dest := []any{&t.ID, &t.RunID, &t.Asset, &t.PartitionFirst, &t.PartitionLast, &t.PartitionCount, &t.State, &t.Attempt, &t.MaxAttempts,
		&t.Pool, &t.Priority, &t.Rank, &t.Waiting, &notBefore, &t.LeaseToken, &expires, &t.Worker, &started, &finished, &t.Error}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	t.NotBefore, t.LeaseExpiresAt, t.StartedAt, t.FinishedAt = notBefore.t, expires.t, started.t, finished.t
	return &t, nil
}

func (s *Store) queryTasks(ctx context.Context, q querier, query string, args ...any) ([]*store.Task, error) {
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// TaskLeaseMany leases runnable tasks within pool quotas.
func (s *Store) TaskLeaseMany(ctx context.Context, p store.TaskLeaseManyParams) ([]*store.Task, error) {
	limit := max(p.Limit, 1)
	var leased []*store.Task
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := `SELECT id, pool FROM tasks WHERE state = 'pending' AND waiting = 0 AND (not_before IS NULL OR not_before <= ?)`
		args := []any{s.t(p.Now)}
		if p.RunID != 0 {
			q += ` AND run_id = ?`
			args = append(args, p.RunID)
		}
		if len(p.Pools) > 0 {
			q += ` AND pool IN (` + marks(len(p.Pools)) + `)`
			for _, pool := range p.Pools {
				args = append(args, pool)
			}
		}
		q += ` ORDER BY priority DESC, rank, id LIMIT ?` + s.d.SkipLocked
		rows, err := tx.QueryContext(ctx, s.q(q), append(args, limit)...)
		if err != nil {
			return err
		}
		type cand struct {
			id   int64
			pool string
		}
		var cands []cand
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.id, &c.pool); err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(cands) == 0 {
			return err
		}
		// Pool quotas: lock each quota row (in name order, so leasers never
		// deadlock), count what runs in the pool, admit what fits.
		var pools []string
		room := map[string]int{}
		for _, c := range cands {
			if _, ok := room[c.pool]; !ok {
				room[c.pool] = -1
				pools = append(pools, c.pool)
			}
		}
		sort.Strings(pools)
		for _, pool := range pools {
			var maxRunning int
			err := tx.QueryRowContext(ctx, s.q(`SELECT max_running FROM pools WHERE name = ?`+s.d.ForUpdate), pool).Scan(&maxRunning)
			if errors.Is(err, sql.ErrNoRows) {
				continue // no quota
			}
			if err != nil {
				return err
			}
			var running int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM tasks WHERE pool = ? AND state = 'running'`), pool).Scan(&running); err != nil {
				return err
			}
			room[pool] = max(maxRunning-running, 0)
		}
		var ids []any
		for _, c := range cands {
			if r := room[c.pool]; r == 0 {
				continue
			} else if r > 0 {
				room[c.pool] = r - 1
			}
			ids = append(ids, c.id)
		}
		if len(ids) == 0 {
			return nil
		}
		leased, err = s.queryTasks(ctx, tx, `UPDATE tasks SET state = 'running', attempt = attempt + 1, lease_token = lease_token + 1,
				worker = ?, started_at = ?, finished_at = NULL, not_before = NULL, error = '', lease_expires_at = ?
			WHERE id IN (`+marks(len(ids))+`) RETURNING `+taskColumns,
			append([]any{p.Worker, s.t(p.Now), s.t(p.Now.Add(p.LeaseFor))}, ids...)...)
		if err != nil {
			return err
		}
		sort.Slice(leased, func(i, j int) bool { return lessTask(leased[i], leased[j]) })
		args = args[:0]
		for _, t := range leased {
			args = append(args, t.ID, t.Attempt, p.Worker, store.TaskRunning, s.t(p.Now))
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO task_attempts (task_id, attempt, worker, state, started_at) VALUES `+rowsOf(len(leased), 5)), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lease tasks: %w", err)
	}
	return leased, nil
}

func lessTask(a, b *store.Task) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if a.Rank != b.Rank {
		return a.Rank < b.Rank
	}
	return a.ID < b.ID
}

// TaskHeartbeat extends held leases and reports the lost ones.
func (s *Store) TaskHeartbeat(ctx context.Context, p store.TaskHeartbeatParams) ([]int64, error) {
	var lost []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		lost = lost[:0]
		for _, l := range p.Leases {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND state = 'running'`),
				s.t(p.Now.Add(p.LeaseFor)), l.TaskID, l.Token)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				lost = append(lost, l.TaskID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return lost, nil
}

// TaskFinish ends an attempt, fenced by its token.
func (s *Store) TaskFinish(ctx context.Context, p store.TaskFinishParams) (*store.TaskFinishResult, error) {
	switch p.State {
	case store.TaskSucceeded, store.TaskFailed, store.TaskPending:
	default:
		return nil, fmt.Errorf("finish task %d: state %q is not succeeded, failed or pending (retry)", p.ID, p.State)
	}
	var res *store.TaskFinishResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = s.finish(ctx, tx, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("finish task %d: %w", p.ID, err)
	}
	if p.State == store.TaskSucceeded {
		s.waker.Notify()
	}
	if err := s.finishRunIfDone(ctx, res, p.At); err != nil {
		return res, fmt.Errorf("finish run of task %d: %w", p.ID, err)
	}
	return res, nil
}

func (s *Store) finish(ctx context.Context, tx *sql.Tx, p store.TaskFinishParams) (*store.TaskFinishResult, error) {
	var deps string
	t, err := scanTask(tx.QueryRowContext(ctx, s.q(`UPDATE tasks SET state = ?, error = ?, not_before = ?, finished_at = ?, lease_expires_at = NULL
		WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING `+taskColumns+`, dependents`),
		p.State, p.Error, s.t(p.NotBefore), s.t(p.At), p.ID, p.LeaseToken), &deps)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrLeaseLost
	}
	if err != nil {
		return nil, err
	}
	attemptState := p.State
	if p.State == store.TaskPending {
		attemptState = store.TaskFailed
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE task_attempts SET state = ?, error = ?, finished_at = ? WHERE task_id = ? AND attempt = ?`),
		attemptState, p.Error, s.t(p.At), p.ID, t.Attempt); err != nil {
		return nil, err
	}
	res := &store.TaskFinishResult{Task: t}
	ranges, err := store.DecodeDependents(deps)
	if err != nil {
		return nil, err
	}
	switch p.State {
	case store.TaskSucceeded:
		for _, r := range ranges {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE tasks SET waiting = waiting - 1 WHERE id BETWEEN ? AND ?`), r.Lo, r.Hi); err != nil {
				return nil, err
			}
		}
		if len(ranges) > 0 {
			if err := s.notify(ctx, tx); err != nil {
				return nil, err
			}
		}
	case store.TaskFailed:
		if res.Skipped, err = s.skipDownstream(ctx, tx, t.ID, ranges, p); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// skipDownstream skips the pending tasks downstream of failed, transitively.
func (s *Store) skipDownstream(ctx context.Context, tx *sql.Tx, failed int64, frontier []store.IDRange, p store.TaskFinishParams) ([]*store.Task, error) {
	var skipped []*store.Task
	reason := fmt.Sprintf("not run: upstream task %d failed", failed)
	for len(frontier) > 0 {
		var next []store.IDRange
		for _, r := range frontier {
			rows, err := tx.QueryContext(ctx, s.q(`UPDATE tasks SET state = 'skipped', error = ?, finished_at = ?
				WHERE id BETWEEN ? AND ? AND state = 'pending' RETURNING `+taskColumns+`, dependents`), reason, s.t(p.At), r.Lo, r.Hi)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var deps string
				t, err := scanTask(rows, &deps)
				if err != nil {
					rows.Close()
					return nil, err
				}
				skipped = append(skipped, t)
				more, err := store.DecodeDependents(deps)
				if err != nil {
					rows.Close()
					return nil, err
				}
				next = append(next, more...)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
		frontier = next
	}
	sort.Slice(skipped, func(i, j int) bool { return skipped[i].ID < skipped[j].ID })
	return skipped, nil
}

// finishRunIfDone ends the run when no task of it is pending or running.
// It runs after the transaction that finished a task has committed, in a
// transaction of its own: checked inside the finishing transaction, two
// workers ending a run's last tasks at once could each see the other's task
// still open (under READ COMMITTED) and neither would end the run. After
// commit, the last finisher to commit sees every other finish.
func (s *Store) finishRunIfDone(ctx context.Context, res *store.TaskFinishResult, at time.Time) error {
	if res == nil || res.Task == nil || res.Task.State == store.TaskPending {
		return nil
	}
	runID := res.Task.RunID
	open := func(q querier) (bool, error) {
		var one int
		err := q.QueryRowContext(ctx, s.q(`SELECT 1 FROM tasks WHERE run_id = ? AND state IN ('pending', 'running') LIMIT 1`), runID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}
	if o, err := open(s.db); o || err != nil {
		return s.mapErr(err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT status FROM runs WHERE id = ?`+s.d.ForUpdate), runID).Scan(&status); err != nil {
			return err
		}
		if o, err := open(tx); o || err != nil || status != string(store.RunRunning) {
			return err
		}
		var bad, all int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM tasks WHERE run_id = ? AND state = 'failed'`), runID).Scan(&bad); err != nil {
			return err
		}
		final, msg := store.RunSucceeded, ""
		if bad > 0 {
			if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM tasks WHERE run_id = ?`), runID).Scan(&all); err != nil {
				return err
			}
			final, msg = store.RunFailed, fmt.Sprintf("%d of %d tasks failed", bad, all)
		}
		r, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'`), final, msg, s.t(at), runID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n > 0 {
			res.RunFinished, res.RunStatus = true, final
		}
		return nil
	})
}

// TaskRelease returns a leased task to pending. The released attempt does
// not count against the task's attempts.
func (s *Store) TaskRelease(ctx context.Context, p store.TaskReleaseParams) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var attempt int
		err := tx.QueryRowContext(ctx, s.q(`UPDATE tasks SET state = 'pending', lease_expires_at = NULL, worker = '', error = ?, max_attempts = max_attempts + 1
			WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING attempt`), p.Reason, p.ID, p.LeaseToken).Scan(&attempt)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE task_attempts SET state = ?, error = ?, finished_at = ? WHERE task_id = ? AND attempt = ?`),
			store.AttemptReleased, p.Reason, s.t(p.At), p.ID, attempt); err != nil {
			return err
		}
		return s.notify(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("release task %d: %w", p.ID, err)
	}
	s.waker.Notify()
	return nil
}

// TaskReapExpired ends attempts whose lease expired.
func (s *Store) TaskReapExpired(ctx context.Context, p store.TaskReapExpiredParams) ([]*store.TaskFinishResult, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []*store.TaskFinishResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		expired, err := s.queryTasks(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE state = 'running' AND lease_expires_at < ?
			ORDER BY lease_expires_at LIMIT ?`+s.d.SkipLocked, s.t(p.Now), limit)
		if err != nil {
			return err
		}
		for _, t := range expired {
			fp := store.TaskFinishParams{ID: t.ID, LeaseToken: t.LeaseToken, State: store.TaskPending, NotBefore: p.Now, At: p.Now,
				Error: fmt.Sprintf("lease expired at %s: worker %s stopped heartbeating", t.LeaseExpiresAt.Format("2006-01-02T15:04:05Z"), t.Worker)}
			if t.Attempt >= t.MaxAttempts {
				fp.State, fp.NotBefore = store.TaskFailed, p.Now.Add(0)
				fp.Error += fmt.Sprintf("; no attempts left (%d of %d)", t.Attempt, t.MaxAttempts)
			}
			res, err := s.finish(ctx, tx, fp)
			if errors.Is(err, store.ErrLeaseLost) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, res)
		}
		if len(out) > 0 {
			return s.notify(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reap expired leases: %w", err)
	}
	if len(out) > 0 {
		s.waker.Notify()
	}
	for _, res := range out {
		if err := s.finishRunIfDone(ctx, res, p.Now); err != nil {
			return out, fmt.Errorf("reap expired leases: %w", err)
		}
	}
	return out, nil
}

// TaskList returns tasks in id order.
func (s *Store) TaskList(ctx context.Context, p store.TaskListParams) ([]*store.Task, error) {
	q := `SELECT ` + taskColumns + ` FROM tasks WHERE 1 = 1`
	var args []any
	if p.RunID != 0 {
		q += ` AND run_id = ?`
		args = append(args, p.RunID)
	}
	if p.State != "" {
		q += ` AND state = ?`
		args = append(args, p.State)
	}
	q += ` ORDER BY id`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	out, err := s.queryTasks(ctx, s.db, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", s.mapErr(err))
	}
	return out, nil
}

// TaskActiveList returns an asset's pending and running tasks.
func (s *Store) TaskActiveList(ctx context.Context, asset string) ([]*store.Task, error) {
	out, err := s.queryTasks(ctx, s.db, `SELECT `+taskColumns+` FROM tasks WHERE asset = ? AND state IN ('pending', 'running') ORDER BY id`, asset)
	if err != nil {
		return nil, fmt.Errorf("active tasks of %s: %w", asset, s.mapErr(err))
	}
	return out, nil
}

// TaskGet returns a task and its attempts.
func (s *Store) TaskGet(ctx context.Context, id int64) (*store.Task, []*store.TaskAttempt, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, s.q(`SELECT `+taskColumns+` FROM tasks WHERE id = ?`), id))
	if err != nil {
		return nil, nil, fmt.Errorf("get task %d: %w", id, s.mapErr(err))
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT task_id, attempt, worker, state, started_at, finished_at, error FROM task_attempts WHERE task_id = ? ORDER BY attempt`), id)
	if err != nil {
		return nil, nil, fmt.Errorf("get task %d: %w", id, s.mapErr(err))
	}
	defer rows.Close()
	var attempts []*store.TaskAttempt
	for rows.Next() {
		var a store.TaskAttempt
		var started, finished dbTime
		if err := rows.Scan(&a.TaskID, &a.Attempt, &a.Worker, &a.State, &started, &finished, &a.Error); err != nil {
			return nil, nil, err
		}
		a.StartedAt, a.FinishedAt = started.t, finished.t
		attempts = append(attempts, &a)
	}
	return t, attempts, s.mapErr(rows.Err())
}

// PoolSet sets a pool's quota.
func (s *Store) PoolSet(ctx context.Context, p store.PoolSetParams) error {
	if p.MaxRunning < 0 {
		return fmt.Errorf("pool %s: max running %d is negative", p.Name, p.MaxRunning)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO pools (name, max_running) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running`), p.Name, p.MaxRunning)
	if err != nil {
		return fmt.Errorf("set pool %s: %w", p.Name, s.mapErr(err))
	}
	s.waker.Notify() // a raised quota may admit waiting tasks
	return nil
}

// PoolList returns pools with a quota and pools with running tasks.
func (s *Store) PoolList(ctx context.Context) ([]store.Pool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, max_running, 0 FROM pools
		UNION ALL SELECT pool, -1, count(*) FROM tasks WHERE state = 'running' GROUP BY pool`)
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", s.mapErr(err))
	}
	defer rows.Close()
	byName := map[string]*store.Pool{}
	var names []string
	for rows.Next() {
		var name string
		var maxRunning, running int
		if err := rows.Scan(&name, &maxRunning, &running); err != nil {
			return nil, err
		}
		p, ok := byName[name]
		if !ok {
			p = &store.Pool{Name: name, MaxRunning: -1}
			byName[name] = p
			names = append(names, name)
		}
		if maxRunning >= 0 {
			p.MaxRunning = maxRunning
		}
		p.Running += running
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(err)
	}
	sort.Strings(names)
	out := make([]store.Pool, len(names))
	for i, n := range names {
		out[i] = *byName[n]
	}
	return out, nil
}
