// Package duckdb runs SQL in DuckDB (through duckdb-go, cgo) over the
// Parquet files of a task's inputs, writes query results as Parquet, and
// provides the SQL checks that gate promotion (SQL, NoNulls, UniqueKey,
// Freshness, SchemaEquals, RowCountAtLeast). Only binaries that import it
// link DuckDB.
package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver

	"github.com/weir-dev/weir/connectors/parquet"
)

// DB is an in-memory DuckDB database with a scratch directory, for SQL
// over Parquet inputs. DuckDB reads Parquet files from local paths, so
// inputs are copied (and checksum-verified on the way) into the scratch
// directory; query results go out as Parquet written by DuckDB itself.
type DB struct {
	db  *sql.DB
	dir string
	n   int
}

// Open opens an in-memory DuckDB. Close it to remove the scratch
// files.
func Open(ctx context.Context) (*DB, error) {
	dir, err := os.MkdirTemp("", "weir-duckdb-")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	// One connection: views and settings live per connection.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "SET threads TO 1; SET enable_progress_bar = false"); err != nil {
		db.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	return &DB{db: db, dir: dir}, nil
}

// SQL returns the database for queries of your own.
func (d *DB) SQL() *sql.DB { return d.db }

// Close closes the database and removes the scratch files.
func (d *DB) Close() error {
	err := d.db.Close()
	if rerr := os.RemoveAll(d.dir); err == nil {
		err = rerr
	}
	return err
}

// ParquetView creates (or replaces) view as the union of file name of every
// partition in keys of in, via read_parquet. A view of no partitions is an
// error: DuckDB cannot infer a schema from nothing.
func (d *DB) ParquetView(ctx context.Context, view string, in parquet.Opener, keys []string, name string) error {
	files := make([]PartitionFile, len(keys))
	for i, k := range keys {
		files[i] = PartitionFile{Key: k, Name: name}
	}
	return d.ParquetFilesView(ctx, view, in, files)
}

// PartitionFile names one file of one partition.
type PartitionFile struct{ Key, Name string }

// ParquetFilesView creates (or replaces) view as the union of the given
// Parquet files of in.
func (d *DB) ParquetFilesView(ctx context.Context, view string, in parquet.Opener, files []PartitionFile) error {
	if len(files) == 0 {
		return fmt.Errorf("duckdb view %s: no files to read", view)
	}
	paths := make([]string, 0, len(files))
	for _, f := range files {
		p, err := d.copyIn(ctx, in, f.Key, f.Name)
		if err != nil {
			return fmt.Errorf("duckdb view %s: %w", view, err)
		}
		paths = append(paths, sqlString(p))
	}
	q := fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT * FROM read_parquet([%s], union_by_name = true)", QuoteIdent(view), strings.Join(paths, ", "))
	if _, err := d.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("duckdb view %s: %w", view, err)
	}
	return nil
}

func (d *DB) copyIn(ctx context.Context, in parquet.Opener, key, name string) (string, error) {
	r, err := in.Open(ctx, key, name)
	if err != nil {
		return "", err
	}
	defer r.Close()
	d.n++
	p := filepath.Join(d.dir, fmt.Sprintf("in-%06d.parquet", d.n))
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return "", fmt.Errorf("read %s of partition %s: %w", name, key, err)
	}
	return p, f.Close()
}

// QueryToParquet runs query and writes its result as Parquet (Zstd) to w.
func (d *DB) QueryToParquet(ctx context.Context, query string, w io.Writer) error {
	d.n++
	p := filepath.Join(d.dir, fmt.Sprintf("out-%06d.parquet", d.n))
	q := fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd)", query, sqlString(p))
	if _, err := d.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	defer os.Remove(p)
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// QueryToParquetFile runs query and writes the result as file name of
// partition key of out.
func (d *DB) QueryToParquetFile(ctx context.Context, query string, out parquet.Creator, key, name string) error {
	w, err := out.Create(ctx, key, name)
	if err != nil {
		return err
	}
	if err := d.QueryToParquet(ctx, query, w); err != nil {
		w.Close()
		return fmt.Errorf("%s of partition %s: %w", name, key, err)
	}
	return w.Close()
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// QuoteIdent quotes a DuckDB identifier (a view or column name).
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
