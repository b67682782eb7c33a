package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/weir-dev/weir/store"
)

const taskColumns = `id, run_id, asset, partition_first, partition_last, partition_count, state, attempt, max_attempts, pool, priority,
	rank, waiting, not_before, lease_token, lease_expires_at, worker, started_at, finished_at, error, phase, staged, base_attempts, version`

// scanTask scans taskColumns, then extra destinations.
func scanTask(row scanner, extra ...any) (*store.Task, error) {
	var t store.Task
	var notBefore, expires, started, finished dbTime
	dest := []any{&t.ID, &t.RunID, &t.Asset, &t.PartitionFirst, &t.PartitionLast, &t.PartitionCount, &t.State, &t.Attempt, &t.MaxAttempts,
		&t.Pool, &t.Priority, &t.Rank, &t.Waiting, &notBefore, &t.LeaseToken, &expires, &t.Worker, &started, &finished, &t.Error, &t.Phase, &t.Staged, &t.BaseAttempts, &t.Version}
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

// TaskLeaseMany leases runnable tasks within run throttles and pool quotas.
//
// It reads each running run's ready tasks through the per-run index
// (tasks_ready_run), so a throttled or paused run with a million ready
// tasks costs nothing to step over, and merges them by priority (the task's,
// raised by its run's aging), rank and id.
func (s *Store) TaskLeaseMany(ctx context.Context, p store.TaskLeaseManyParams) (*store.LeaseResult, error) {
	limit := max(p.Limit, 1)
	ageEvery := p.AgeEvery
	if ageEvery <= 0 {
		ageEvery = 5 * time.Minute
	}
	res := &store.LeaseResult{}
	caller := p.Now
	err := s.tx(ctx, func(tx *sql.Tx) error {
		*res = store.LeaseResult{}
		var err error
		if p.Now, err = s.now(ctx, tx, caller); err != nil {
			return err
		}
		runs, err := s.leasableRuns(ctx, tx, p, ageEvery)
		if err != nil || len(runs) == 0 {
			return err
		}
		var open []*leaseRun
		for _, r := range runs {
			if r.room == 0 {
				if !r.until.IsZero() && (res.ThrottledUntil.IsZero() || r.until.Before(res.ThrottledUntil)) {
					res.ThrottledUntil = r.until
				}
				continue
			}
			open = append(open, r)
		}
		cands, err := s.leaseCandidates(ctx, tx, open, p, limit)
		if err != nil {
			return err
		}
		if !res.ThrottledUntil.IsZero() {
			res.ThrottledFor = res.ThrottledUntil.Sub(p.Now)
		}
		sort.Slice(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if a.prio != b.prio {
				return a.prio > b.prio
			}
			if a.rank != b.rank {
				return a.rank < b.rank
			}
			return a.id < b.id
		})
		room, err := s.poolRoom(ctx, tx, cands)
		if err != nil {
			return err
		}
		var ids []int64
		for _, c := range cands {
			if len(ids) == limit {
				break
			}
			if r := room[c.pool]; r == 0 {
				continue
			} else if r > 0 {
				room[c.pool] = r - 1
			}
			ids = append(ids, c.id)
			c.run.leased++
		}
		if len(ids) == 0 {
			return nil
		}
		// A compute attempt gets its version id here, recorded before it
		// writes anything; a verify attempt keeps the one it verifies. Its
		// time is the caller's, as every time gc compares it with.
		leased := newRowset("int", "text")
		for _, id := range ids {
			leased.add(id, store.NewVersionID(caller))
		}
		v, args := s.from(leased)
		res.Tasks, err = s.queryTasks(ctx, tx, `UPDATE tasks SET state = 'running', attempt = attempt + 1, lease_token = lease_token + 1,
				worker = ?, started_at = ?, finished_at = NULL, not_before = NULL, error = '', lease_expires_at = ?,
				version = CASE WHEN tasks.phase = 'compute' THEN v.column2 ELSE tasks.version END
			FROM `+v+` WHERE tasks.id = v.column1 RETURNING `+taskColumns,
			s.perRun(append([]any{p.Worker, s.t(p.Now), s.t(p.Now.Add(p.LeaseFor))}, args...))...)
		if err != nil {
			return err
		}
		sort.Slice(res.Tasks, func(i, j int) bool { return lessTask(res.Tasks[i], res.Tasks[j]) })
		started := newRowset("int", "int", "text", "text", "text", "time", "text")
		c := newCounts()
		for _, t := range res.Tasks {
			started.add(t.ID, t.Attempt, t.Phase, p.Worker, store.TaskRunning, s.t(p.Now), t.Version)
			c.move(t, store.TaskPending)
			if t.Phase == store.PhaseCompute {
				c.paced(t.RunID, p.Now, 1, 0)
			}
		}
		if err := s.insertAttempts(ctx, tx, started); err != nil {
			return err
		}
		if err := s.saveCounts(ctx, tx, c); err != nil {
			return err
		}
		return s.recordStarts(ctx, tx, runs, p.Now)
	})
	if err != nil {
		return nil, fmt.Errorf("lease tasks: %w", err)
	}
	return res, nil
}

