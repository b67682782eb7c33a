package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/ratelimit"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/verify"
)

// SourceOpts configures a Source.
type SourceOpts struct {
	// Pool connects to the database. Required. A pgxpool connects on
	// first use, so declaring a source opens no connection.
	Pool *pgxpool.Pool
	// Query selects one partition's rows. Named parameters bind the
	// partition: @start and @end are its time window (start inclusive, end
	// exclusive, as timestamptz) for time-window partitions, and @key is
	// its key (text) for any partition. A time-window asset's query must
	// use @start and @end, any other asset's query @key, so that it cannot
	// read the whole table for every partition. Required.
	//
	//	SELECT order_id, amount, created_at FROM orders
	//	WHERE created_at >= @start AND created_at < @end
	Query string
	// File names the Parquet file written per partition. Defaults to
	// "data.parquet".
	File string
	// BatchRows is the number of rows per Arrow record batch and Parquet
	// row group: memory holds about one batch whatever the partition's
	// size. Defaults to 65,536.
	BatchRows int
	// Limiter, when set, is taken before each query: a per-process cap on
	// how often this source queries the database (see the package doc for
	// how it composes with backfill throttles). Nil means no limit.
	Limiter ratelimit.Limiter
	// Allocator holds the Arrow buffers. Defaults to memory.DefaultAllocator.
	Allocator memory.Allocator
}

// Source extracts a PostgreSQL query into one Parquet file per partition.
// Its Compute is an asset's compute function; its CodeVersion changes
// when the query does.
type Source struct {
	opts   SourceOpts
	params []string // the named parameters Query uses
}

// Params are the named parameters a source's query may use.
var Params = []string{"start", "end", "key"}

// NewSource validates opts and returns the source.
func NewSource(opts SourceOpts) (*Source, error) {
	if opts.Pool == nil {
		return nil, errors.New("postgres source: Pool is required")
	}
	if strings.TrimSpace(opts.Query) == "" {
		return nil, errors.New("postgres source: Query is required")
	}
	if err := fileDefaults(&opts.File, &opts.BatchRows, &opts.Allocator); err != nil {
		return nil, fmt.Errorf("postgres source: %w", err)
	}
	used, err := namedParams(opts.Query)
	if err != nil {
		return nil, fmt.Errorf("postgres source: %w", err)
	}
	return &Source{opts: opts, params: used}, nil
}

// fileDefaults fills in and checks the options sources and sinks share:
// the Parquet file's name, the rows per batch, the allocator.
func fileDefaults(file *string, batchRows *int, alloc *memory.Allocator) error {
	if *file == "" {
		*file = "data.parquet"
	}
	if err := verify.CheckFileName(*file); err != nil {
		return err
	}
	if *batchRows < 0 {
		return fmt.Errorf("BatchRows %d is negative; use a positive number of rows, or 0 for 65,536", *batchRows)
	}
	if *batchRows == 0 {
		*batchRows = 65536
	}
	if *alloc == nil {
		*alloc = memory.DefaultAllocator
	}
	return nil
}

// namedParams returns the named parameters query uses, refusing names
// other than Params.
func namedParams(query string) ([]string, error) {
	probe := pgx.NamedArgs{}
	for _, p := range Params {
		probe[p] = p
	}
	_, args, err := probe.RewriteQuery(context.Background(), nil, query, nil)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	var used []string
	for _, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("query uses a named parameter other than @%s", strings.Join(Params, ", @"))
		}
		used = append(used, s)
	}
	return used, nil
}

// CodeVersion returns "sql-" and a hash of the query and file name: a
// source's partitions are stale once its query changes.
func (s *Source) CodeVersion() string {
	h := sha256.Sum256([]byte(s.opts.Query + "\x00" + s.opts.File))
	return "sql-" + hex.EncodeToString(h[:6])
}

// Compute extracts each of the task's partitions into its Parquet file.
func (s *Source) Compute(ctx context.Context, t *pipelines.Task) error {
	tw, windowed := t.Asset.PartitionsDef().(partitions.Windowed)
	need := []string{"key"}
	if windowed {
		need = []string{"start", "end"}
	}
	for _, p := range need {
		if !slices.Contains(s.params, p) {
			return pipelines.Permanent(fmt.Errorf("the query of %s does not use @%s: for %s partitions it must select a partition's rows with @%s (uses: %s)",
				t.Asset.Key, p, partitionsKind(windowed), strings.Join(need, " and @"), paramList(s.params)))
		}
	}
	for i, key := range t.Keys {
		args := pgx.StrictNamedArgs{}
		zone := ""
		for _, p := range s.params {
			switch p {
			case "key":
				args[p] = key
			case "start", "end":
				if !windowed {
					return pipelines.Permanent(fmt.Errorf("the query of %s uses @%s, but its partitions are not time windows; use @key", t.Asset.Key, p))
				}
				start, end := tw.Window(t.Range.Lo + int64(i))
				zone = start.Location().String()
				args["start"], args["end"] = start, end
			}
		}
		if s.opts.Limiter != nil {
			s.opts.Limiter.Take()
		}
		rows, err := s.extract(ctx, t, key, zone, args)
		if err != nil {
			return fmt.Errorf("extract partition %s of %s: %w", key, t.Asset.Key, classify(err))
		}
		t.Logger.Info("extracted", "partition", key, "rows", rows)
	}
	return nil
}

