package duckdb_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/connectors/parquet"
)

// files is an in-memory Creator and Opener.
type files map[string]*bytes.Buffer

type closer struct{ *bytes.Buffer }

func (closer) Close() error { return nil }

func (f files) Create(_ context.Context, key, name string) (io.WriteCloser, error) {
	b := &bytes.Buffer{}
	f[key+"/"+name] = b
	return closer{b}, nil
}

func (f files) Open(_ context.Context, key, name string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(f[key+"/"+name].Bytes())), nil
}

func TestParquetAndDuckDB(t *testing.T) {
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{{Name: "city", Type: arrow.BinaryTypes.String}, {Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"Berlin", "Paris", "Berlin"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecordBatch()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	fs := files{}
	if err := parquet.WriteFile(ctx, fs, "d1", "data.parquet", tbl); err != nil {
		t.Fatal(err)
	}
	got, err := parquet.ReadFile(ctx, fs, "d1", "data.parquet", nil)
	if err != nil || got.NumRows() != 3 || got.Schema().Field(0).Name != "city" || !arrow.TypeEqual(got.Schema().Field(1).Type, arrow.PrimitiveTypes.Int64) {
		t.Fatalf("read back %v rows, schema %v, %v", got.NumRows(), got.Schema(), err)
	}
	db, err := duckdb.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ParquetView(ctx, "cities", fs, []string{"d1"}, "data.parquet"); err != nil {
		t.Fatal(err)
	}
	var sum int64
	if err := db.SQL().QueryRowContext(ctx, "SELECT sum(n) FROM cities WHERE city = 'Berlin'").Scan(&sum); err != nil || sum != 4 {
		t.Fatalf("sum %d %v", sum, err)
	}
	if err := db.QueryToParquetFile(ctx, "SELECT city, sum(n)::BIGINT AS n FROM cities GROUP BY city ORDER BY city", fs, "d2", "agg.parquet"); err != nil {
		t.Fatal(err)
	}
	agg, err := parquet.ReadFile(ctx, fs, "d2", "agg.parquet", nil)
	if err != nil || agg.NumRows() != 2 {
		t.Fatalf("aggregate %v %v", agg, err)
	}
	fs["bad/data.parquet"] = bytes.NewBufferString("not parquet")
	if _, err := parquet.ReadFile(ctx, fs, "bad", "data.parquet", nil); err == nil || !strings.Contains(err.Error(), "not readable Parquet") {
		t.Fatalf("corrupt parquet: %v", err)
	}
}
