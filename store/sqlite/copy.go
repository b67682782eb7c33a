package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/weir-dev/weir/store/internal/sqlstore"
)

// copyRowParams bounds the parameters of one statement of a bulk insert,
// a few hundred rows: a longer VALUES list only costs more to prepare.
const copyRowParams = 2600

// copyFrom bulk-inserts rows into table with statements of many rows each,
// run on the driver connection with one argument slice filled over and
// over. Through database/sql every statement's arguments were converted
// into a new slice (0.9 GB of garbage for a 1,752,000-task backfill, and
// its peak heap); the statement itself is the same, and the store's
// connection (cachingConn) keeps it prepared by its text. It runs on the
// caller's connection, inside its transaction.
func copyFrom(ctx context.Context, driverConn any, table string, columns []string, next func() ([]any, bool)) (int64, error) {
	conn, ok := driverConn.(driver.ExecerContext)
	if !ok {
		return 0, fmt.Errorf("insert into %s: driver connection %T cannot execute statements", table, driverConn)
	}
	cols := len(columns)
	perStmt := max(1, copyRowParams/cols)
	insert := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	full := insert + sqlstore.RowsOf(perStmt, cols)
	args := make([]driver.NamedValue, perStmt*cols)
	for i := range args {
		args[i].Ordinal = i + 1
	}
	var total int64
	n := 0
	exec := func(query string) error {
		if _, err := conn.ExecContext(ctx, query, args[:n*cols]); err != nil {
			return err
		}
		total += int64(n)
		n = 0
		return nil
	}
	for {
		row, ok := next()
		if !ok {
			break
		}
		if len(row) != cols {
			return total, fmt.Errorf("insert into %s: a row of %d values for %d columns", table, len(row), cols)
		}
		for i, v := range row {
			// What database/sql would do with the argument.
			val, err := driver.DefaultParameterConverter.ConvertValue(v)
			if err != nil {
				return total, fmt.Errorf("insert into %s: column %s: %w", table, columns[i], err)
			}
			args[n*cols+i].Value = val
		}
		if n++; n == perStmt {
			if err := exec(full); err != nil {
				return total, err
			}
		}
	}
	if n > 0 {
		if err := exec(insert + sqlstore.RowsOf(n, cols)); err != nil {
			return total, err
		}
	}
	return total, nil
}