func partitionsKind(windowed bool) string {
	if windowed {
		return "time-window"
	}
	return "these"
}

func paramList(ps []string) string {
	if len(ps) == 0 {
		return "none"
	}
	return "@" + strings.Join(ps, ", @")
}

// extract streams one partition's rows into its Parquet file, in a
// read-only snapshot with the session's time zone set to the partition's,
// so timestamp-without-zone columns compare in the partition's zone.
func (s *Source) extract(ctx context.Context, t *pipelines.Task, key, zone string, args pgx.StrictNamedArgs) (int64, error) {
	tx, err := s.opts.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if zone != "" && zone != "Local" {
		if _, err := tx.Exec(ctx, "SELECT set_config('TimeZone', $1, true)", zone); err != nil {
			return 0, err
		}
	}
	rows, err := tx.Query(ctx, s.opts.Query, args)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	// The columns are mapped before anything is staged: a query the
	// source cannot read leaves no file behind.
	schema, cols, err := arrowSchema(rows.FieldDescriptions(), tx.Conn().TypeMap())
	if err != nil {
		return 0, err
	}
	w, err := t.Output.Create(ctx, key, s.opts.File)
	if err != nil {
		return 0, err
	}
	n, err := s.write(rows, w, schema, cols)
	if err != nil {
		w.Close()
		return n, err
	}
	return n, w.Close()
}

// write streams rows into w as Parquet, one row group per batch.
func (s *Source) write(rows pgx.Rows, w io.Writer, schema *arrow.Schema, cols []column) (int64, error) {
	dests := make([]any, len(cols))
	for i, c := range cols {
		dests[i] = c.dest()
	}
	props := pq.NewWriterProperties(pq.WithCompression(compress.Codecs.Zstd), pq.WithStats(true), pq.WithAllocator(s.opts.Allocator))
	// The writer is wrapped so that closing the Parquet writer does not
	// close w: the caller does, once, to record its checksum.
	fw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{w}, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(s.opts.Allocator)))
	if err != nil {
		return 0, err
	}
	rb := array.NewRecordBuilder(s.opts.Allocator, schema)
	defer rb.Release()
	rb.Reserve(s.opts.BatchRows)
	var n int64
	batch := 0
	flush := func() error {
		rec := rb.NewRecordBatch()
		defer rec.Release()
		rb.Reserve(s.opts.BatchRows)
		batch = 0
		return fw.Write(rec)
	}
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return n, err
		}
		for i, c := range cols {
			if err := c.add(rb.Field(i)); err != nil {
				return n, &columnError{fmt.Errorf("row %d: %w", n+1, err)}
			}
		}
		n++
		if batch++; batch == s.opts.BatchRows {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if batch > 0 || n == 0 {
		if err := flush(); err != nil {
			return n, err
		}
	}
	return n, fw.Close()
}

// arrowSchema maps a query's result columns to an Arrow schema and their
// readers.
func arrowSchema(fds []pgconn.FieldDescription, m *pgtype.Map) (*arrow.Schema, []column, error) {
	if len(fds) == 0 {
		return nil, nil, &columnError{errors.New("the query returns no columns; it must be a SELECT")}
	}
	fields := make([]arrow.Field, len(fds))
	cols := make([]column, len(fds))
	for i, fd := range fds {
		f, c, err := arrowColumn(fd, m)
		if err != nil {
			return nil, nil, &columnError{err}
		}
		fields[i], cols[i] = f, c
	}
	return arrow.NewSchema(fields, nil), cols, nil
}

// columnError is a result column the source cannot read.
type columnError struct{ err error }

func (e *columnError) Error() string { return e.err.Error() }
func (e *columnError) Unwrap() error { return e.err }

// classify marks errors that a retry cannot fix as permanent: SQL that
// does not parse or names unknown tables or columns (SQLSTATE class 42),
// and columns the source cannot map.
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "42") || errors.As(err, new(*columnError)) {
		return pipelines.Permanent(err)
	}
	return err
}
