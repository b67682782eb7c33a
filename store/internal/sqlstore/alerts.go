package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/weir-dev/weir/store"
)

const alertColumns = `id, sink, dedup_key, kind, severity, asset, partitions, run_id, message, at, attempts, next_at, delivered_at, last_error`

func scanAlert(row scanner) (store.Alert, error) {
	var a store.Alert
	var at, next, delivered dbTime
	err := row.Scan(&a.ID, &a.Sink, &a.DedupKey, &a.Kind, &a.Severity, &a.Asset, &a.Partitions, &a.RunID, &a.Message,
		&at, &a.Attempts, &next, &delivered, &a.LastError)
	a.At, a.NextAt, a.DeliveredAt = at.t, next.t, delivered.t
	return a, err
}

// AlertInsertMany records alerts, leaving those recorded already.
func (s *Store) AlertInsertMany(ctx context.Context, alerts []store.Alert) (int, error) {
	n := 0
	for _, a := range alerts {
		if a.Sink == "" || a.DedupKey == "" {
			return n, fmt.Errorf("alert %q: sink and dedup key are required", a.Kind)
		}
		next := a.NextAt
		if next.IsZero() {
			next = a.At
		}
		res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO alerts (sink, dedup_key, kind, severity, asset, partitions, run_id, message, at, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sink, dedup_key) DO NOTHING`),
			a.Sink, a.DedupKey, a.Kind, a.Severity, a.Asset, a.Partitions, a.RunID, a.Message, s.t(a.At), s.t(next))
		if err != nil {
			return n, fmt.Errorf("record alert %s for %s: %w", a.DedupKey, a.Sink, s.mapErr(err))
		}
		if k, err := res.RowsAffected(); err == nil {
			n += int(k)
		}
	}
	return n, nil
}

// AlertDueList returns undelivered alerts due at now, oldest first.
func (s *Store) AlertDueList(ctx context.Context, now time.Time, limit int) ([]store.Alert, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.alerts(ctx, `WHERE delivered_at IS NULL AND next_at <= ? ORDER BY next_at, id LIMIT ?`, s.t(now), limit)
}

// AlertList returns alerts, newest first.
func (s *Store) AlertList(ctx context.Context, p store.AlertListParams) ([]store.Alert, error) {
	var where []string
	var args []any
	if p.Kind != "" {
		where, args = append(where, `kind = ?`), append(args, p.Kind)
	}
	if p.Sink != "" {
		where, args = append(where, `sink = ?`), append(args, p.Sink)
	}
	if p.Undelivered {
		where = append(where, `delivered_at IS NULL`)
	}
	q := ``
	if len(where) > 0 {
		q = `WHERE ` + strings.Join(where, ` AND `)
	}
	limit := p.Limit
	switch {
	case limit == 0:
		limit = 50
	case limit < 0:
		limit = 1 << 62
	}
	return s.alerts(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
}

func (s *Store) alerts(ctx context.Context, tail string, args ...any) ([]store.Alert, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+alertColumns+` FROM alerts `+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", s.mapErr(err))
	}
	defer rows.Close()
	var out []store.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, s.mapErr(rows.Err())
}

// AlertDelivered records an alert's delivery.
func (s *Store) AlertDelivered(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE alerts SET delivered_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ? AND delivered_at IS NULL`), s.t(at), id)
	return s.alertUpdated(res, err, id)
}

// AlertRetry records a failed delivery and when to try again.
func (s *Store) AlertRetry(ctx context.Context, p store.AlertRetryParams) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE alerts SET next_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ? AND delivered_at IS NULL`),
		s.t(p.NextAt), p.Error, p.ID)
	return s.alertUpdated(res, err, p.ID)
}

func (s *Store) alertUpdated(res interface{ RowsAffected() (int64, error) }, err error, id int64) error {
	if err != nil {
		return fmt.Errorf("alert %d: %w", id, s.mapErr(err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("alert %d: %w (or delivered already)", id, store.ErrNotFound)
	}
	return nil
}
