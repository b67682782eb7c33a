package duckdb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/connectors/parquet"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/verify"
)

func TestSQLAndBuiltInChecks(t *testing.T) {
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "b", ""}, []bool{true, true, true, false})
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{10, -5, 3, 1}, nil)
	at := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	b.Field(2).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(at.UnixMilli()), 0, 0, 0}, nil)
	rec := b.NewRecordBatch()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	stage := verify.NewStage(memblob.OpenBucket(nil), "orders", "v1", []string{"2024-01-01"})
	if err := parquet.WriteFile(ctx, stage, "2024-01-01", "data.parquet", tbl); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return at.Add(time.Hour) }
	for _, tc := range []struct {
		check  pipelines.Check
		value  string
		passes bool
	}{
		{duckdb.SQL("no negative amounts", "SELECT count(*) FROM data WHERE amount < 0", duckdb.ExpectZero), "1", false},
		{duckdb.SQL("total", "SELECT sum(amount) > 0 FROM data", duckdb.ExpectTrue), "true", true},
		{duckdb.RowCountAtLeast(4), "4", true},
		{duckdb.RowCountAtLeast(5), "4", false},
		{duckdb.NoNulls("amount"), "0", true},
		{duckdb.NoNulls("id", "amount"), "1", false},
		{duckdb.UniqueKey("id"), "1", false},
		{duckdb.Freshness("ts", 2*time.Hour, now), "2024-01-01T12:00:00Z", true},
		{duckdb.Freshness("ts", 30*time.Minute, now), "2024-01-01T12:00:00Z", false},
		{duckdb.SchemaEquals("id VARCHAR", "amount DOUBLE", "ts TIMESTAMP WITH TIME ZONE"), "id VARCHAR, amount DOUBLE, ts TIMESTAMP WITH TIME ZONE", true},
		{duckdb.SchemaEquals("id VARCHAR"), "id VARCHAR, amount DOUBLE, ts TIMESTAMP WITH TIME ZONE", false},
	} {
		value, err := tc.check.Func(ctx, stage)
		if (err == nil) != tc.passes || value != tc.value {
			t.Errorf("%s: value %q, err %v; want value %q, passes %v", tc.check.Name, value, err, tc.value, tc.passes)
		}
	}
	if c := verify.Warn(duckdb.RowCountAtLeast(1)); !c.Warn {
		t.Error("Warn did not mark the check")
	}
	empty := verify.NewStage(memblob.OpenBucket(nil), "orders", "v1", []string{"k"})
	if _, err := duckdb.RowCountAtLeast(1).Func(ctx, empty); err == nil || !strings.Contains(err.Error(), "no Parquet file") {
		t.Errorf("no parquet: %v", err)
	}
}

func TestManifestDescribesParquet(t *testing.T) {
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{b.NewRecordBatch()})
	bucket := memblob.OpenBucket(nil)
	stage := verify.NewStage(bucket, "t", "v1", []string{"k"})
	if err := parquet.WriteFile(ctx, stage, "k", "data.parquet", tbl); err != nil {
		t.Fatal(err)
	}
	w, _ := stage.Create(ctx, "k", "broken.parquet")
	w.Write([]byte("not parquet at all"))
	w.Close()
	if _, err := stage.Seal(ctx); err == nil || !strings.Contains(err.Error(), "broken.parquet is not readable Parquet") {
		t.Fatalf("Seal accepted a broken Parquet file: %v", err)
	}
	stage = verify.NewStage(bucket, "t", "v2", []string{"k"})
	parquet.WriteFile(ctx, stage, "k", "data.parquet", tbl)
	sealed, err := stage.Seal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := sealed[0].Manifest.Files[0]
	if f.Rows == nil || *f.Rows != 3 || f.Schema != "n: int64" {
		t.Fatalf("manifest entry %+v", f)
	}
}
