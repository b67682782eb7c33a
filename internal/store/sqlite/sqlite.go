// Package sqlite is the embedded state-store driver: one SQLite file through
// modernc.org/sqlite (pure Go), in WAL mode, with one connection (measured
// faster than a pool on SQLite, and a pool once starved a writer into
// SQLITE_BUSY) and BEGIN IMMEDIATE transactions. It registers the sqlite://
// scheme with the store package.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/weir-dev/weir/internal/store"
)

func init() {
	store.Register("sqlite", func(ctx context.Context, u *url.URL) (store.Store, error) {
		if len(u.Query()) > 0 {
			return nil, fmt.Errorf("store URL %q: sqlite takes no options (got %q)", u.Redacted(), u.RawQuery)
		}
		path := u.Host + u.Path // sqlite://.weir/state.db is relative, sqlite:///var/weir.db absolute
		if u.Opaque != "" {
			path = u.Opaque
		}
		if path == "" {
			return nil, fmt.Errorf("store URL %q names no file; use sqlite://PATH, e.g. sqlite://.weir/state.db", u.Redacted())
		}
		return Open(ctx, path)
	})
}

// Store is the SQLite state store.
type Store struct {
	db   *sql.DB
	path string
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed, with its directory) the SQLite database at
// path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite store path %q may not contain '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
		}
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return mapErr(err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return mapErr(err)
	}
	if have > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this weir knows (%d); upgrade weir", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, fmtTime(time.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in a BEGIN IMMEDIATE transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return mapErr(err)
	}
	return mapErr(tx.Commit())
}

// mapErr maps SQLite errors to the store's errors: the one place that knows
// SQLite's error codes.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("sqlite store is locked by another process (another weir writing to the same file?): %w", err)
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("sqlite store is read-only: %w", err)
		}
	}
	return err
}

// timeLayout sorts as text and reads as time in SQL.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

func parseTime(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, s.String)
	if err != nil {
		return time.Time{}
	}
	return t
}

// batch calls fn for consecutive slices of at most n items.
func batch[T any](items []T, n int, fn func([]T) error) error {
	for len(items) > 0 {
		k := min(n, len(items))
		if err := fn(items[:k]); err != nil {
			return err
		}
		items = items[k:]
	}
	return nil
}

func placeholders(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

// RunInsert stores the run and its tasks in one transaction.
func (s *Store) RunInsert(ctx context.Context, p store.RunInsertParams) (*store.Run, int64, error) {
	assets, err := json.Marshal(p.Assets)
	if err != nil {
		return nil, 0, err
	}
	var runID, first int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO runs (kind, selection, assets, partitions, reprocess, status, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			p.Kind, p.Selection, string(assets), p.Partitions, p.Reprocess, store.RunRunning, p.CreatedBy, fmtTime(p.CreatedAt)).Scan(&runID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM tasks`).Scan(&first); err != nil {
			return err
		}
		next := first
		const cols = 10
		return batch(p.Tasks, 3000/cols, func(ts []store.TaskInsertParams) error {
			args := make([]any, 0, len(ts)*cols)
			for _, t := range ts {
				args = append(args, next, runID, t.Asset, t.PartitionFirst, t.PartitionLast, t.PartitionCount, store.TaskPending, max(t.MaxAttempts, 1), t.Pool, t.Priority)
				next++
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO tasks (id, run_id, asset, partition_first, partition_last, partition_count, state, max_attempts, pool, priority) VALUES `+placeholders(len(ts), cols), args...)
			return err
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("insert run: %w", err)
	}
	run, err := s.RunGet(ctx, runID)
	return run, first, err
}

