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

// copyFrom bulk-inserts rows into table with the driver's own prepared
// statements of many rows each, filling one argument slice over and over.
// Through database/sql every statement's arguments were converted into a
// new slice (0.9 GB of garbage for a 1,752,000-task backfill, and its
// peak heap); the statement itself is the same. It runs on the caller's
// connection, inside its transaction.
func copyFrom(ctx context.Context, driverConn any, table string, columns []string, next func() ([]any, bool)) (int64, error) {
	conn, ok := driverConn.(driver.ConnPrepareContext)
	if !ok {
		return 0, fmt.Errorf("insert into %s: driver connection %T cannot prepare statements", table, driverConn)
	}
	cols := len(columns)
	perStmt := max(1, copyRowParams/cols)
	insert := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	exec := func(rows int, args []driver.NamedValue, keep *driver.Stmt) error {
		st := *keep
		if st == nil {
			var err error
			if st, err = conn.PrepareContext(ctx, insert+sqlstore.RowsOf(rows, cols)); err != nil {
				return err
			}
			if rows == perStmt {
				*keep = st // the full statement serves every full batch
			} else {
				defer st.Close()
			}
		}
		ex, ok := st.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("insert into %s: driver statement %T cannot execute with a context", table, st)
		}
		_, err := ex.ExecContext(ctx, args)
		return err
	}
	var full driver.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]driver.NamedValue, perStmt*cols)
	for i := range args {
		args[i].Ordinal = i + 1
	}
	var total int64
	n := 0
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
			if err := exec(n, args, &full); err != nil {
				return total, err
			}
			total += int64(n)
			n = 0
		}
	}
	if n > 0 {
		var tail driver.Stmt
		if err := exec(n, args[:n*cols], &tail); err != nil {
			return total, err
		}
		total += int64(n)
	}
	return total, nil
}