// leaseCandidates reads the ready tasks of runs, at most limit of each
// (and no more than its room), through the per-run ready index: one
// statement for all runs where the dialect takes arrays (a LATERAL join over
// the runs, so leasing costs one round trip however many runs are running),
// one per run otherwise (SQLite, in process).
func (s *Store) leaseCandidates(ctx context.Context, tx *sql.Tx, runs []*leaseRun, p store.TaskLeaseManyParams, limit int) ([]leaseCand, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	room := func(r *leaseRun) int {
		if r.room >= 0 {
			return min(limit, r.room)
		}
		return limit
	}
	byID := make(map[int64]*leaseRun, len(runs))
	for _, r := range runs {
		byID[r.id] = r
	}
	ready := `state = 'pending' AND waiting = 0 AND (not_before IS NULL OR not_before <= ?)`
	readyArgs := []any{s.t(p.Now)}
	if len(p.Pools) > 0 {
		pools := make([]any, len(p.Pools))
		for i, pool := range p.Pools {
			pools[i] = pool
		}
		in, args := s.in("text", pools)
		ready += ` AND pool ` + in
		readyArgs = append(readyArgs, args...)
	}
	var queries []string
	var args [][]any
	if s.d.ArrayType != nil {
		rs := newRowset("int", "int")
		for _, r := range runs {
			rs.add(r.id, room(r))
		}
		v, vargs := s.from(rs)
		queries = append(queries, `SELECT t.id, t.run_id, t.pool, t.priority, t.rank FROM `+v+` CROSS JOIN LATERAL (
			SELECT id, run_id, pool, priority, rank FROM tasks WHERE tasks.run_id = v.column1 AND `+ready+`
			ORDER BY priority DESC, rank, id LIMIT v.column2`+s.d.SkipLocked+`) t`)
		args = append(args, append(vargs, readyArgs...))
	} else {
		for _, r := range runs {
			queries = append(queries, `SELECT id, run_id, pool, priority, rank FROM tasks WHERE run_id = ? AND `+ready+`
				ORDER BY priority DESC, rank, id LIMIT ?`+s.d.SkipLocked)
			args = append(args, append(append([]any{r.id}, readyArgs...), room(r)))
		}
	}
	var cands []leaseCand
	for i, q := range queries {
		rows, err := tx.QueryContext(ctx, s.q(q), s.perRun(args[i])...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c leaseCand
			var runID int64
			if err := rows.Scan(&c.id, &runID, &c.pool, &c.prio, &c.rank); err != nil {
				rows.Close()
				return nil, err
			}
			c.run = byID[runID]
			c.prio += c.run.aging
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return cands, nil
}

// leaseRun is a running run as leasing sees it.
type leaseRun struct {
	id            int64
	aging         int // added to its tasks' priority
	maxConcurrent int
	rate          float64
	tat           time.Time
	lastLease     time.Time
	// room is how many tasks the run may start now (-1: no cap of its
	// own); until, when it is 0 for its rate, when the next may.
	room   int
	until  time.Time
	leased int
}

type leaseCand struct {
	id   int64
	pool string
	rank int64
	prio int
	run  *leaseRun
}

// maxAging caps how far a waiting run's priority rises: three levels are
// more than the default gap between backfills and interactive runs, so a
// starved run does get its turn, and no run ages without bound.
const maxAging = 3 * store.PriorityStep

// leasableRuns returns the running runs with their aging and what their
// throttles let them start now. Throttled runs are read
// under their row lock, so their counts hold across leasers.
func (s *Store) leasableRuns(ctx context.Context, tx *sql.Tx, p store.TaskLeaseManyParams, ageEvery time.Duration) ([]*leaseRun, error) {
	q := `SELECT id, max_concurrent, rate_per_sec, created_at, last_lease_at FROM runs WHERE status = 'running'`
	var args []any
	if p.RunID != 0 {
		ids := append([]int64{p.RunID}, p.AlsoRunIDs...)
		q += ` AND id IN (` + marks(len(ids)) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	rows, err := tx.QueryContext(ctx, s.q(q+` ORDER BY id`), args...)
	if err != nil {
		return nil, err
	}
	var runs []*leaseRun
	var throttled []*leaseRun
	for rows.Next() {
		r := &leaseRun{room: -1}
		var created, last dbTime
		if err := rows.Scan(&r.id, &r.maxConcurrent, &r.rate, &created, &last); err != nil {
			rows.Close()
			return nil, err
		}
		since := last.t
		if since.IsZero() {
			since = created.t
		}
		r.lastLease = last.t
		if waited := p.Now.Sub(since); waited > 0 {
			r.aging = min(int(waited/ageEvery)*store.PriorityStep, maxAging)
		}
		runs = append(runs, r)
		if r.maxConcurrent > 0 || r.rate > 0 {
			throttled = append(throttled, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, r := range throttled {
		var status store.RunStatus
		var tat dbTime
		if err := tx.QueryRowContext(ctx, s.q(`SELECT status, rate_tat FROM runs WHERE id = ?`+s.d.ForUpdate), r.id).Scan(&status, &tat); err != nil {
			return nil, err
		}
		if status != store.RunRunning {
			r.room = 0
			continue
		}
		if r.maxConcurrent > 0 {
			var running int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM tasks WHERE run_id = ? AND state = 'running'`), r.id).Scan(&running); err != nil {
				return nil, err
			}
			r.room = max(r.maxConcurrent-running, 0)
		}
		if r.rate > 0 {
			// GCRA without burst: starts are at least 1/rate apart.
			r.tat = tat.t
			if r.tat.After(p.Now) {
				r.room, r.until = 0, r.tat
			} else if r.room != 0 {
				r.room = 1
			}
		}
	}
	return runs, nil
}

// recordStarts advances the rate limits of the runs that started tasks and
// notes when each last started one (for aging; at most once a second, so
// busy runs' rows are not rewritten by every lease).
func (s *Store) recordStarts(ctx context.Context, tx *sql.Tx, runs []*leaseRun, now time.Time) error {
	for _, r := range runs {
		if r.leased == 0 {
			continue
		}
		if r.rate > 0 {
			base := r.tat
			if base.Before(now) {
				base = now
			}
			next := base.Add(time.Duration(float64(r.leased) / r.rate * float64(time.Second)))
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET rate_tat = ?, last_lease_at = ? WHERE id = ?`), s.t(next), s.t(now), r.id); err != nil {
				return err
			}
			continue
		}
		if !r.lastLease.IsZero() && now.Sub(r.lastLease) < time.Second {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET last_lease_at = ? WHERE id = ?`), s.t(now), r.id); err != nil {
			return err
		}
	}
	return nil
}

// poolRoom locks the quota rows of the candidates' pools (in name order,
// so leasers never deadlock), counts what runs in each and returns the room
// left; -1 for pools without a quota.
func (s *Store) poolRoom(ctx context.Context, tx *sql.Tx, cands []leaseCand) (map[string]int, error) {
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
			return nil, err
		}
		var running int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM tasks WHERE pool = ? AND state = 'running'`), pool).Scan(&running); err != nil {
			return nil, err
		}
		room[pool] = max(maxRunning-running, 0)
	}
	return room, nil
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
		now, err := s.now(ctx, tx, p.Now)
		if err != nil {
			return err
		}
		if p.Worker != "" {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE workers SET heartbeat_at = ? WHERE id = ?`), s.t(now), p.Worker); err != nil {
				return err
			}
		}
		// One statement for all the leases; those it did not extend are
		// lost.
		held := map[int64]bool{}
		err = batch(p.Leases, maxBatchRows, func(ls []store.Lease) error {
			rs := newRowset("int", "int")
			for _, l := range ls {
				rs.add(l.TaskID, l.Token)
			}
			v, args := s.from(rs)
			ids, err := s.ids(ctx, tx, `UPDATE tasks SET lease_expires_at = ? FROM `+v+`
				WHERE tasks.id = v.column1 AND tasks.lease_token = v.column2 AND tasks.state = 'running' RETURNING tasks.id`,
				append([]any{s.t(now.Add(p.LeaseFor))}, args...))
			for _, id := range ids {
				held[id] = true
			}
			return err
		})
		for _, l := range p.Leases {
			if !held[l.TaskID] {
				lost = append(lost, l.TaskID)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return lost, nil
}

// TaskFinish ends an attempt, fenced by its token.
func (s *Store) TaskFinish(ctx context.Context, p store.TaskFinishParams) (*store.TaskFinishResult, error) {
	res, err := s.TaskFinishMany(ctx, []store.TaskFinishParams{p})
	if err != nil {
		return nil, err
	}
	return res[0].Result, res[0].Err
}

// skipDownstream skips the pending tasks downstream of failed, transitively.
func (s *Store) skipDownstream(ctx context.Context, tx *sql.Tx, reason string, frontier []store.IDRange, at time.Time) ([]*store.Task, error) {
	var skipped []*store.Task
	for len(frontier) > 0 {
		var next []store.IDRange
		for _, r := range frontier {
			rows, err := tx.QueryContext(ctx, s.q(`UPDATE tasks SET state = 'skipped', error = ?, finished_at = ?
				WHERE id BETWEEN ? AND ? AND state = 'pending' RETURNING `+taskColumns+`, dependents`), reason, s.t(at), r.Lo, r.Hi)
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

// finishRunIfDone ends a run when no task of it is pending or running.
// It runs after the transaction that finished a task has committed, in a
// transaction of its own: checked inside the finishing transaction, two
// workers ending a run's last tasks at once could each see the other's task
// still open (under READ COMMITTED) and neither would end the run. After
// commit, the last finisher to commit sees every other finish. A paused or
// tripped run with nothing left open ends too. It returns the status it
// ended the run with, "" if it did not end it.
func (s *Store) finishRunIfDone(ctx context.Context, runID int64, at time.Time) (ended store.RunStatus, err error) {
	open := func(q querier) (bool, error) {
		var n int64
		err := q.QueryRowContext(ctx, s.q(`SELECT coalesce(sum(tasks), 0) FROM run_counts WHERE run_id = ? AND state IN ('pending', 'running')`), runID).Scan(&n)
		return n > 0, err
	}
	if o, err := open(s.db); o || err != nil {
		return "", s.mapErr(err)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		ended = ""
		status, err := s.lockRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		if o, err := open(tx); o || err != nil || !status.Active() {
			return err
		}
		var failed, skipped, all int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT coalesce(sum(CASE WHEN state = 'failed' THEN tasks ELSE 0 END), 0),
				coalesce(sum(CASE WHEN state = 'skipped' THEN tasks ELSE 0 END), 0), coalesce(sum(tasks), 0)
			FROM run_counts WHERE run_id = ?`), runID).Scan(&failed, &skipped, &all); err != nil {
			return err
		}
		final, msg := store.RunSucceeded, ""
		if failed+skipped > 0 {
			final, msg = store.RunFailed, fmt.Sprintf("%d of %d tasks failed", failed, all)
			if skipped > 0 {
				msg += fmt.Sprintf(", %d skipped", skipped)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?`), final, msg, s.t(at), runID); err != nil {
			return err
		}
		ended = final
		detail := string(final)
		if msg != "" {
			detail += ": " + msg
		}
		return s.event(ctx, tx, runID, at, "finished", "weir", detail)
	})
	return ended, err
}

// RunFinishIdle ends active runs with no open task.
func (s *Store) RunFinishIdle(ctx context.Context, at time.Time) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM runs WHERE status IN ('running', 'paused', 'tripped')
		AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.run_id = runs.id AND tasks.state IN ('pending', 'running')) ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find idle runs: %w", s.mapErr(err))
	}
	var idle []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		idle = append(idle, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find idle runs: %w", s.mapErr(err))
	}
	var ended []int64
	for _, id := range idle {
		status, err := s.finishRunIfDone(ctx, id, at)
		if err != nil {
			return ended, fmt.Errorf("finish idle run %d: %w", id, err)
		}
		if status != "" {
			ended = append(ended, id)
		}
	}
	return ended, nil
}

// TaskStage ends a compute phase and starts the verify phase.
func (s *Store) TaskStage(ctx context.Context, p store.TaskStageParams) (*store.Task, error) {
	res, err := s.TaskStageMany(ctx, []store.TaskStageParams{p})
	if err != nil {
		return nil, err
	}
	return res[0].Task, res[0].Err
}

// TaskRelease returns a leased task to pending. The released attempt does
// not count against the task's attempts.
func (s *Store) TaskRelease(ctx context.Context, p store.TaskReleaseParams) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var attempt int
		var runID, partitions int64
		var asset string
		err := tx.QueryRowContext(ctx, s.q(`UPDATE tasks SET state = 'pending', lease_expires_at = NULL, worker = '', error = ?, max_attempts = max_attempts + 1
			WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING attempt, run_id, asset, partition_count`), p.Reason, p.ID, p.LeaseToken).Scan(&attempt, &runID, &asset, &partitions)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE task_attempts SET state = ?, error = ?, finished_at = ?, unpromoted = TRUE WHERE task_id = ? AND attempt = ?`),
			store.AttemptReleased, p.Reason, s.t(p.At), p.ID, attempt); err != nil {
			return err
		}
		c := newCounts()
		c.add(runID, asset, store.TaskRunning, -1, -partitions)
		c.add(runID, asset, store.TaskPending, 1, partitions)
		if err := s.saveCounts(ctx, tx, c); err != nil {
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
	caller := p.Now
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		var err error
		if p.Now, err = s.now(ctx, tx, caller); err != nil {
			return err
		}
		dead, err := s.reapDeadWorkers(ctx, tx, p.DeadWorkers, p.Now)
		if err != nil {
			return err
		}
		expired, err := s.queryTasks(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE state = 'running' AND lease_expires_at < ?
			ORDER BY lease_expires_at LIMIT ?`+s.d.SkipLocked, s.t(p.Now), limit)
		if err != nil {
			return err
		}
		deadIDs := map[int64]bool{}
		for _, t := range dead {
			deadIDs[t.ID] = true
		}
		for _, t := range expired {
			if !deadIDs[t.ID] {
				dead = append(dead, t)
			}
		}
		fps := make([]store.TaskFinishParams, len(dead))
		for i, t := range dead {
			fp := store.TaskFinishParams{ID: t.ID, LeaseToken: t.LeaseToken, State: store.TaskPending, NotBefore: p.Now, At: p.Now,
				Error: fmt.Sprintf("lease expired at %s: worker %s stopped heartbeating", t.LeaseExpiresAt.Format("2006-01-02T15:04:05Z"), t.Worker)}
			if deadIDs[t.ID] {
				fp.Error = fmt.Sprintf("worker %s's process is gone (lease reaped before it expired)", t.Worker)
			}
			if t.Attempt >= t.MaxAttempts {
				fp.State, fp.NotBefore = store.TaskFailed, time.Time{}
				fp.Error += fmt.Sprintf("; no attempts left (%d of %d)", t.Attempt, t.MaxAttempts)
			}
			fps[i] = fp
		}
		res, err := s.finishMany(ctx, tx, fps)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r != nil {
				out = append(out, r)
			}
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
	if err := s.finishRunsMany(ctx, out, p.Now); err != nil {
		return out, fmt.Errorf("reap expired leases: %w", err)
	}
	return out, nil
}

// TaskList returns tasks in id order.
func (s *Store) TaskList(ctx context.Context, p store.TaskListParams) ([]*store.Task, error) {
	q := `SELECT ` + taskColumns + ` FROM tasks WHERE 1 = 1`
	var args []any
	switch {
	case p.RunID != 0 && p.State == "":
		// A run's tasks are one range of ids, kept on the run: the
		// primary key finds them in order, where the index on run_id
		// would sort all of the run's tasks first (for every page).
		lo, hi, err := s.taskRange(ctx, s.db, p.RunID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", s.mapErr(err))
		}
		lo = max(lo, p.AfterID+1)
		q += ` AND id BETWEEN ? AND ? AND run_id + 0 = ?`
		args = append(args, lo, hi, p.RunID)
	case p.RunID != 0:
		q += ` AND run_id = ?`
		args = append(args, p.RunID)
	}
	if p.State != "" {
		q += ` AND state = ?`
		args = append(args, p.State)
	}
	if p.AfterID != 0 && (p.RunID == 0 || p.State != "") {
		q += ` AND id > ?`
		args = append(args, p.AfterID)
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

// taskRange returns the ids of a run's first and last task (0, 0 for a
// run without tasks): they are consecutive, and the run keeps the range.
func (s *Store) taskRange(ctx context.Context, q querier, runID int64) (lo, hi int64, err error) {
	err = q.QueryRowContext(ctx, s.q(`SELECT first_task_id, last_task_id FROM runs WHERE id = ?`), runID).Scan(&lo, &hi)
	return lo, hi, err
}

// RunTaskStats counts a run's tasks and attempts and reads its succeeded
// tasks' durations, by the primary key over the run's id range.
func (s *Store) RunTaskStats(ctx context.Context, runID int64) (*store.TaskStats, error) {
	lo, hi, err := s.taskRange(ctx, s.db, runID)
	if err != nil {
		return nil, fmt.Errorf("task stats of run %d: %w", runID, s.mapErr(err))
	}
	out := &store.TaskStats{}
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT count(*), coalesce(sum(attempt), 0) FROM tasks WHERE id BETWEEN ? AND ? AND run_id + 0 = ?`),
		lo, hi, runID).Scan(&out.Tasks, &out.Attempts); err != nil {
		return nil, fmt.Errorf("task stats of run %d: %w", runID, s.mapErr(err))
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+s.d.Seconds("started_at", "finished_at")+` FROM tasks
		WHERE id BETWEEN ? AND ? AND run_id + 0 = ? AND state = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL`), lo, hi, runID)
	if err != nil {
		return nil, fmt.Errorf("task stats of run %d: %w", runID, s.mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var sec float64
		if err := rows.Scan(&sec); err != nil {
			return nil, err
		}
		out.Seconds = append(out.Seconds, sec)
	}
	return out, rows.Err()
}

// TaskStagedList returns an asset's unfinished tasks in their verify
// phase.
func (s *Store) TaskStagedList(ctx context.Context, asset string) ([]*store.Task, error) {
	out, err := s.queryTasks(ctx, s.db, `SELECT `+taskColumns+` FROM tasks WHERE asset = ? AND state IN ('pending', 'running') AND phase = 'verify' ORDER BY id`, asset)
	if err != nil {
		return nil, fmt.Errorf("staged tasks of %s: %w", asset, s.mapErr(err))
	}
	return out, nil
}

// TaskActiveList returns an asset's pending and running tasks.
func (s *Store) TaskActiveList(ctx context.Context, asset string) ([]store.ActiveTask, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, run_id, partition_first, partition_last FROM tasks
		WHERE asset = ? AND state IN ('pending', 'running') ORDER BY id`), asset)
	if err != nil {
		return nil, fmt.Errorf("active tasks of %s: %w", asset, s.mapErr(err))
	}
	out, err := s.scanActive(rows)
	if err != nil {
		return nil, fmt.Errorf("active tasks of %s: %w", asset, err)
	}
	return out, nil
}

// scanActive reads rows of id, run, first and last partition, and closes
// them.
func (s *Store) scanActive(rows *sql.Rows) ([]store.ActiveTask, error) {
	defer rows.Close()
	var out []store.ActiveTask
	for rows.Next() {
		var t store.ActiveTask
		if err := rows.Scan(&t.ID, &t.RunID, &t.PartitionFirst, &t.PartitionLast); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, s.mapErr(rows.Err())
}

// TaskSpanList returns the pending and running tasks with ids
// firstID..lastID.
func (s *Store) TaskSpanList(ctx context.Context, firstID, lastID int64) ([]store.ActiveTask, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, run_id, partition_first, partition_last FROM tasks
		WHERE id BETWEEN ? AND ? AND state IN ('pending', 'running') ORDER BY id`), firstID, lastID)
	if err != nil {
		return nil, fmt.Errorf("unfinished tasks %d..%d: %w", firstID, lastID, s.mapErr(err))
	}
	return s.scanActive(rows)
}

