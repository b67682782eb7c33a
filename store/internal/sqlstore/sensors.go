package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/weir-dev/weir/store"
)

// SensorCursor returns a sensor's cursor, "" before its first tick.
func (s *Store) SensorCursor(ctx context.Context, name string) (string, error) {
	var c string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT cursor FROM sensors WHERE name = ?`), name).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cursor of sensor %s: %w", name, s.mapErr(err))
	}
	return c, nil
}

// SensorTickRecord records an evaluation that starts no run.
func (s *Store) SensorTickRecord(ctx context.Context, t store.SensorTick) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return s.sensorTick(ctx, tx, t, 0) })
	if err != nil {
		return fmt.Errorf("record a tick of sensor %s: %w", t.Sensor, err)
	}
	return nil
}

// sensorTick moves the sensor's cursor from t.CursorFrom to t.CursorTo
// (compare and set) and records the tick, in tx.
func (s *Store) sensorTick(ctx context.Context, tx *sql.Tx, t store.SensorTick, runID int64) error {
	if t.CursorTo != t.CursorFrom {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO sensors (name, cursor, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at WHERE sensors.cursor = ?`),
			t.Sensor, t.CursorTo, s.t(t.EvaluatedAt), t.CursorFrom)
		if err != nil {
			return s.mapErr(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: sensor %s is not at cursor %q any more", store.ErrSensorMoved, t.Sensor, t.CursorFrom)
		}
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO sensor_ticks (sensor, evaluated_at, cursor_from, cursor_to, arrivals, partitions, run_id, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), t.Sensor, s.t(t.EvaluatedAt), t.CursorFrom, t.CursorTo, t.Arrivals, t.Partitions, runID, t.Error)
	return s.mapErr(err)
}

// SensorTickList returns a sensor's ticks, newest first.
func (s *Store) SensorTickList(ctx context.Context, name string, limit int) ([]store.SensorTick, error) {
	switch {
	case limit == 0:
		limit = 20
	case limit < 0:
		limit = 1 << 62
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, sensor, evaluated_at, cursor_from, cursor_to, arrivals, partitions, run_id, error
		FROM sensor_ticks WHERE sensor = ? ORDER BY id DESC LIMIT ?`), name, limit)
	if err != nil {
		return nil, fmt.Errorf("ticks of sensor %s: %w", name, s.mapErr(err))
	}
	defer rows.Close()
	var out []store.SensorTick
	for rows.Next() {
		var t store.SensorTick
		var at dbTime
		if err := rows.Scan(&t.ID, &t.Sensor, &at, &t.CursorFrom, &t.CursorTo, &t.Arrivals, &t.Partitions, &t.RunID, &t.Error); err != nil {
			return nil, err
		}
		t.EvaluatedAt = at.t
		out = append(out, t)
	}
	return out, s.mapErr(rows.Err())
}
