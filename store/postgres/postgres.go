// Package postgres is the PostgreSQL state-store driver, for workers on many
// hosts: pgx/v5 through database/sql, tasks leased with FOR UPDATE SKIP
// LOCKED, pool quotas counted under the pool row's lock, and LISTEN/NOTIFY
// to wake workers as soon as tasks become runnable. It registers the
// postgres:// and postgresql:// schemes with the store package.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/weir-dev/weir/internal/urlredact"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/internal/sqlstore"
)

func init() {
	for _, scheme := range []string{"postgres", "postgresql"} {
		store.Register(scheme, func(ctx context.Context, u *url.URL) (store.Store, error) { return Open(ctx, u.String()) })
	}
}

// arrayTypes are the array types batches pass their columns as.
var arrayTypes = map[string]string{"int": "BIGINT[]", "text": "TEXT[]", "time": "TIMESTAMPTZ[]"}

// channel returns the LISTEN/NOTIFY channel for the task wake-ups of the
// store in schemaName. Channels are per database, not per schema: with one
// name for all, the stores of one database (a team's staging and
// production schemas, every test's schema) woke each other's workers for
// lease queries that found nothing.
func channel(schemaName string) string {
	return fmt.Sprintf("weir_tasks_%08x", crc32.ChecksumIEEE([]byte(schemaName)))
}

var dialect = sqlstore.Dialect{
	Name:     "postgres",
	Numbered: true,
	Time:     func(t time.Time) any { return t.UTC() },
	Seconds: func(from, to string) string {
		return "CAST(extract(epoch FROM " + to + " - " + from + ") AS DOUBLE PRECISION)"
	},
	ArrayType:     func(kind string) string { return arrayTypes[kind] },
	SeekEq:        true,
	SkipLocked:    " FOR UPDATE SKIP LOCKED",
	ForUpdate:     " FOR UPDATE",
	RunInsertLock: "SELECT pg_advisory_xact_lock(7861657)", // consecutive task ids, one run insert at a time
	MapErr:        mapErr,
	Retryable:     retryable,
	CopyFrom:      copyFrom,
	Analyze:       "ANALYZE tasks",
	// The unnamed statement, planned with each run's parameters; the
	// session's other statements (and the foreign keys' checks, planned
	// once per connection) keep their cached plans. The statement's
	// description (its parameters' and columns' types) is cached per
	// connection, so the arrays go over in binary and the rows come back
	// in binary: QueryExecModeExec sent them as text, which both pgx and
	// the server spent ~6 % of a dispatch's CPU formatting and parsing
	// (timestamps most), in one round trip all the same.
	PlanEachRun: pgx.QueryExecModeCacheDescribe,
	// A row's mark is its transaction's id; the watermark, the oldest
	// transaction still running (those later commit marks >= it).
	ChangeMark:      "pg_current_xact_id()::text::bigint",
	ChangeWatermark: "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
	Epoch:           "(SELECT oid::bigint FROM pg_database WHERE datname = current_database())",
}

//go:embed migrations/*.sql
var migrations embed.FS

// schema returns the versioned schema, locked per PostgreSQL schema: the
// advisory lock's id is derived from the schema name, so stores in
// different schemas of one database migrate independently.
func schema(schemaName string) (sqlstore.Schema, error) {
	id := int64(crc32.ChecksumIEEE([]byte("weir migrations " + schemaName)))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
	if err != nil {
		return sqlstore.Schema{}, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return sqlstore.Schema{}, err
	}
	return sqlstore.Schema{
		FS:            sub,
		Goose:         goose.DialectPostgres,
		SessionLocker: locker,
		AdoptLock:     fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", id),
		// to_regclass looks the name up in the catalog's cache; the view
		// pg_tables joined three catalogs, and a new connection (every
		// command) spent ~7 ms parsing and planning it.
		TableExists: "SELECT 1 WHERE to_regclass(format('%I.%I', current_schema(), $1::text)) IS NOT NULL",
	}, nil
}

// copyFrom bulk-loads rows with COPY on the pgx connection under
// database/sql, inside its open transaction.
func copyFrom(ctx context.Context, driverConn any, table string, columns []string, next func() ([]any, bool)) (int64, error) {
	c, ok := driverConn.(*stdlib.Conn)
	if !ok {
		return 0, fmt.Errorf("copy into %s: driver connection is %T, not pgx's", table, driverConn)
	}
	return c.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, &rowSource{next: next})
}

