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
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-dev/weir/store"
)

// Dialect is what a database needs done its own way.
type Dialect struct {
	// Name names the database in errors.
	Name string
	// Numbered placeholders ($1) instead of '?'.
	Numbered bool
	// Time encodes a time as a query parameter.
	Time func(time.Time) any
	// Seconds is the SQL for the seconds from one time column to another,
	// as a double.
	Seconds func(from, to string) string
	// ArrayType, if set, makes batches pass each column as one array
	// parameter (unnested), so that a statement's text does not vary with
	// the batch's size and stays prepared. It returns the SQL array type of
	// a column kind: "int", "text" or "time". The parameters are
	// []int64, []string and []*time.Time (nil for NULL).
	ArrayType func(kind string) string
	// PlanEachRun, if set, leads the arguments of the statements over a
	// batch's rows (joins against its ids): the driver then plans them on
	// each run with the actual parameters. PostgreSQL otherwise switches a
	// prepared statement to a generic plan after five runs, planned on the
	// table sizes of that moment: a store's tables start empty, so those
	// joins became sequential scans and stayed so as the tables grew. The
	// catalog's joins for one asset (staleness, readers, provenance) take
	// it too: their generic plan hash-joins whole tables.
	PlanEachRun any
	// SeekEq, if set, writes the equality "col = v" of a seek (ORDER BY an
	// index's columns, LIMIT 1) as "col >= v AND col <= v". PostgreSQL drops
	// an equality's column from the order a query wants, and may then walk
	// the primary key, or another index and sort, when its statistics are
	// older than the rows (a backfill's tasks that have finished since it
	// was created); with a range on the column only the index the seek is
	// written for gives the order. SQLite needs the equality: after a range
	// it uses no later column of the index.
	SeekEq bool
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
	// CopyFrom bulk-loads rows into table on the driver connection
	// driverConn, inside its open transaction (PostgreSQL's COPY; SQLite's
	// statements of many rows, on the driver's own prepared statements).
	// next returns the rows one by one, false after the last; a row's
	// slice is the caller's again after next returns.
	CopyFrom func(ctx context.Context, driverConn any, table string, columns []string, next func() ([]any, bool)) (int64, error)
	// Analyze, if set, runs after a run of many tasks is stored, so the
	// planner's statistics know the new rows (PostgreSQL chose a sort of
	// every pending task over the ready-task index without it).
	Analyze string
	// Retryable, if set, reports errors after which a transaction is run
	// again from the start (a deadlock victim, a serialization failure).
	Retryable func(error) bool
	// Schema is the driver's versioned schema.
	Schema Schema
	// ChangeMark is the SQL value of asset_partitions.changed for a row
	// written now, and ChangeWatermark the query for the mark a reader
	// passes next time to read what changed after it read (see
	// PartitionStateChanges): every row committed after the watermark
	// query ran has a mark at least as large. Epoch is the SQL value that
	// tells marks of this database from those of another (a dump
	// restored elsewhere).
	ChangeMark, ChangeWatermark, Epoch string
	// ClockQuery, if set, reads the database's clock. Leases (their
	// expiry, heartbeats, reaping), retry delays and rate spacing are then
	// measured on it instead of the callers' clocks, so hosts whose clocks
	// disagree neither steal live leases nor start tasks faster than a
	// run's rate. Tasks' starts and ends are stamped on it too, so their
	// durations never mix two hosts' clocks; promotions and run events keep
	// the callers' times.
	ClockQuery string
}

