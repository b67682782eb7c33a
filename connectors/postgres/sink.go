package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/ratelimit"

	"github.com/weir-dev/weir/connectors/parquet"
	"github.com/weir-dev/weir/pipelines"
)

// SinkOpts configures a Sink.
type SinkOpts struct {
	// Pool connects to the database. Required.
	Pool *pgxpool.Pool
	// Table receives the rows: "daily_revenue" or "reporting.daily_revenue".
	// Required.
	Table string
	// KeyColumn holds each row's partition key, so that publishing a
	// partition replaces exactly its rows. Defaults to "partition_key".
	KeyColumn string
	// From is the upstream asset whose promoted Parquet is published; it
	// must be a dependency with the default (identity) mapping. Defaults
	// to the sink asset's only dependency.
	From string
	// File names the Parquet file of each upstream partition. Defaults to
	// "data.parquet".
	File string
	// Create creates Table from the Parquet schema (and KeyColumn, text,
	// indexed) when it does not exist.
	Create bool
	// BatchRows is the number of rows read per Arrow record batch.
	// Defaults to 65,536.
	BatchRows int
	// Limiter, when set, is taken before each partition is published.
	Limiter ratelimit.Limiter
	// Allocator holds the Arrow buffers. Defaults to memory.DefaultAllocator.
	Allocator memory.Allocator
}

// Sink publishes an upstream asset's promoted partitions into a PostgreSQL
// table. Its Compute is the compute function of a sink asset that depends
// on the upstream: weir runs it only once the upstream partition is
// verified and promoted, so readers of the table never see a failed or
// unverified partition.
//
// Each partition is published in one transaction: its rows are deleted
// and the new ones copied in (COPY), and the version published is
// recorded in weir_sink_partitions beside the table. A re-run replaces
// exactly that partition; a retried or duplicated publish changes nothing;
// an attempt that read an older version than the one already published
// leaves the table alone. The sink asset's own output is a small receipt,
// published.json, with the table, version and row count.
type Sink struct {
	opts SinkOpts

	mu       sync.Mutex // guards prepared; tasks publish concurrently
	prepared bool       // the tables exist: prepare ran and no publish failed since
}

// SinkStateTable records, per table and partition, the upstream version
// a sink published last.
const SinkStateTable = "weir_sink_partitions"

// ReceiptFile is the file a sink asset writes per partition.
const ReceiptFile = "published.json"

// Receipt is what a sink asset records for a partition.
type Receipt struct {
	Table           string `json:"table"`
	Partition       string `json:"partition"`
	UpstreamAsset   string `json:"upstream_asset"`
	UpstreamVersion string `json:"upstream_version"`
	Rows            int64  `json:"rows"`
	// Kept is set when a newer version was already published: the table
	// was left as it was.
	Kept string `json:"kept_newer_version,omitempty"`
}

// NewSink validates opts and returns the sink.
func NewSink(opts SinkOpts) (*Sink, error) {
	if opts.Pool == nil {
		return nil, errors.New("postgres sink: Pool is required")
	}
	if _, err := tableIdent(opts.Table); err != nil {
		return nil, fmt.Errorf("postgres sink: %w", err)
	}
	if opts.KeyColumn == "" {
		opts.KeyColumn = "partition_key"
	}
	if err := fileDefaults(&opts.File, &opts.BatchRows, &opts.Allocator); err != nil {
		return nil, fmt.Errorf("postgres sink: %w", err)
	}
	return &Sink{opts: opts}, nil
}

// tableIdent parses "table" or "schema.table" into a pgx identifier.
func tableIdent(name string) (pgx.Identifier, error) {
	parts := strings.Split(name, ".")
	if name == "" || len(parts) > 2 || slices.Contains(parts, "") {
		return nil, fmt.Errorf("table %q is not a table name like daily_revenue or reporting.daily_revenue", name)
	}
	return pgx.Identifier(parts), nil
}

// CodeVersion identifies the sink's target: moving it to another table
// or key column makes its partitions stale.
func (s *Sink) CodeVersion() string { return "sink-" + s.opts.Table + "-" + s.opts.KeyColumn }

// Compute publishes each of the task's partitions.
func (s *Sink) Compute(ctx context.Context, t *pipelines.Task) error {
	in, err := t.Upstream(s.opts.From)
	if err != nil {
		return fmt.Errorf("sink: %w (SinkOpts.From)", err)
	}
	for _, key := range t.Keys {
		if !slices.Contains(in.Keys(), key) {
			return pipelines.Permanent(fmt.Errorf("sink %s publishes partition %s of %s, which this task does not read; declare the dependency with the default (identity) mapping", t.Asset.Key, key, in.Asset()))
		}
		if s.opts.Limiter != nil {
			s.opts.Limiter.Take()
		}
		r, err := s.publish(ctx, in, key)
		if err != nil {
			s.setPrepared(false) // the next attempt checks the tables again

			return fmt.Errorf("publish partition %s of %s to %s: %w", key, in.Asset(), s.opts.Table, err)
		}
		if r.Kept != "" {
			t.Logger.Warn("a newer version is already published; table left as it was", "partition", key, "read", r.UpstreamVersion, "published", r.Kept)
		} else {
			t.Logger.Info("published", "partition", key, "table", s.opts.Table, "rows", r.Rows, "version", r.UpstreamVersion)
		}
		if err := writeReceipt(ctx, t.Output, key, r); err != nil {
			return err
		}
	}
	return nil
}