// RunFinish records the run's end.
func (s *Store) RunFinish(ctx context.Context, p store.RunFinishParams) error {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?`, p.Status, p.Error, fmtTime(p.FinishedAt), p.ID)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", p.ID, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish run %d: %w", p.ID, store.ErrNotFound)
	}
	return nil
}

const runColumns = `id, kind, selection, assets, partitions, reprocess, status, created_by, created_at, finished_at, error`

func scanRun(row interface{ Scan(...any) error }) (*store.Run, error) {
	var r store.Run
	var assets string
	var created, finished sql.NullString
	if err := row.Scan(&r.ID, &r.Kind, &r.Selection, &assets, &r.Partitions, &r.Reprocess, &r.Status, &r.CreatedBy, &created, &finished, &r.Error); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(assets), &r.Assets); err != nil {
		return nil, fmt.Errorf("run %d: assets column: %w", r.ID, err)
	}
	r.CreatedAt, r.FinishedAt = parseTime(created), parseTime(finished)
	r.Tasks = map[store.TaskState]int64{}
	return &r, nil
}

// RunGet returns one run with its task counts.
func (s *Store) RunGet(ctx context.Context, id int64) (*store.Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get run %d: %w", id, mapErr(err))
	}
	if err := s.countTasks(ctx, map[int64]*store.Run{id: r}); err != nil {
		return nil, err
	}
	return r, nil
}

// RunList returns runs, newest first.
func (s *Store) RunList(ctx context.Context, p store.RunListParams) ([]*store.Run, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", mapErr(err))
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
		return nil, fmt.Errorf("list runs: %w", mapErr(err))
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
	rows, err := s.db.QueryContext(ctx, `SELECT run_id, state, count(*) FROM tasks WHERE run_id BETWEEN ? AND ? GROUP BY run_id, state`, lo, hi)
	if err != nil {
		return fmt.Errorf("count tasks: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		var state store.TaskState
		if err := rows.Scan(&id, &state, &n); err != nil {
			return err
		}
		if r, ok := runs[id]; ok {
			r.Tasks[state] = n
		}
	}
	return mapErr(rows.Err())
}

// TaskStart begins an attempt of a pending task.
func (s *Store) TaskStart(ctx context.Context, p store.TaskStartParams) (int64, error) {
	var token int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var attempt int
		err := tx.QueryRowContext(ctx, `UPDATE tasks SET state = 'running', attempt = attempt + 1, lease_token = lease_token + 1,
				worker = ?, started_at = ?, finished_at = NULL, not_before = NULL, error = ''
			WHERE id = ? AND state = 'pending' RETURNING attempt, lease_token`, p.Worker, fmtTime(p.At), p.ID).Scan(&attempt, &token)
		if errors.Is(err, sql.ErrNoRows) {
			var state string
			if err := tx.QueryRowContext(ctx, `SELECT state FROM tasks WHERE id = ?`, p.ID).Scan(&state); err != nil {
				return err
			}
			return fmt.Errorf("task is %s, not pending", state)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO task_attempts (task_id, attempt, worker, state, started_at) VALUES (?, ?, ?, 'running', ?)`,
			p.ID, attempt, p.Worker, fmtTime(p.At))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start task %d: %w", p.ID, err)
	}
	return token, nil
}

// TaskFinish ends the attempt holding p.LeaseToken.
func (s *Store) TaskFinish(ctx context.Context, p store.TaskFinishParams) error {
	switch p.State {
	case store.TaskSucceeded, store.TaskFailed, store.TaskCancelled, store.TaskPending:
	default:
		return fmt.Errorf("finish task %d: state %q is not succeeded, failed, cancelled or pending (retry)", p.ID, p.State)
	}
	attemptState := p.State
	if p.State == store.TaskPending {
		attemptState = store.TaskFailed
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var attempt int
		err := tx.QueryRowContext(ctx, `UPDATE tasks SET state = ?, error = ?, not_before = ?, finished_at = ?
			WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING attempt`,
			p.State, p.Error, nullTime(p.NotBefore), fmtTime(p.At), p.ID, p.LeaseToken).Scan(&attempt)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE task_attempts SET state = ?, error = ?, finished_at = ? WHERE task_id = ? AND attempt = ?`,
			attemptState, p.Error, fmtTime(p.At), p.ID, attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish task %d: %w", p.ID, err)
	}
	return nil
}

// TaskSkipMany skips pending tasks.
func (s *Store) TaskSkipMany(ctx context.Context, p store.TaskSkipManyParams) error {
	state := p.State
	switch state {
	case "":
		state = store.TaskSkipped
	case store.TaskSkipped, store.TaskCancelled:
	default:
		return fmt.Errorf("skip tasks: state %q is not skipped or cancelled", state)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return batch(p.IDs, 500, func(ids []int64) error {
			args := []any{state, p.Reason, fmtTime(p.At)}
			for _, id := range ids {
				args = append(args, id)
			}
			_, err := tx.ExecContext(ctx, `UPDATE tasks SET state = ?, error = ?, finished_at = ?
				WHERE state = 'pending' AND id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`)`, args...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("skip tasks: %w", err)
	}
	return nil
}

const taskColumns = `id, run_id, asset, partition_first, partition_last, partition_count, state, attempt, max_attempts, pool, priority,
	not_before, lease_token, worker, started_at, finished_at, error`