// Store implements store.Store.
type Store struct {
	db      countingDB
	d       Dialect
	waker   store.Waker
	closers []func() error
	// noBreaker caches the runs without a circuit breaker (run id ->
	// true), so finishing their tasks skips the breaker's statement.
	noBreaker sync.Map
	// firstWait runs once, at the first TaskWake (see OnFirstWait).
	firstWait     func()
	firstWaitOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// New applies pending migrations and returns the store. It takes ownership
// of db.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: countingDB{DB: db, n: new(atomic.Int64)}, d: d}
	if err := Migrate(ctx, db, d.Schema, s.mapErr); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the database, for the driver's own use.
func (s *Store) DB() *sql.DB { return s.db.DB }

// Transactions returns how many transactions the store has run since it
// was opened (a statement outside a transaction counts as one): what
// `weir bench dispatch` reports per task.
func (s *Store) Transactions() int64 { return s.db.n.Load() }

// countingDB is the database, counting the transactions run on it.
type countingDB struct {
	*sql.DB
	n *atomic.Int64
}

func (db countingDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	db.n.Add(1)
	return db.DB.QueryContext(ctx, query, args...)
}

func (db countingDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	db.n.Add(1)
	return db.DB.QueryRowContext(ctx, query, args...)
}

func (db countingDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	db.n.Add(1)
	return db.DB.ExecContext(ctx, query, args...)
}

func (db countingDB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	db.n.Add(1)
	return db.DB.BeginTx(ctx, opts)
}

func (db countingDB) Conn(ctx context.Context) (*sql.Conn, error) {
	db.n.Add(1) // txConn: one transaction on a connection of its own
	return db.DB.Conn(ctx)
}

// OnClose registers f to run at Close, before the database closes.
func (s *Store) OnClose(f func() error) { s.closers = append(s.closers, f) }

// Wake wakes this process's waiters; drivers call it when another process
// notifies.
func (s *Store) Wake() { s.waker.Notify() }

// TaskWake returns the channel the next wake-up closes.
func (s *Store) TaskWake() <-chan struct{} {
	ch := s.waker.Wait()
	if s.firstWait != nil {
		s.firstWaitOnce.Do(s.firstWait)
	}
	return ch
}

// OnFirstWait registers f to run at the first TaskWake: a driver starts
// listening for other processes' wake-ups there, so a command that never
// waits (a status read, a list) opens no connection for it. f is called
// after the channel is taken, so a wake-up f delivers reaches the caller:
// whatever f starts must wake once it listens, for what came before.
// Call it before the store is shared.
func (s *Store) OnFirstWait(f func()) { s.firstWait = f }

// Close closes the store.
func (s *Store) Close() error {
	var errs []error
	for _, f := range s.closers {
		errs = append(errs, f())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// seekEq is "col = v" for a seek's leading columns (see Dialect.SeekEq).
func (s *Store) seekEq(col, v string) string {
	if s.d.SeekEq {
		return col + " >= " + v + " AND " + col + " <= " + v
	}
	return col + " = " + v
}

// q rewrites '?' placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	return numberPlaceholders(query)
}

// numberPlaceholders turns each '?' placeholder into $1, $2, ...; a '?'
// inside a string literal ('a?b', quotes doubled inside) or a quoted
// identifier ("a?b") is text, not a placeholder.
func numberPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	var quote byte // the quote we are inside, 0 outside
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// now returns the time leases and throttles are measured in: the
// database's when the dialect reads it, else the caller's.
func (s *Store) now(ctx context.Context, tx *sql.Tx, caller time.Time) (time.Time, error) {
	if s.d.ClockQuery == "" {
		return caller, nil
	}
	var t dbTime
	if err := tx.QueryRowContext(ctx, s.d.ClockQuery).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("read the database's clock: %w", err)
	}
	return t.t, nil
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

// tx runs fn in a transaction, again (up to 4 times) when the database
// aborted it for a retryable reason; fn must start from scratch each time.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx1(ctx, nil, fn)
		if err == nil || s.d.Retryable == nil || attempt == 4 || !s.d.Retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// readTx runs fn's reads in one read-only transaction, so that they see
// one moment: on PostgreSQL a repeatable-read snapshot, on SQLite a
// deferred transaction (a WAL snapshot from its first read; the driver
// begins read-only transactions deferred, taking no write lock).
func (s *Store) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.tx1(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn)
}

// txConn runs fn in a transaction on a connection of its own, which fn may
// reach below database/sql (conn.Raw) for the driver's bulk load.
func (s *Store) txConn(ctx context.Context, fn func(*sql.Conn, *sql.Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.mapErr(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(err)
	}
	if err := fn(conn, tx); err != nil {
		tx.Rollback()
		return s.mapErr(err)
	}
	return s.mapErr(tx.Commit())
}

func (s *Store) tx1(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
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

// RowsOf returns the placeholders of a multi-row VALUES list, "(?,?),(?,?)"
// for 2 rows of 2 columns.
func RowsOf(rows, cols int) string {
	row := "(" + marks(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

type scanner interface{ Scan(...any) error }

func (s *Store) notify(ctx context.Context, tx *sql.Tx) error {
	if s.d.Notify == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.Notify)
	return err
}
