// Package sqlstore is the one implementation of store.Store over
// database/sql that the SQLite and PostgreSQL drivers share. A Dialect holds
// what differs (placeholders, time encoding, row locks, the lock that makes
// task ids consecutive, cross-process wake-ups, error codes, DDL); the
// queries are the same, so the drivers cannot drift apart, and the
// conformance suite in storetest checks both.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/weir-dev/weir/internal/store"
)

// Dialect is what a database needs done its own way.
type Dialect struct {
	// Name names the database in errors.
	Name string
	// Numbered placeholders ($1) instead of '?'.
	Numbered bool
	// Time encodes a time as a query parameter.
	Time func(time.Time) any
	// SkipLocked ends the lease candidate query (" FOR UPDATE SKIP LOCKED").
	SkipLocked string
	// ForUpdate ends reads of rows the transaction must lock.
	ForUpdate string
	// RunInsertLock, if set, runs first in RunInsert's transaction so that
	// a run's task ids can be allocated consecutively.
	RunInsertLock string
	// Notify, if set, runs in transactions that make tasks runnable, to
	// wake workers in other processes.
	Notify string
	// MapErr maps the driver's errors to the store's.
	MapErr func(error) error
	// Migrations are the schema versions, applied in order, each once.
	Migrations []string
}

// Store implements store.Store.
type Store struct {
	db      *sql.DB
	d       Dialect
	waker   store.Waker
	closers []func() error
}

var _ store.Store = (*Store)(nil)

// New applies pending migrations and returns the store. It takes ownership
// of db.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the database, for the driver's own use.
func (s *Store) DB() *sql.DB { return s.db }

// OnClose registers f to run at Close, before the database closes.
func (s *Store) OnClose(f func() error) { s.closers = append(s.closers, f) }

// Wake wakes this process's waiters; drivers call it when another process
// notifies.
func (s *Store) Wake() { s.waker.Notify() }

// TaskWake returns the channel the next wake-up closes.
func (s *Store) TaskWake() <-chan struct{} { return s.waker.Wait() }

// Close closes the store.
func (s *Store) Close() error {
	var errs []error
	for _, f := range s.closers {
		errs = append(errs, f())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// q rewrites '?' placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (s *Store) t(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.d.Time(t.UTC())
}

func (s *Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if s.d.MapErr != nil {
		return s.d.MapErr(err)
	}
	return err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return s.mapErr(err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return s.mapErr(err)
	}
	if have > len(s.d.Migrations) {
		return fmt.Errorf("database schema version %d is newer than this weir knows (%d); upgrade weir", have, len(s.d.Migrations))
	}
	for v := have + 1; v <= len(s.d.Migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.d.RunInsertLock != "" { // migrations from several processes at once take turns
				if _, err := tx.ExecContext(ctx, s.d.RunInsertLock); err != nil {
					return err
				}
				var again int
				if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&again); err != nil {
					return err
				}
				if again >= v {
					return nil
				}
			}
			if _, err := tx.ExecContext(ctx, s.d.Migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in a transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.mapErr(err)
	}
	return s.mapErr(tx.Commit())
}

// dbTime scans a time stored as a time or as text.
type dbTime struct{ t time.Time }

// TimeLayout is how text columns hold times: it sorts as text.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		d.t = time.Time{}
	case time.Time:
		d.t = x.UTC()
	case string:
		return d.parse(x)
	case []byte:
		return d.parse(string(x))
	default:
		return fmt.Errorf("cannot scan %T into a time", v)
	}
	return nil
}

func (d *dbTime) parse(s string) error {
	if s == "" {
		d.t = time.Time{}
		return nil
	}
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return fmt.Errorf("time column %q: %w", s, err)
	}
	d.t = t
	return nil
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

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func rowsOf(rows, cols int) string {
	row := "(" + marks(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

type scanner interface{ Scan(...any) error }

// RunInsert stores the run and its tasks in one transaction.
func (s *Store) RunInsert(ctx context.Context, p store.RunInsertParams) (*store.Run, int64, error) {
	assets, err := json.Marshal(p.Assets)
	if err != nil {
		return nil, 0, err
	}
	var runID, first int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if s.d.RunInsertLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.RunInsertLock); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO runs (kind, selection, assets, partitions, reprocess, status, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			p.Kind, p.Selection, string(assets), p.Partitions, p.Reprocess, store.RunRunning, p.CreatedBy, s.t(p.CreatedAt)).Scan(&runID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM tasks`).Scan(&first); err != nil {
			return err
		}
		next := first
		const cols = 13
		err := batch(p.Tasks, 2600/cols, func(ts []store.TaskInsertParams) error {
			args := make([]any, 0, len(ts)*cols)
			for _, t := range ts {
				args = append(args, next, runID, t.Asset, t.PartitionFirst, t.PartitionLast, t.PartitionCount, store.TaskPending,
					max(t.MaxAttempts, 1), t.Pool, t.Priority, t.Rank, t.Waiting, store.EncodeDependents(first, t.Dependents))
				next++
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO tasks (id, run_id, asset, partition_first, partition_last, partition_count, state,
				max_attempts, pool, priority, rank, waiting, dependents) VALUES `+rowsOf(len(ts), cols)), args...)
			return err
		})
		if err != nil {
			return err
		}
		return s.notify(ctx, tx)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("insert run: %w", err)
	}
	s.waker.Notify()
	run, err := s.RunGet(ctx, runID)
	return run, first, err
}

func (s *Store) notify(ctx context.Context, tx *sql.Tx) error {
	if s.d.Notify == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.Notify)
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

const runColumns = `id, kind, selection, assets, partitions, reprocess, status, created_by, created_at, finished_at, error`

func scanRun(row scanner) (*store.Run, error) {
	var r store.Run
	var assets string
	var created, finished dbTime
	if err := row.Scan(&r.ID, &r.Kind, &r.Selection, &assets, &r.Partitions, &r.Reprocess, &r.Status, &r.CreatedBy, &created, &finished, &r.Error); err != nil {
		return nil, err
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
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+runColumns+` FROM runs ORDER BY id DESC LIMIT ?`), limit)
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
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT run_id, state, count(*) FROM tasks WHERE run_id BETWEEN ? AND ? GROUP BY run_id, state`), lo, hi)
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
		if r, ok := runs[id]; ok {
			r.Tasks[state] = n
		}
	}
	return s.mapErr(rows.Err())
}