// TaskActiveRuns returns the pending and running tasks of assets per run,
// as stretches of consecutive ids. One recursive statement walks each
// unfinished run's stretches of each asset: a stretch starts at the first
// unfinished task of the asset after the previous stretch's end and ends
// before the run's next finished task (whatever its asset: between two
// tasks of the asset there are only tasks of the asset) or at the asset's
// last unfinished task, each found by an index seek.
//
// Each seek is written "ORDER BY <an index's columns> LIMIT 1", its
// equalities as Dialect.SeekEq says: only tasks_asset_active (asset, id)
// and tasks_run_state (run_id, state, id) give that order (on SQLite every
// index ends with the id), so PostgreSQL cannot walk the primary key from
// the run's first task and filter (a million rows when the asset's tasks
// come late in the run), as it did with min(id) and with plain equalities
// whenever its statistics were older than the backfill's progress.
func (s *Store) TaskActiveRuns(ctx context.Context, assets []string) ([]store.ActiveRun, error) {
	if len(assets) == 0 {
		return nil, nil
	}
	const active = `state IN ('pending', 'running')`
	// first is the asset's first unfinished task after x, up to hi.
	first := func(asset, x, hi string) string {
		return `(SELECT id FROM tasks WHERE ` + s.seekEq("asset", asset) + ` AND ` + active + ` AND id > ` + x + ` AND id <= ` + hi + ` ORDER BY asset, id LIMIT 1)`
	}
	// fin is the run's first finished task after x.
	fin := func(run, x string) string {
		q := `(SELECT min(v) FROM (`
		for i, state := range []store.TaskState{store.TaskSucceeded, store.TaskFailed, store.TaskSkipped, store.TaskCancelled} {
			if i > 0 {
				q += ` UNION ALL `
			}
			// run_id stays an equality: after a range on the first
			// column PostgreSQL's scan does not stop at the state's end.
			q += `SELECT (SELECT id FROM tasks WHERE run_id = ` + run + ` AND ` + s.seekEq("state", "'"+string(state)+"'") + ` AND id > ` + x +
				` ORDER BY state, id LIMIT 1) AS v`
		}
		return q + `) f)`
	}
	rs := newRowset("text")
	for _, a := range assets {
		rs.add(a)
	}
	v, args := s.from(rs)
	query := `WITH RECURSIVE rc(asset, run_id, tasks, parts, f, l) AS (
			SELECT c.asset, c.run_id, sum(c.tasks), sum(c.partitions), r.first_task_id, r.last_task_id
			FROM runs r JOIN run_counts c ON c.run_id = r.id
			WHERE r.finished_at IS NULL AND c.asset IN (SELECT column1 FROM ` + v + `) AND c.state IN ('pending', 'running')
			GROUP BY c.asset, c.run_id, r.first_task_id, r.last_task_id HAVING sum(c.tasks) > 0),
		b(asset, run_id, tasks, parts, lo, hi) AS (SELECT asset, run_id, tasks, parts, ` + first("rc.asset", "rc.f - 1", "rc.l") + `,
			(SELECT id FROM tasks WHERE ` + s.seekEq("asset", "rc.asset") + ` AND ` + active + ` AND id BETWEEN rc.f AND rc.l ORDER BY asset DESC, id DESC LIMIT 1) FROM rc),
		s(asset, run_id, hi, lo, fin) AS (SELECT asset, run_id, hi, lo, ` + fin("b.run_id", "b.lo") + ` FROM b WHERE lo IS NOT NULL
			UNION ALL
			SELECT asset, run_id, hi, ` + first("s.asset", "s.fin", "s.hi") + `, ` + fin("s.run_id", first("s.asset", "s.fin", "s.hi")) + ` FROM s
			WHERE s.fin IS NOT NULL AND ` + first("s.asset", "s.fin", "s.hi") + ` IS NOT NULL),
		st(asset, run_id, lo, hi) AS (SELECT asset, run_id, lo, CASE WHEN fin IS NULL OR fin > hi THEN hi ELSE fin - 1 END FROM s)
		SELECT st.asset, st.run_id, b.tasks, b.parts, st.lo, st.hi, t1.partition_first, t2.partition_last
		FROM st JOIN b ON b.asset = st.asset AND b.run_id = st.run_id JOIN tasks t1 ON t1.id = st.lo JOIN tasks t2 ON t2.id = st.hi
		ORDER BY st.asset, st.run_id, st.lo`
	rows, err := s.db.QueryContext(ctx, s.q(query), s.perRun(args)...)
	if err != nil {
		return nil, fmt.Errorf("active tasks of %s: %w", strings.Join(assets, ", "), s.mapErr(err))
	}
	defer rows.Close()
	var out []store.ActiveRun
	for rows.Next() {
		var run store.ActiveRun
		var st store.TaskStretch
		if err := rows.Scan(&run.Asset, &run.RunID, &run.Tasks, &run.Partitions, &st.FirstTaskID, &st.LastTaskID, &st.PartitionFirst, &st.PartitionLast); err != nil {
			return nil, fmt.Errorf("active tasks: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Asset != run.Asset || out[n-1].RunID != run.RunID {
			out = append(out, run)
		}
		last := &out[len(out)-1]
		last.Stretches = append(last.Stretches, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active tasks of %s: %w", strings.Join(assets, ", "), s.mapErr(err))
	}
	return out, nil
}

// TaskRetryList returns a run's tasks that needed more than one attempt
// in a phase.
func (s *Store) TaskRetryList(ctx context.Context, runID int64) ([]store.TaskRetry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT a.task_id, a.phase, count(*) FROM task_attempts a JOIN tasks t ON t.id = a.task_id
		WHERE t.run_id = ? AND a.state != ? GROUP BY a.task_id, a.phase HAVING count(*) > 1 ORDER BY a.task_id, a.phase`), runID, store.AttemptReleased)
	if err != nil {
		return nil, fmt.Errorf("retried tasks of run %d: %w", runID, s.mapErr(err))
	}
	defer rows.Close()
	var out []store.TaskRetry
	for rows.Next() {
		var r store.TaskRetry
		if err := rows.Scan(&r.TaskID, &r.Phase, &r.Attempts); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, s.mapErr(rows.Err())
}

// TaskGet returns a task and its attempts.
func (s *Store) TaskGet(ctx context.Context, id int64) (*store.Task, []*store.TaskAttempt, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, s.q(`SELECT `+taskColumns+` FROM tasks WHERE id = ?`), id))
	if err != nil {
		return nil, nil, fmt.Errorf("get task %d: %w", id, s.mapErr(err))
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+attemptColumns+` FROM task_attempts WHERE task_id = ? ORDER BY attempt`), id)
	if err != nil {
		return nil, nil, fmt.Errorf("get task %d: %w", id, s.mapErr(err))
	}
	var attempts []*store.TaskAttempt
	err = scanAttempts(rows, func(a *store.TaskAttempt) error {
		attempts = append(attempts, a)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("get task %d: %w", id, s.mapErr(err))
	}
	return t, attempts, nil
}

const attemptColumns = `task_id, attempt, phase, worker, state, started_at, finished_at, error, version`

// scanAttempts calls fn with each row of attemptColumns and closes rows.
func scanAttempts(rows *sql.Rows, fn func(*store.TaskAttempt) error) error {
	defer rows.Close()
	for rows.Next() {
		var a store.TaskAttempt
		var started, finished dbTime
		if err := rows.Scan(&a.TaskID, &a.Attempt, &a.Phase, &a.Worker, &a.State, &started, &finished, &a.Error, &a.Version); err != nil {
			return err
		}
		a.StartedAt, a.FinishedAt = started.t, finished.t
		if err := fn(&a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AttemptEach streams every task attempt.
func (s *Store) AttemptEach(ctx context.Context, fn func(*store.TaskAttempt) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+attemptColumns+` FROM task_attempts ORDER BY task_id, attempt`)
	if err != nil {
		return fmt.Errorf("list task attempts: %w", s.mapErr(err))
	}
	if err := scanAttempts(rows, fn); err != nil {
		return fmt.Errorf("list task attempts: %w", s.mapErr(err))
	}
	return nil
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
	// A ready task has waited since the latest of: its run's creation,
	// its last upstream's success (ready_at), its retry's backoff end.
	// The time column's branch first: PostgreSQL types a UNION's NULLs
	// from the branches before them.
	rows, err := s.db.QueryContext(ctx, `SELECT t.pool, -1, 0, count(*), min(coalesce(t.not_before, t.ready_at, r.created_at)) FROM tasks t
			JOIN runs r ON r.id = t.run_id WHERE t.state = 'pending' AND t.waiting = 0 AND r.status = 'running' GROUP BY t.pool
		UNION ALL SELECT name, max_running, 0, 0, NULL FROM pools
		UNION ALL SELECT pool, -1, count(*), 0, NULL FROM tasks WHERE state = 'running' GROUP BY pool`)
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", s.mapErr(err))
	}
	defer rows.Close()
	byName := map[string]*store.Pool{}
	var names []string
	for rows.Next() {
		var name string
		var maxRunning, running, ready int
		var since dbTime
		if err := rows.Scan(&name, &maxRunning, &running, &ready, &since); err != nil {
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
		p.Ready += ready
		if !since.t.IsZero() {
			p.ReadySince = since.t
		}
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
