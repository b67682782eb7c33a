package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/weir-dev/weir/store"
)

const scheduleColumns = `name, paused, since, updated_at`

func scanSchedule(row scanner) (*store.ScheduleState, error) {
	var s store.ScheduleState
	var since, updated dbTime
	if err := row.Scan(&s.Name, &s.Paused, &since, &updated); err != nil {
		return nil, err
	}
	s.Since, s.UpdatedAt = since.t, updated.t
	return &s, nil
}

// ScheduleGet returns a schedule's state, recording it the first time.
func (s *Store) ScheduleGet(ctx context.Context, name string, at time.Time) (*store.ScheduleState, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO schedules (name, paused, since, updated_at) VALUES (?, FALSE, ?, ?)
		ON CONFLICT (name) DO NOTHING`), name, s.t(at), s.t(at)); err != nil {
		return nil, fmt.Errorf("schedule %s: %w", name, s.mapErr(err))
	}
	st, err := scanSchedule(s.db.QueryRowContext(ctx, s.q(`SELECT `+scheduleColumns+` FROM schedules WHERE name = ?`), name))
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", name, s.mapErr(err))
	}
	return st, nil
}

// ScheduleList returns the schedules the store has seen.
func (s *Store) ScheduleList(ctx context.Context) ([]*store.ScheduleState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+scheduleColumns+` FROM schedules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []*store.ScheduleState
	for rows.Next() {
		st, err := scanSchedule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, s.mapErr(rows.Err())
}

// ScheduleSetPaused pauses or resumes a schedule.
func (s *Store) ScheduleSetPaused(ctx context.Context, name string, paused bool, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO schedules (name, paused, since, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`), name, paused, s.t(at), s.t(at))
	if err != nil {
		return fmt.Errorf("set schedule %s paused %v: %w", name, paused, s.mapErr(err))
	}
	return nil
}

// TickList returns a schedule's ticks, newest first.
func (s *Store) TickList(ctx context.Context, p store.TickListParams) ([]store.Tick, error) {
	limit := p.Limit
	switch {
	case limit < 0:
		limit = 1 << 62
	case limit == 0:
		limit = 20
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT schedule, scheduled_at, fired_at, run_id, skipped FROM schedule_ticks
		WHERE schedule = ? ORDER BY scheduled_at DESC LIMIT ?`), p.Schedule, limit)
	if err != nil {
		return nil, fmt.Errorf("ticks of %s: %w", p.Schedule, s.mapErr(err))
	}
	defer rows.Close()
	var out []store.Tick
	for rows.Next() {
		var t store.Tick
		var scheduled, fired dbTime
		if err := rows.Scan(&t.Schedule, &scheduled, &fired, &t.RunID, &t.Skipped); err != nil {
			return nil, err
		}
		t.ScheduledAt, t.FiredAt = scheduled.t, fired.t
		out = append(out, t)
	}
	return out, s.mapErr(rows.Err())
}

// TickSkip records ticks that did not fire.
func (s *Store) TickSkip(ctx context.Context, ticks []store.Tick) error {
	if len(ticks) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := s.insertTicks(ctx, tx, ticks, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("record %d skipped ticks: %w", len(ticks), err)
	}
	return nil
}

// insertTicks records ticks (with runID, if not 0) and returns how many were
// new.
func (s *Store) insertTicks(ctx context.Context, tx *sql.Tx, ticks []store.Tick, runID int64) (int64, error) {
	var n int64
	err := batch(ticks, maxBatchRows, func(ticks []store.Tick) error {
		rs := newRowset("text", "time", "time", "int", "text")
		for _, t := range ticks {
			id := t.RunID
			if runID != 0 {
				id = runID
			}
			rs.add(t.Schedule, s.t(t.ScheduledAt), s.t(t.FiredAt), id, t.Skipped)
		}
		v, args := s.from(rs)
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO schedule_ticks (schedule, scheduled_at, fired_at, run_id, skipped)
			SELECT `+columns(5)+` FROM `+v+` WHERE true ON CONFLICT (schedule, scheduled_at) DO NOTHING`), s.perRun(args)...)
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		n += k
		return err
	})
	return n, err
}

// LeaderRelease ends a holder's lease of a role.
func (s *Store) LeaderRelease(ctx context.Context, role, holder string) error {
	// Expired since the epoch: free to the next holder, whatever its clock.
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE leaders SET expires_at = ? WHERE role = ? AND holder = ?`),
		s.t(time.Unix(0, 0)), role, holder); err != nil {
		return fmt.Errorf("release %s as %s: %w", role, holder, s.mapErr(err))
	}
	return nil
}

// LeaderAcquire takes or renews a role's lease.
func (s *Store) LeaderAcquire(ctx context.Context, p store.LeaderParams) (*store.Leader, error) {
	var l store.Leader
	err := s.tx(ctx, func(tx *sql.Tx) error {
		clock, err := s.clock(ctx, tx)
		if err != nil {
			return err
		}
		now := clock(p.Now)
		expires := now.Add(p.TTL)
		l = store.Leader{Role: p.Role, Holder: p.Holder, ExpiresAt: expires, Leading: true}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO leaders (role, holder, token, expires_at) VALUES (?, ?, 1, ?) ON CONFLICT (role) DO NOTHING`),
			p.Role, p.Holder, s.t(expires))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			l.Token = 1
			return nil
		}
		err = tx.QueryRowContext(ctx, s.q(`UPDATE leaders SET token = CASE WHEN holder = ? THEN token ELSE token + 1 END, holder = ?, expires_at = ?
			WHERE role = ? AND (holder = ? OR expires_at < ?) RETURNING token`), p.Holder, p.Holder, s.t(expires), p.Role, p.Holder, s.t(now)).Scan(&l.Token)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var at dbTime
		l.Leading = false
		if err := tx.QueryRowContext(ctx, s.q(`SELECT holder, token, expires_at FROM leaders WHERE role = ?`), p.Role).Scan(&l.Holder, &l.Token, &at); err != nil {
			return err
		}
		l.ExpiresAt = at.t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lead %s as %s: %w", p.Role, p.Holder, err)
	}
	return &l, nil
}

// CursorGet returns a named cursor.
func (s *Store) CursorGet(ctx context.Context, name string) (int64, bool, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM cursors WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cursor %s: %w", name, s.mapErr(err))
	}
	return v, true, nil
}

// CursorSet sets a named cursor.
func (s *Store) CursorSet(ctx context.Context, name string, value int64) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO cursors (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`), name, value); err != nil {
		return fmt.Errorf("set cursor %s: %w", name, s.mapErr(err))
	}
	return nil
}
