package duckdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/weir-dev/weir/pipelines"
)

// Expect judges the single value a SQL check's query returns.
type Expect func(v any) error

// ExpectZero passes when the value is 0 (e.g. a count of bad rows).
func ExpectZero(v any) error {
	if f, ok := number(v); !ok || f != 0 {
		return fmt.Errorf("want 0, got %v", v)
	}
	return nil
}

// ExpectTrue passes when the value is true.
func ExpectTrue(v any) error {
	if b, ok := v.(bool); !ok || !b {
		return fmt.Errorf("want true, got %v", v)
	}
	return nil
}

// ExpectAtLeast passes when the value is a number of at least n.
func ExpectAtLeast(n float64) Expect {
	return func(v any) error {
		if f, ok := number(v); !ok || f < n {
			return fmt.Errorf("want at least %v, got %v", n, v)
		}
		return nil
	}
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// SQL returns a blocking check that runs query in DuckDB over the view
// "data": every Parquet file the attempt staged, of all its partitions.
// The query returns one row; expect judges its first column.
//
//	duckdb.SQL("no negative amounts", "SELECT count(*) FROM data WHERE amount < 0", duckdb.ExpectZero)
func SQL(name, query string, expect Expect) pipelines.Check {
	return pipelines.Check{Name: name, Func: func(ctx context.Context, staged pipelines.Staged) (string, error) {
		v, err := queryStaged(ctx, staged, query)
		if err != nil {
			return "", err
		}
		value := fmt.Sprint(v)
		if err := expect(v); err != nil {
			return value, fmt.Errorf("%s: %w", query, err)
		}
		return value, nil
	}}
}

// RowCountAtLeast checks that the staged Parquet files hold at least n rows.
func RowCountAtLeast(n int64) pipelines.Check {
	return SQL(fmt.Sprintf("row count at least %d", n), "SELECT count(*) FROM data", ExpectAtLeast(float64(n)))
}

// NoNulls checks that the columns hold no NULL.
func NoNulls(columns ...string) pipelines.Check {
	var conds []string
	for _, c := range columns {
		conds = append(conds, QuoteIdent(c)+" IS NULL")
	}
	return SQL("no nulls in "+strings.Join(columns, ", "), "SELECT count(*) FROM data WHERE "+strings.Join(conds, " OR "), ExpectZero)
}

// UniqueKey checks that no two rows share the columns' values.
func UniqueKey(columns ...string) pipelines.Check {
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = QuoteIdent(c)
	}
	cols := strings.Join(quoted, ", ")
	return SQL("unique key "+strings.Join(columns, ", "),
		"SELECT count(*) FROM (SELECT "+cols+" FROM data GROUP BY "+cols+" HAVING count(*) > 1)", ExpectZero)
}

// Freshness checks that the newest value of an event-time column is no
// older than maxAge at the time now returns.
func Freshness(column string, maxAge time.Duration, now func() time.Time) pipelines.Check {
	name := fmt.Sprintf("%s fresher than %s", column, maxAge)
	return pipelines.Check{Name: name, Func: func(ctx context.Context, staged pipelines.Staged) (string, error) {
		v, err := queryStaged(ctx, staged, "SELECT max("+QuoteIdent(column)+") FROM data")
		if err != nil {
			return "", err
		}
		t, ok := v.(time.Time)
		if !ok {
			return fmt.Sprint(v), fmt.Errorf("column %s is not a timestamp (got %T)", column, v)
		}
		if age := now().Sub(t); age > maxAge {
			return t.UTC().Format(time.RFC3339), fmt.Errorf("newest %s is %s old, more than %s", column, age.Round(time.Second), maxAge)
		}
		return t.UTC().Format(time.RFC3339), nil
	}}
}

// SchemaEquals checks that the staged data has exactly these columns, in
// order, each "name TYPE" with DuckDB's type names ("order_id VARCHAR",
// "amount DOUBLE").
func SchemaEquals(columns ...string) pipelines.Check {
	return pipelines.Check{Name: "schema", Func: func(ctx context.Context, staged pipelines.Staged) (string, error) {
		db, err := stagedDB(ctx, staged)
		if err != nil {
			return "", err
		}
		defer db.Close()
		rows, err := db.SQL().QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE data)")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var n, t string
			if err := rows.Scan(&n, &t); err != nil {
				return "", err
			}
			got = append(got, n+" "+t)
		}
		value := strings.Join(got, ", ")
		if value != strings.Join(columns, ", ") {
			return value, fmt.Errorf("schema is [%s], want [%s]", value, strings.Join(columns, ", "))
		}
		return value, rows.Err()
	}}
}

// stagedDB opens DuckDB with the view "data" over the staged Parquet files.
func stagedDB(ctx context.Context, staged pipelines.Staged) (*DB, error) {
	var files []PartitionFile
	for _, k := range staged.Keys() {
		for _, name := range staged.Files(k) {
			if strings.HasSuffix(name, ".parquet") {
				files = append(files, PartitionFile{Key: k, Name: name})
			}
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no Parquet file was staged (SQL checks read *.parquet)")
	}
	db, err := Open(ctx)
	if err != nil {
		return nil, err
	}
	if err := db.ParquetFilesView(ctx, "data", staged, files); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func queryStaged(ctx context.Context, staged pipelines.Staged, query string) (any, error) {
	db, err := stagedDB(ctx, staged)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var v any
	if err := db.SQL().QueryRowContext(ctx, query).Scan(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	return v, nil
}