// rowSource adapts a row function to pgx.CopyFromSource.
type rowSource struct {
	next func() ([]any, bool)
	row  []any
}

func (r *rowSource) Next() bool {
	var ok bool
	r.row, ok = r.next()
	return ok
}

func (r *rowSource) Values() ([]any, error) { return r.row, nil }

func (r *rowSource) Err() error { return nil }

// retryable: deadlock victims and serialization failures succeed when run
// again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// Opts configures a PostgreSQL store.
type Opts struct {
	// CallerClock measures leases and throttles on the times callers pass
	// (an injected clock, in tests) instead of the database's clock.
	// Defaults to false: hosts' clocks need not agree.
	CallerClock bool
}

// Open connects to the PostgreSQL database at dsn (a postgres:// URL; a
// search_path parameter selects a schema) and applies pending migrations.
// It listens for other processes' wake-ups from the first wait on them.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	return OpenOpts(ctx, dsn, Opts{})
}

// OpenOpts is Open with options.
func OpenOpts(ctx context.Context, dsn string, opts Opts) (store.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", store.ErrBadURL, redact(dsn), err)
	}
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		c.PgConn().CustomData()[connectedAt] = time.Now()
		return nil
	}), stdlib.OptionShouldPing(shouldPing))
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// The first statement connects: no ping before it (a round trip, and
	// a read command makes only a few).
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var schemaName string
	if err := db.QueryRowContext(pctx, "SELECT coalesce(current_schema(), '')").Scan(&schemaName); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s:%d (database %q, user %q): %w", cfg.Host, cfg.Port, cfg.Database, cfg.User, mapErr(err))
	}
	if schemaName == "" {
		db.Close()
		return nil, fmt.Errorf("open postgres store %s: no schema to use: the search_path names no schema that exists (create it, or fix search_path)", redact(dsn))
	}
	d := dialect
	ch := channel(schemaName)
	d.Notify = "SELECT pg_notify('" + ch + "', '')"
	if !opts.CallerClock {
		d.ClockQuery = "SELECT clock_timestamp()"
	}
	if d.Schema, err = schema(schemaName); err != nil {
		db.Close()
		return nil, err
	}
	s, err := sqlstore.New(ctx, db, d)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", redact(dsn), err)
	}
	// Listen for other processes' wake-ups once something waits for them
	// (a worker, a daemon, a command that waits for a run): a read command
	// never starts a second connection, and a second backend.
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	var started atomic.Bool
	s.OnFirstWait(func() {
		started.Store(true)
		go func() {
			defer close(done)
			listen(lctx, cfg, ch, s.Wake)
		}()
	})
	s.OnClose(func() error {
		stop()
		if started.Load() {
			<-done
		}
		return nil
	})
	return s, nil
}

// connectedAt keys the time a connection was made in its CustomData.
const connectedAt = "weir_connected_at"

// shouldPing decides whether a pooled connection is pinged before it is
// reused: when it has been idle over a second (pgx's rule), except that a
// connection made in the last second is not pinged at its first reuse
// (pgx counts its idle time from the zero time, so it pinged every new
// connection once: a round trip more for every command).
func shouldPing(_ context.Context, p stdlib.ShouldPingParams) bool {
	if t, ok := p.Conn.PgConn().CustomData()[connectedAt].(time.Time); ok {
		delete(p.Conn.PgConn().CustomData(), connectedAt)
		if time.Since(t) < time.Second {
			return false
		}
	}
	return p.IdleDuration > time.Second
}

// listen wakes this process's workers on every notification, reconnecting
// after errors; workers poll as a fallback meanwhile.
func listen(ctx context.Context, cfg *pgx.ConnConfig, channel string, wake func()) {
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+channel) // a name of [a-z0-9_]: no quoting needed
			wake()                                     // anything may have happened while we were not listening
			for err == nil {
				_, err = conn.WaitForNotification(ctx)
				if err == nil {
					wake()
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// mapErr maps PostgreSQL errors to the store's errors: the one place that
// knows PostgreSQL's error codes.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40P01":
			return fmt.Errorf("deadlock detected (retry): %w", err)
		case "3D000":
			return fmt.Errorf("database does not exist: %w", err)
		case "28P01", "28000":
			return fmt.Errorf("PostgreSQL refused the credentials: %w", err)
		}
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("connection to PostgreSQL lost: %w", err)
	}
	return err
}

func redact(dsn string) string { return urlredact.URL(dsn) }