func scanTask(row interface{ Scan(...any) error }) (*store.Task, error) {
	var t store.Task
	var notBefore, started, finished sql.NullString
	err := row.Scan(&t.ID, &t.RunID, &t.Asset, &t.PartitionFirst, &t.PartitionLast, &t.PartitionCount, &t.State, &t.Attempt, &t.MaxAttempts,
		&t.Pool, &t.Priority, &notBefore, &t.LeaseToken, &t.Worker, &started, &finished, &t.Error)
	if err != nil {
		return nil, err
	}
	t.NotBefore, t.StartedAt, t.FinishedAt = parseTime(notBefore), parseTime(started), parseTime(finished)
	return &t, nil
}

// TaskList returns a run's tasks in id order.
func (s *Store) TaskList(ctx context.Context, p store.TaskListParams) ([]*store.Task, error) {
	q := `SELECT ` + taskColumns + ` FROM tasks WHERE run_id = ?`
	args := []any{p.RunID}
	if p.State != "" {
		q += ` AND state = ?`
		args = append(args, p.State)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", mapErr(err))
	}
	defer rows.Close()
	var out []*store.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err())
}

// TaskGet returns a task and its attempts.
func (s *Store) TaskGet(ctx context.Context, id int64) (*store.Task, []*store.TaskAttempt, error) {
	t, err := scanTask(s.db.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`, id))
	if err != nil {
		return nil, nil, fmt.Errorf("get task %d: %w", id, mapErr(err))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT task_id, attempt, worker, state, started_at, finished_at, error FROM task_attempts WHERE task_id = ? ORDER BY attempt`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("get task %d: %w", id, mapErr(err))
	}
	defer rows.Close()
	var attempts []*store.TaskAttempt
	for rows.Next() {
		var a store.TaskAttempt
		var started, finished sql.NullString
		if err := rows.Scan(&a.TaskID, &a.Attempt, &a.Worker, &a.State, &started, &finished, &a.Error); err != nil {
			return nil, nil, err
		}
		a.StartedAt, a.FinishedAt = parseTime(started), parseTime(finished)
		attempts = append(attempts, &a)
	}
	return t, attempts, mapErr(rows.Err())
}

