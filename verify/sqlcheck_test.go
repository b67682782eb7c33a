package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/connectors"
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
	if err := connectors.WriteParquetFile(ctx, stage, "2024-01-01", "data.parquet", tbl); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return at.Add(time.Hour) }
	for _, tc := range []struct {
		check  pipelines.Check
		value  string
		passes bool
	}{
		{verify.SQL("no negative amounts", "SELECT count(*) FROM data WHERE amount < 0", verify.ExpectZero), "1", false},
		{verify.SQL("total", "SELECT sum(amount) > 0 FROM data", verify.ExpectTrue), "true", true},
		{verify.RowCountAtLeast(4), "4", true},
		{verify.RowCountAtLeast(5), "4", false},
		{verify.NoNulls("amount"), "0", true},
		{verify.NoNulls("id", "amount"), "1", false},
		{verify.UniqueKey("id"), "1", false},
		{verify.Freshness("ts", 2*time.Hour, now), "2024-01-01T12:00:00Z", true},
		{verify.Freshness("ts", 30*time.Minute, now), "2024-01-01T12:00:00Z", false},
		{verify.SchemaEquals("id VARCHAR", "amount DOUBLE", "ts TIMESTAMP WITH TIME ZONE"), "id VARCHAR, amount DOUBLE, ts TIMESTAMP WITH TIME ZONE", true},
		{verify.SchemaEquals("id VARCHAR"), "id VARCHAR, amount DOUBLE, ts TIMESTAMP WITH TIME ZONE", false},
	} {
		value, err := tc.check.Func(ctx, stage)
		if (err == nil) != tc.passes || value != tc.value {
			t.Errorf("%s: value %q, err %v; want value %q, passes %v", tc.check.Name, value, err, tc.value, tc.passes)
		}
	}
	if c := verify.Warn(verify.RowCountAtLeast(1)); !c.Warn {
		t.Error("Warn did not mark the check")
	}
	empty := verify.NewStage(memblob.OpenBucket(nil), "orders", "v1", []string{"k"})
	if _, err := verify.RowCountAtLeast(1).Func(ctx, empty); err == nil || !strings.Contains(err.Error(), "no Parquet file") {
		t.Errorf("no parquet: %v", err)
	}
}
