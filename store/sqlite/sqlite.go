// Package sqlite is the embedded state-store driver: one SQLite file through
// modernc.org/sqlite (pure Go), in WAL mode, with one connection (measured
// faster than a pool on SQLite, and a pool once starved a writer into
// SQLITE_BUSY) and BEGIN IMMEDIATE transactions. It registers the sqlite://
// scheme with the store package.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/internal/sqlstore"
)

func init() {
	store.Register("sqlite", func(ctx context.Context, u *url.URL) (store.Store, error) {
		if len(u.Query()) > 0 {
			return nil, fmt.Errorf("%w %q: sqlite takes no options (got %q)", store.ErrBadURL, u.Redacted(), u.RawQuery)
		}
		path := u.Host + u.Path // sqlite://.weir/state.db is relative, sqlite:///var/weir.db absolute
		if u.Opaque != "" {
			path = u.Opaque
		}
		if path == "" {
			return nil, fmt.Errorf("%w %q: names no file; use sqlite://PATH, e.g. sqlite://.weir/state.db", store.ErrBadURL, u.Redacted())
		}
		return Open(ctx, path)
	})
}

// Open opens (creating if needed, with its directory) the SQLite database at
// path and applies pending migrations.
//
// Processes opening one file at once take turns: the check that an
// existing file is a store, and the migrations, run under an exclusive lock
// on PATH-lock beside it (SQLite itself has no lock that spans reading the
// schema version and applying a migration).
func Open(ctx context.Context, path string) (store.Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("%w: sqlite store path %q may not contain '?' or '#'", store.ErrBadURL, path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
		}
	}
	fl := flock.New(path + "-lock")
	if _, err := fl.TryLockContext(ctx, 10*time.Millisecond); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: lock %s: %w", path, fl.Path(), err)
	}
	defer fl.Unlock()
	// A file that exists but is empty is not a new store: SQLite would
	// take it for one, and every run, task and version it recorded would
	// be gone without a word.
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		return nil, fmt.Errorf("%s: %w (0 bytes): a store was there, or another program made it; "+
			"restore it from a backup, or delete it to start a new store", path, ErrEmptyFile)
	}
	// synchronous=FULL: a commit is on disk before it returns, so work the
	// CLI acknowledged survives a power loss too, not only a crash (WAL's
	// NORMAL may lose the last commits). It costs about 30 % of dispatch
	// throughput with one transaction per task state change.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db := sql.OpenDB(cachingConnector{base})
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	s, err := sqlstore.New(ctx, db, dialect)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// ErrEmptyFile: the store's file exists but holds nothing.
var ErrEmptyFile = errors.New("the sqlite store file is empty")

//go:embed migrations/*.sql
var migrations embed.FS

func schema() sqlstore.Schema {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory is part of this package
	}
	return sqlstore.Schema{
		FS:          sub,
		Goose:       goose.DialectSQLite3,
		TableExists: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
	}
}

var dialect = sqlstore.Dialect{
	Name: "sqlite",
	Time: func(t time.Time) any { return t.UTC().Format(sqlstore.TimeLayout) },
	Seconds: func(from, to string) string {
		return "(julianday(" + to + ") - julianday(" + from + ")) * 86400.0"
	},
	MapErr:   mapErr,
	Schema:   schema(),
	CopyFrom: copyFrom,
	// One connection and BEGIN IMMEDIATE serialize writers: no row locks,
	// and max(id)+1 is safe for consecutive task ids, and for the marks of
	// changed partition rows (committed in the order they are taken).
	ChangeMark:      "(SELECT coalesce(max(changed), 0) + 1 FROM asset_partitions)",
	ChangeWatermark: "SELECT coalesce(max(changed), 0) + 1 FROM asset_partitions",
	Epoch:           "0",
}

// mapErr maps SQLite errors to the store's errors: the one place that knows
// SQLite's error codes.
func mapErr(err error) error {
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
