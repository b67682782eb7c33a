package duckdb_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/connectors/parquet"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
)

// input reads files as partitions of an upstream asset.
type input struct {
	asset string
	keys  []string
	fs    files
}

func (in input) Asset() string         { return in.asset }
func (in input) Keys() []string        { return in.keys }
func (in input) Version(string) string { return "v1" }
func (in input) Files(context.Context, string) ([]string, error) {
	return []string{"data.parquet"}, nil
}
func (in input) Open(ctx context.Context, key, name string) (io.ReadCloser, error) {
	if _, ok := in.fs[key+"/"+name]; !ok {
		return nil, errors.New("no such file " + key + "/" + name)
	}
	return in.fs.Open(ctx, key, name)
}

var days = partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin"})

func writeOrders(t *testing.T, fs files, day string, ts []int64, amounts []float64) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range ts {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(ts[i]))
		b.Field(1).(*array.Float64Builder).Append(amounts[i])
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	if err := parquet.WriteFile(context.Background(), fs, day, "data.parquet", tbl); err != nil {
		t.Fatal(err)
	}
}

func TestSQLAssetQueriesItsUpstreamsWithThePartitionsBounds(t *testing.T) {
	ctx := context.Background()
	q, err := duckdb.NewSQLAsset(duckdb.SQLAssetOpts{SQL: `
		SELECT {{ .Key }} AS day, count(*) AS orders, sum(amount) AS revenue,
		       (SELECT count(*) FROM {{ upstream "orders" }}) AS read
		FROM {{ upstream "orders" }}
		WHERE ts >= {{ .Start }} AND ts < {{ .End }}`})
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Upstreams(); len(got) != 1 || got[0] != "orders" {
		t.Fatalf("Upstreams = %q", got)
	}
	a, err := q.Asset(pipelines.Asset{Key: "revenue", Partitions: days, Deps: []pipelines.Dep{pipelines.OnMapped("orders", partitions.Trailing(2))}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.CodeVersion, "sql-") || a.Compute == nil {
		t.Fatalf("asset: code version %q", a.CodeVersion)
	}
	// Berlin's 2024-01-02 is [2024-01-01 23:00Z, 2024-01-02 23:00Z).
	fs := files{}
	writeOrders(t, fs, "2024-01-01", []int64{1704149999, 1704150000}, []float64{1, 10})     // 01-01 22:59:59Z, 23:00Z
	writeOrders(t, fs, "2024-01-02", []int64{1704236399, 1704236400}, []float64{100, 1000}) // 01-02 22:59:59Z, 23:00Z
	out := files{}
	task := pipelines.NewTask(a, []string{"2024-01-02"}, partitions.Range{Lo: 1, Hi: 2},
		[]pipelines.Input{input{asset: "orders", keys: []string{"2024-01-01", "2024-01-02"}, fs: fs}}, out)
	if err := a.Compute(ctx, task); err != nil {
		t.Fatal(err)
	}
	tbl, err := parquet.ReadFile(ctx, out, "2024-01-02", "data.parquet", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var got []string
	for c := 0; c < int(tbl.NumCols()); c++ {
		got = append(got, tbl.Schema().Field(c).Name+"="+tbl.Column(c).Data().Chunk(0).ValueStr(0))
	}
	if want := "day=2024-01-02 orders=2 revenue=110 read=4"; strings.Join(got, " ") != want {
		t.Errorf("result %s, want %s", strings.Join(got, " "), want)
	}
}

func TestSQLAssetRefusesBadDeclarations(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		a    pipelines.Asset
		want string
	}{
		{"SELECT * FROM {{ upstream \"orders\" }", pipelines.Asset{Key: "x"}, "unexpected"},
		{"SELECT * FROM {{ upstream \"nope\" }}", pipelines.Asset{Key: "x", Deps: []pipelines.Dep{pipelines.On("orders")}},
			`asset "x": its SQL reads {{ upstream "nope" }}, which is not one of its deps (deps: ["orders"])`},
		{"SELECT * FROM {{ upstream \"orders\" }}", pipelines.Asset{Key: "x", Deps: []pipelines.Dep{pipelines.On("orders")}, MaxPartitionsPerRun: 3},
			"a SQL asset computes one partition per call; MaxPartitionsPerRun is 3"},
		{"", pipelines.Asset{Key: "x"}, "SQL is required"},
	} {
		q, err := duckdb.NewSQLAsset(duckdb.SQLAssetOpts{SQL: tc.sql})
		if err == nil {
			_, err = q.Asset(tc.a)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %s", tc.sql, err, tc.want)
		}
	}
	// {{ .Start }} on partitions that are not time windows fails the task
	// permanently, naming what to use.
	q := duckdb.MustSQLAsset(duckdb.SQLAssetOpts{SQL: "SELECT {{ .Start }} AS s"})
	a, err := q.Asset(pipelines.Asset{Key: "regions", Partitions: partitions.MustStatic("eu", "us")})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Compute(context.Background(), pipelines.NewTask(a, []string{"eu"}, partitions.Range{Lo: 0, Hi: 1}, nil, files{}))
	if err == nil || !pipelines.IsPermanent(err) || !strings.Contains(err.Error(), "use {{ .Key }}") {
		t.Errorf("start on static partitions: %v", err)
	}
}