// MaterializationPromote promotes the attempt's versions, fenced by its
// lease token.
func (s *Store) MaterializationPromote(ctx context.Context, p store.MaterializationPromoteParams) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM tasks WHERE id = ? AND lease_token = ? AND state = 'running'`, p.TaskID, p.LeaseToken).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		insMat, err := tx.PrepareContext(ctx, `INSERT INTO materializations (asset, partition_key, version, run_id, task_id, attempt, code_version,
			manifest_sha256, files, bytes, started_at, promoted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
		if err != nil {
			return err
		}
		defer insMat.Close()
		insIn, err := tx.PrepareContext(ctx, `INSERT INTO materialization_inputs (materialization_id, upstream_asset, upstream_partition, upstream_version) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insIn.Close()
		upsert, err := tx.PrepareContext(ctx, `INSERT INTO asset_partitions (asset, partition_key, materialization_id, version, manifest_sha256, failed, failed_run_id, error, updated_at)
			VALUES (?, ?, ?, ?, ?, 0, 0, '', ?)
			ON CONFLICT (asset, partition_key) DO UPDATE SET materialization_id = excluded.materialization_id, version = excluded.version,
				manifest_sha256 = excluded.manifest_sha256, failed = 0, failed_run_id = 0, error = '', updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		defer upsert.Close()
		at := fmtTime(p.PromotedAt)
		for _, pp := range p.Partitions {
			var id int64
			if err := insMat.QueryRowContext(ctx, p.Asset, pp.Key, pp.Version, p.RunID, p.TaskID, p.Attempt, p.CodeVersion, pp.ManifestSHA256,
				pp.Files, pp.Bytes, fmtTime(p.StartedAt), at).Scan(&id); err != nil {
				return err
			}
			for _, in := range pp.Inputs {
				if _, err := insIn.ExecContext(ctx, id, in.Asset, in.PartitionKey, in.Version); err != nil {
					return err
				}
			}
			if _, err := upsert.ExecContext(ctx, p.Asset, pp.Key, id, pp.Version, pp.ManifestSHA256, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("promote %s (task %d): %w", p.Asset, p.TaskID, err)
	}
	return nil
}

// MaterializationList returns an asset's materializations, newest first.
func (s *Store) MaterializationList(ctx context.Context, p store.MaterializationListParams) ([]*store.Materialization, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT id, asset, partition_key, version, run_id, task_id, attempt, code_version, manifest_sha256, files, bytes, started_at, promoted_at
		FROM materializations WHERE asset = ?`
	args := []any{p.Asset}
	if p.PartitionKey != "" {
		q += ` AND partition_key = ?`
		args = append(args, p.PartitionKey)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list materializations: %w", mapErr(err))
	}
	defer rows.Close()
	var out []*store.Materialization
	for rows.Next() {
		var m store.Materialization
		var started, promoted sql.NullString
		if err := rows.Scan(&m.ID, &m.Asset, &m.PartitionKey, &m.Version, &m.RunID, &m.TaskID, &m.Attempt, &m.CodeVersion, &m.ManifestSHA256,
			&m.Files, &m.Bytes, &started, &promoted); err != nil {
			return nil, err
		}
		m.StartedAt, m.PromotedAt = parseTime(started), parseTime(promoted)
		out = append(out, &m)
	}
	return out, mapErr(rows.Err())
}

// MaterializationInputs returns what a materialization read.
func (s *Store) MaterializationInputs(ctx context.Context, id int64) ([]store.Input, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT upstream_asset, upstream_partition, upstream_version FROM materialization_inputs
		WHERE materialization_id = ? ORDER BY upstream_asset, upstream_partition`, id)
	if err != nil {
		return nil, fmt.Errorf("materialization %d inputs: %w", id, mapErr(err))
	}
	defer rows.Close()
	var out []store.Input
	for rows.Next() {
		var in store.Input
		if err := rows.Scan(&in.Asset, &in.PartitionKey, &in.Version); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, mapErr(rows.Err())
}

// PartitionFail records failed partitions.
func (s *Store) PartitionFail(ctx context.Context, p store.PartitionFailParams) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO asset_partitions (asset, partition_key, failed, failed_run_id, error, updated_at) VALUES (?, ?, 1, ?, ?, ?)
			ON CONFLICT (asset, partition_key) DO UPDATE SET failed = 1, failed_run_id = excluded.failed_run_id, error = excluded.error, updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range p.Keys {
			if _, err := st.ExecContext(ctx, p.Asset, k, p.RunID, p.Error, fmtTime(p.At)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record failed partitions of %s: %w", p.Asset, err)
	}
	return nil
}

func scanStatus(rows *sql.Rows) ([]store.PartitionStatus, error) {
	defer rows.Close()
	var out []store.PartitionStatus
	for rows.Next() {
		var ps store.PartitionStatus
		var matID sql.NullInt64
		if err := rows.Scan(&ps.PartitionKey, &ps.Version, &matID, &ps.ManifestSHA256, &ps.Failed, &ps.FailedRunID, &ps.Error); err != nil {
			return nil, err
		}
		ps.MaterializationID = matID.Int64
		out = append(out, ps)
	}
	return out, mapErr(rows.Err())
}

const statusColumns = `partition_key, version, materialization_id, manifest_sha256, failed, failed_run_id, error`

// PartitionStatusList returns every partition of asset with a status.
func (s *Store) PartitionStatusList(ctx context.Context, asset string) ([]store.PartitionStatus, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+statusColumns+` FROM asset_partitions WHERE asset = ? ORDER BY partition_key`, asset)
	if err != nil {
		return nil, fmt.Errorf("partition status of %s: %w", asset, mapErr(err))
	}
	return scanStatus(rows)
}

// PartitionCurrentList returns the current versions of keys.
func (s *Store) PartitionCurrentList(ctx context.Context, asset string, keys []string) ([]store.PartitionStatus, error) {
	var out []store.PartitionStatus
	err := batch(keys, 500, func(ks []string) error {
		args := []any{asset}
		for _, k := range ks {
			args = append(args, k)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT `+statusColumns+` FROM asset_partitions WHERE asset = ? AND version != ''
			AND partition_key IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ks)), ",")+`)`, args...)
		if err != nil {
			return mapErr(err)
		}
		got, err := scanStatus(rows)
		out = append(out, got...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("current versions of %s: %w", asset, err)
	}
	return out, nil
}

// DynamicPartitionAdd appends new keys.
func (s *Store) DynamicPartitionAdd(ctx context.Context, p store.DynamicPartitionAddParams) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM dynamic_partitions WHERE name = ?`, p.Name).Scan(&seq); err != nil {
			return err
		}
		for _, k := range p.Keys {
			res, err := tx.ExecContext(ctx, `INSERT INTO dynamic_partitions (name, key, seq, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				p.Name, k, seq+1, fmtTime(p.At))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				seq++
				added++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add dynamic partitions to %s: %w", p.Name, err)
	}
	return added, nil
}

// DynamicPartitionList returns a dynamic definition's keys in order.
func (s *Store) DynamicPartitionList(ctx context.Context, name string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM dynamic_partitions WHERE name = ? ORDER BY seq`, name)
	if err != nil {
		return nil, fmt.Errorf("list dynamic partitions of %s: %w", name, mapErr(err))
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, mapErr(rows.Err())
}