func writeReceipt(ctx context.Context, out pipelines.Output, key string, r Receipt) error {
	w, err := out.Create(ctx, key, ReceiptFile)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(w).Encode(r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// publish replaces the rows of partition key in the table with those of
// the input's version, in one transaction.
func (s *Sink) publish(ctx context.Context, in pipelines.Input, key string) (Receipt, error) {
	version := in.Version(key)
	r := Receipt{Table: s.opts.Table, Partition: key, UpstreamAsset: in.Asset(), UpstreamVersion: version}
	// The file is read to the end first: its checksum is verified before
	// a row reaches the table.
	rr, err := parquet.OpenRecords(ctx, in, key, s.opts.File, s.opts.BatchRows, s.opts.Allocator)
	if err != nil {
		return r, err
	}
	defer rr.Release()
	schema := rr.Schema()
	cols, err := pgColumns(schema, s.opts.KeyColumn)
	if err != nil {
		return r, pipelines.Permanent(err)
	}
	table, _ := tableIdent(s.opts.Table)
	if err := s.prepareOnce(ctx, table, cols); err != nil {
		return r, err
	}
	tx, err := s.opts.Pool.Begin(ctx)
	if err != nil {
		return r, err
	}
	defer tx.Rollback(ctx)
	// One publisher per table and partition at a time.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", s.opts.Table, key); err != nil {
		return r, err
	}
	var published string
	err = tx.QueryRow(ctx, "SELECT version FROM "+SinkStateTable+" WHERE table_name = $1 AND partition_key = $2", s.opts.Table, key).Scan(&published)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return r, err
	}
	// Version ids sort by creation time: never go back to an older one.
	if published > version {
		r.Kept = published
		return r, nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+table.Sanitize()+" WHERE "+pgx.Identifier{s.opts.KeyColumn}.Sanitize()+" = $1", key); err != nil {
		return r, err
	}
	src := &recordRows{rr: rr, key: key, cols: cols}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	n, err := tx.CopyFrom(ctx, table, names, src)
	if err != nil {
		return r, err
	}
	r.Rows = n
	if _, err := tx.Exec(ctx, `INSERT INTO `+SinkStateTable+` (table_name, partition_key, version, row_count, published_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (table_name, partition_key) DO UPDATE SET version = excluded.version, row_count = excluded.row_count, published_at = excluded.published_at`,
		s.opts.Table, key, version, n); err != nil {
		return r, err
	}
	if testBeforeCommit != nil {
		if err := testBeforeCommit(); err != nil {
			return r, err
		}
	}
	return r, tx.Commit(ctx)
}

// testBeforeCommit, set by tests, fails a publish just before its commit,
// as a process killed there would.
var testBeforeCommit func() error

// prepareOnce runs prepare before the sink's first publish, and again
// after a publish failed (a table dropped meanwhile is made again), not
// before every partition.
func (s *Sink) prepareOnce(ctx context.Context, table pgx.Identifier, cols []pgColumn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prepared {
		return nil
	}
	if err := s.prepare(ctx, table, cols); err != nil {
		return err
	}
	s.prepared = true
	return nil
}

func (s *Sink) setPrepared(v bool) {
	s.mu.Lock()
	s.prepared = v
	s.mu.Unlock()
}

