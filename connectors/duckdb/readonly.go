package duckdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/store"
)

// QueryError is SQL that DuckDB refused or failed to run: the caller's
// input, not a broken store.
type QueryError struct{ Err error }

func (e *QueryError) Error() string { return "query: " + e.Err.Error() }
func (e *QueryError) Unwrap() error { return e.Err }

// Lock makes the database read-only to what it reaches beyond itself:
// no files read or written (read_csv, COPY ... TO), no ATTACH, no
// extensions installed or loaded, and no setting changed back. Queries
// of untrusted callers (the HTTP API) run after it.
func (d *DB) Lock(ctx context.Context) error {
	_, err := d.db.ExecContext(ctx, "SET enable_external_access = false; SET lock_configuration = true")
	if err != nil {
		return fmt.Errorf("lock duckdb: %w", err)
	}
	return nil
}

// QueryMetadata answers SQL over weir's metadata (LoadMetadata, only the
// tables the query names) in a fresh locked in-memory database: at most
// maxRows rows (truncated says there were more), within ctx's deadline.
// SQL that fails is a *QueryError.
func QueryMetadata(ctx context.Context, st store.Store, g *lineage.Graph, now time.Time, query string, maxRows int) (cols []string, rows [][]any, truncated bool, err error) {
	db, err := Open(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	defer db.Close()
	if err := db.LoadMetadata(ctx, st, g, now, TablesIn(query)); err != nil {
		return nil, nil, false, err
	}
	if err := db.Lock(ctx); err != nil {
		return nil, nil, false, err
	}
	rs, err := db.db.QueryContext(ctx, query)
	if err != nil {
		return nil, nil, false, queryError(ctx, err)
	}
	defer rs.Close()
	if cols, err = rs.Columns(); err != nil {
		return nil, nil, false, queryError(ctx, err)
	}
	for rs.Next() {
		if len(rows) == maxRows {
			return cols, rows, true, nil
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, false, queryError(ctx, err)
		}
		rows = append(rows, vals)
	}
	if err := rs.Err(); err != nil {
		return nil, nil, false, queryError(ctx, err)
	}
	return cols, rows, false, nil
}

// queryError says a query's failure: the deadline when ctx ended, else
// DuckDB's message as a *QueryError.
func queryError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("query: %w", context.Cause(ctx))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &QueryError{err}
}
