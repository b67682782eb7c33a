package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/weir-dev/weir/store"
)

// WorkerRegister records a worker that starts.
func (s *Store) WorkerRegister(ctx context.Context, p store.WorkerRegisterParams) error {
	if p.ID == "" {
		return fmt.Errorf("register worker: an id is required")
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO workers (id, host, pid, pools, concurrency, lease_seconds, started_at, heartbeat_at, stopped_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)
		ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, pools = excluded.pools, concurrency = excluded.concurrency,
			lease_seconds = excluded.lease_seconds, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`),
		p.ID, p.Host, p.PID, strings.Join(p.Pools, ","), p.Concurrency, p.LeaseTimeout.Seconds(), s.t(p.At), s.t(p.At))
	if err != nil {
		return fmt.Errorf("register worker %s: %w", p.ID, s.mapErr(err))
	}
	return nil
}

// WorkerStop records that a worker stopped.
func (s *Store) WorkerStop(ctx context.Context, id string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE workers SET stopped_at = ? WHERE id = ? AND stopped_at IS NULL`), s.t(at), id); err != nil {
		return fmt.Errorf("stop worker %s: %w", id, s.mapErr(err))
	}
	return nil
}

// WorkerList returns workers with their running tasks.
func (s *Store) WorkerList(ctx context.Context, p store.WorkerListParams) ([]*store.Worker, error) {
	q := `SELECT w.id, w.host, w.pid, w.pools, w.concurrency, w.lease_seconds, w.started_at, w.heartbeat_at, w.stopped_at,
		(SELECT count(*) FROM tasks t WHERE t.worker = w.id AND t.state = 'running')
		FROM workers w WHERE 1 = 1`
	var args []any
	if p.Host != "" {
		q += ` AND w.host = ?`
		args = append(args, p.Host)
	}
	if p.Active {
		q += ` AND w.stopped_at IS NULL`
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+` ORDER BY w.id`), args...)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []*store.Worker
	for rows.Next() {
		var w store.Worker
		var pools string
		var lease float64
		var started, beat, stopped dbTime
		if err := rows.Scan(&w.ID, &w.Host, &w.PID, &pools, &w.Concurrency, &lease, &started, &beat, &stopped, &w.Running); err != nil {
			return nil, fmt.Errorf("list workers: %w", err)
		}
		if pools != "" {
			w.Pools = strings.Split(pools, ",")
		}
		w.LeaseTimeout = time.Duration(lease * float64(time.Second))
		w.StartedAt, w.HeartbeatAt, w.StoppedAt = started.t, beat.t, stopped.t
		out = append(out, &w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list workers: %w", s.mapErr(err))
	}
	return out, nil
}

// reapDeadWorkers returns the running tasks of workers known to be gone,
// and records the workers as stopped.
func (s *Store) reapDeadWorkers(ctx context.Context, tx *sql.Tx, dead []string, now time.Time) ([]*store.Task, error) {
	if len(dead) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(dead))
	for _, id := range dead {
		args = append(args, id)
	}
	tasks, err := s.queryTasks(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE state = 'running' AND worker IN (`+marks(len(dead))+`) ORDER BY id`+s.d.SkipLocked, args...)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE workers SET stopped_at = ? WHERE stopped_at IS NULL AND id IN (`+marks(len(dead))+`)`), append([]any{s.t(now)}, args...)...); err != nil {
		return nil, err
	}
	return tasks, nil
}