// prepare creates the bookkeeping table and, with Create, the target
// table, under an advisory lock so that concurrent sinks do not race.
func (s *Sink) prepare(ctx context.Context, table pgx.Identifier, cols []pgColumn) error {
	tx, err := s.opts.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('weir sink ddl', 0))"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+SinkStateTable+` (
		table_name    text NOT NULL,
		partition_key text NOT NULL,
		version       text NOT NULL,
		row_count     bigint NOT NULL,
		published_at  timestamptz NOT NULL,
		PRIMARY KEY (table_name, partition_key))`); err != nil {
		return fmt.Errorf("create %s: %w", SinkStateTable, err)
	}
	if s.opts.Create {
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = pgx.Identifier{c.name}.Sanitize() + " " + c.sqlType
		}
		key := pgx.Identifier{s.opts.KeyColumn}.Sanitize()
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table.Sanitize()+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("create table %s: %w", s.opts.Table, err)
		}
		idx := pgx.Identifier{strings.ReplaceAll(s.opts.Table, ".", "_") + "_" + s.opts.KeyColumn + "_idx"}.Sanitize()
		if _, err := tx.Exec(ctx, "CREATE INDEX IF NOT EXISTS "+idx+" ON "+table.Sanitize()+" ("+key+")"); err != nil {
			return fmt.Errorf("index table %s: %w", s.opts.Table, err)
		}
	}
	return tx.Commit(ctx)
}

// pgColumn is a target column: its name, its type for Create, and how
// to read a value of it from an Arrow array.
type pgColumn struct {
	name    string
	sqlType string
	value   func(a arrow.Array, i int) any // nil for the key column
}

// pgColumns maps an Arrow schema to target columns, the key column last.
func pgColumns(schema *arrow.Schema, keyColumn string) ([]pgColumn, error) {
	cols := make([]pgColumn, 0, schema.NumFields()+1)
	for _, f := range schema.Fields() {
		if f.Name == keyColumn {
			return nil, fmt.Errorf("the data has a column %q, which is the sink's key column; rename one of them (SinkOpts.KeyColumn)", f.Name)
		}
		c, err := pgColumnOf(f)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return append(cols, pgColumn{name: keyColumn, sqlType: "text NOT NULL"}), nil
}

func pgColumnOf(f arrow.Field) (pgColumn, error) {
	c := pgColumn{name: f.Name}
	switch t := f.Type.(type) {
	case *arrow.BooleanType:
		c.sqlType, c.value = "boolean", func(a arrow.Array, i int) any { return a.(*array.Boolean).Value(i) }
	case *arrow.Int8Type:
		c.sqlType, c.value = "smallint", func(a arrow.Array, i int) any { return int16(a.(*array.Int8).Value(i)) }
	case *arrow.Int16Type:
		c.sqlType, c.value = "smallint", func(a arrow.Array, i int) any { return a.(*array.Int16).Value(i) }
	case *arrow.Int32Type:
		c.sqlType, c.value = "integer", func(a arrow.Array, i int) any { return a.(*array.Int32).Value(i) }
	case *arrow.Int64Type:
		c.sqlType, c.value = "bigint", func(a arrow.Array, i int) any { return a.(*array.Int64).Value(i) }
	case *arrow.Float32Type:
		c.sqlType, c.value = "real", func(a arrow.Array, i int) any { return a.(*array.Float32).Value(i) }
	case *arrow.Float64Type:
		c.sqlType, c.value = "double precision", func(a arrow.Array, i int) any { return a.(*array.Float64).Value(i) }
	case *arrow.StringType:
		c.sqlType, c.value = "text", func(a arrow.Array, i int) any { return a.(*array.String).Value(i) }
	case *arrow.LargeStringType:
		c.sqlType, c.value = "text", func(a arrow.Array, i int) any { return a.(*array.LargeString).Value(i) }
	case *arrow.BinaryType:
		c.sqlType, c.value = "bytea", func(a arrow.Array, i int) any { return a.(*array.Binary).Value(i) }
	case *arrow.Date32Type:
		c.sqlType, c.value = "date", func(a arrow.Array, i int) any { return a.(*array.Date32).Value(i).ToTime() }
	case *arrow.TimestampType:
		c.sqlType = "timestamp"
		if t.TimeZone != "" {
			c.sqlType = "timestamptz"
		}
		unit := t.Unit
		c.value = func(a arrow.Array, i int) any { return a.(*array.Timestamp).Value(i).ToTime(unit) }
	case *arrow.Decimal128Type:
		c.sqlType = fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
		scale := t.Scale
		c.value = func(a arrow.Array, i int) any {
			return pgtype.Numeric{Int: a.(*array.Decimal128).Value(i).BigInt(), Exp: -scale, Valid: true}
		}
	case *extensions.UUIDType:
		c.sqlType, c.value = "uuid", func(a arrow.Array, i int) any { return [16]byte(a.(*extensions.UUIDArray).Value(i)) }
	default:
		return c, fmt.Errorf("column %q has Arrow type %s, which the PostgreSQL sink does not write (supported: bool, integers, floats, strings, binary, date, timestamp, decimal128, uuid)", f.Name, f.Type)
	}
	return c, nil
}

// recordRows feeds COPY from Arrow record batches, the partition key
// appended to every row.
type recordRows struct {
	rr   array.RecordReader
	rec  arrow.RecordBatch
	i    int
	key  string
	cols []pgColumn
	row  []any
	err  error
}

func (r *recordRows) Next() bool {
	for r.rec == nil || r.i+1 >= int(r.rec.NumRows()) {
		if !r.rr.Next() {
			if err := r.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
				r.err = err
			}
			return false
		}
		r.rec, r.i = r.rr.RecordBatch(), -1
	}
	r.i++
	return true
}

func (r *recordRows) Values() ([]any, error) {
	if r.row == nil {
		r.row = make([]any, len(r.cols))
	}
	for c := range r.cols {
		if r.cols[c].value == nil {
			r.row[c] = r.key
			continue
		}
		a := r.rec.Column(c)
		if a.IsNull(r.i) {
			r.row[c] = nil
			continue
		}
		r.row[c] = r.cols[c].value(a, r.i)
	}
	return r.row, nil
}

func (r *recordRows) Err() error { return r.err }
