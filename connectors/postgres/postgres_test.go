package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5/pgxpool"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/sensor"
	"github.com/weir-dev/weir/store/postgres/pgtest"
	"github.com/weir-dev/weir/store/sqlite"
	"github.com/weir-dev/weir/verify"
)

var days = partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin"})

const schemaSQL = `
CREATE TABLE orders (
	id bigint PRIMARY KEY, small smallint, n integer, amount numeric(12,2), price real, ratio double precision,
	name text, code varchar(8), flag char(2), ok boolean, payload jsonb, raw bytea, uid uuid, day date,
	local_at timestamp, created_at timestamptz, tags text[], nums int4[], span interval, total numeric);
INSERT INTO orders VALUES
	(1, 1, 10, 12.50, 1.5, 0.25, 'a''s', 'X1', 'ab', true, '{"k": [1, 2]}', '\x0102', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	 '2024-01-01', '2024-01-01 00:30', '2023-12-31 23:30+00', '{red,"blue green"}', '{1,NULL,3}', '1 day', 1.005),
	(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-01-01 22:59:59+00', NULL, NULL, NULL, NULL),
	(3, -1, -10, -0.01, 0, 1e300, '', '', '', false, 'null', '\x', '00000000-0000-0000-0000-000000000000',
	 '1970-01-01', '2024-01-01 23:59', '2024-01-01 12:00+01', '{}', '{}', NULL, NULL),
	(4, 4, 4, 4, 4, 4, 'next day', '', '', true, '{}', '\x', NULL, NULL, NULL, '2024-01-01 23:00+00', NULL, NULL, NULL, NULL);
`

const typedQuery = `SELECT id, small, n, amount, price, ratio, name, code, flag, ok, payload, raw, uid, day, local_at, created_at, tags, nums
FROM orders WHERE created_at >= @start AND created_at < @end ORDER BY id`

func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, schemaSQL); err != nil {
		t.Fatal(err)
	}
	return pool
}

func testBucket(t testing.TB) *blob.Bucket {
	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { b.Close() })
	return b
}

// extract runs src for one day and returns the stage it wrote to.
func extract(t testing.TB, b *blob.Bucket, src *Source, day, version string) (*verify.Stage, error) {
	t.Helper()
	i, err := days.Index(day)
	if err != nil {
		t.Fatal(err)
	}
	a := &pipelines.Asset{Key: "orders", Partitions: days}
	stage := verify.NewStage(b, "orders", version, []string{day})
	return stage, src.Compute(context.Background(), pipelines.NewTask(a, []string{day}, partitions.Range{Lo: i, Hi: i + 1}, nil, stage))
}

func readTable(t *testing.T, r io.Reader) arrow.Table {
	t.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

func TestSourceMapsEveryDocumentedTypeAndSelectsThePartitionsWindow(t *testing.T) {
	ctx := context.Background()
	pool, b := testPool(t), testBucket(t)
	src, err := NewSource(SourceOpts{Pool: pool, Query: typedQuery, BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	stage, err := extract(t, b, src, "2024-01-01", "v1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := stage.Open(ctx, "2024-01-01", "data.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tbl := readTable(t, r)
	var types []string
	for _, f := range tbl.Schema().Fields() {
		types = append(types, f.Name+":"+f.Type.String())
	}
	want := "id:int64 small:int16 n:int32 amount:decimal(12, 2) price:float32 ratio:float64 name:utf8 code:utf8 flag:utf8 ok:bool " +
		"payload:utf8 raw:binary uid:extension<arrow.uuid> day:date32 local_at:timestamp[us] created_at:timestamp[us, tz=UTC] " +
		"tags:list<element: utf8, nullable> nums:list<element: int32, nullable>"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("schema:\n got %s\nwant %s", got, want)
	}
	// The day 2024-01-01 in Berlin is [2023-12-31 23:00Z, 2024-01-01 23:00Z):
	// rows 1, 2 and 3; row 4 starts the next day.
	if tbl.NumRows() != 3 {
		t.Fatalf("rows = %d, want 3 (ids 1, 2, 3)", tbl.NumRows())
	}
	var rows []string
	tr := arrayRows(tbl)
	for _, r := range tr {
		rows = append(rows, r)
	}
	wantRows := []string{
		`1|1|10|12.5|1.5|0.25|a's|X1|ab|true|{"k": [1, 2]}|AQI=|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|2024-01-01|2024-01-01T00:30:00|2023-12-31T23:30:00Z|["red","blue green"]|[1,null,3]`,
		`2|(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|2024-01-01T22:59:59Z|(null)|(null)`,
		`3|-1|-10|-0.01|0|1e+300|||  |false|null||00000000-0000-0000-0000-000000000000|1970-01-01|2024-01-01T23:59:00|2024-01-01T11:00:00Z|[]|[]`,
	}
	if strings.Join(rows, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("rows:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(wantRows, "\n"))
	}
	// A timestamp without time zone compares in the partition's zone:
	// local_at in [2024-01-01 00:00, 2024-01-02 00:00) Berlin wall time.
	local, err := NewSource(SourceOpts{Pool: pool, Query: "SELECT id FROM orders WHERE local_at >= @start AND local_at < @end ORDER BY id"})
	if err != nil {
		t.Fatal(err)
	}
	stage, err = extract(t, b, local, "2024-01-01", "v2")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := stage.Open(ctx, "2024-01-01", "data.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got := strings.Join(arrayRows(readTable(t, r2)), ","); got != "1,3" {
		t.Errorf("ids by local wall time = %s, want 1,3 (00:30 and 23:59 in Berlin)", got)
	}
	if got := src.CodeVersion(); !strings.HasPrefix(got, "sql-") {
		t.Errorf("CodeVersion = %q", got)
	}
}

func TestSourceRefusesWhatItCannotReadNamingIt(t *testing.T) {
	pool, b := testPool(t), testBucket(t)
	for _, tc := range []struct{ query, want string }{
		{"SELECT id, span FROM orders WHERE created_at >= @start AND created_at < @end", `column "span" has type interval, which the PostgreSQL source does not map to Arrow`},
		{"SELECT sum(amount) AS total FROM orders WHERE created_at >= @start AND created_at < @end", `column "total" is numeric without a precision and scale; cast it in the query, e.g. total::numeric(18,2)`},
		{"SELECT total FROM orders WHERE created_at >= @start AND created_at < @end", `column "total" is numeric without a precision and scale`},
		{"SELECT id FROM nope WHERE created_at >= @start AND created_at < @end", `relation "nope" does not exist`},
		{"SELECT id FROM orders", "the query of orders does not use @start: for time-window partitions it must select a partition's rows with @start and @end (uses: none)"},
		{"SELECT id FROM orders WHERE created_at >= @start", "does not use @end"},
	} {
		src, err := NewSource(SourceOpts{Pool: pool, Query: tc.query})
		if err != nil {
			t.Fatal(err)
		}
		stage, err := extract(t, b, src, "2024-01-01", "v-"+tc.want[:4])
		if files := stage.Files("2024-01-01"); len(files) != 0 {
			t.Errorf("%s: staged %q before failing", tc.query, files)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.query, err, tc.want)
			continue
		}
		if !pipelines.IsPermanent(err) {
			t.Errorf("%s: %v is not permanent: a retry cannot fix it", tc.query, err)
		}
	}
	if _, err := NewSource(SourceOpts{Pool: pool, Query: "SELECT 1 WHERE @when > now()"}); err == nil || !strings.Contains(err.Error(), "named parameter other than @start, @end, @key") {
		t.Errorf("unknown parameter: %v", err)
	}
	if _, err := NewSource(SourceOpts{Query: "SELECT 1"}); err == nil || !strings.Contains(err.Error(), "Pool is required") {
		t.Errorf("no pool: %v", err)
	}
}

func TestSinkPublishesAPartitionOnceAndNeverGoesBack(t *testing.T) {
	ctx := context.Background()
	pool, b := testPool(t), testBucket(t)
	src, err := NewSource(SourceOpts{Pool: pool, Query: "SELECT id, amount, name, uid, payload, day, created_at FROM orders WHERE created_at >= @start AND created_at < @end"})
	if err != nil {
		t.Fatal(err)
	}
	promote := func(version string) pipelines.Input {
		stage, err := extract(t, b, src, "2024-01-01", version)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := stage.Seal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return verify.NewInput(b, "orders", []verify.PartitionVersion{{Key: "2024-01-01", Version: version, ManifestSHA256: sealed[0].ManifestSHA256}})
	}
	sink, err := NewSink(SinkOpts{Pool: pool, Table: "published", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	a := &pipelines.Asset{Key: "orders_pg", Partitions: days, Deps: []pipelines.Dep{pipelines.On("orders")}}
	publish := func(in pipelines.Input, version string) (Receipt, error) {
		stage := verify.NewStage(b, "orders_pg", version, []string{"2024-01-01"})
		err := sink.Compute(ctx, pipelines.NewTask(a, []string{"2024-01-01"}, partitions.Range{Lo: 0, Hi: 1}, []pipelines.Input{in}, stage))
		if err != nil {
			return Receipt{}, err
		}
		r, err := stage.Open(ctx, "2024-01-01", ReceiptFile)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		data, _ := io.ReadAll(r)
		var rc Receipt
		if err := jsonUnmarshal(data, &rc); err != nil {
			t.Fatal(err)
		}
		return rc, nil
	}
	table := func() string {
		var got string
		if err := pool.QueryRow(ctx, `SELECT count(*) || ' rows, ids ' || string_agg(id::text, ',' ORDER BY id) || ', ' || sum(amount) || ', keys ' || string_agg(DISTINCT partition_key, ',')
			FROM published`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}

	v1 := promote("20240102T000000.000Z-aaaaaaaaaaaa")
	if rc, err := publish(v1, "p1"); err != nil || rc.Rows != 3 || rc.Kept != "" {
		t.Fatalf("publish v1: %+v, %v", rc, err)
	}
	const want = "3 rows, ids 1,2,3, 12.49, keys 2024-01-01"
	if got := table(); got != want {
		t.Fatalf("table = %s, want %s", got, want)
	}
	// Published again (a retry, a second run): still one copy.
	if _, err := publish(v1, "p2"); err != nil {
		t.Fatal(err)
	}
	if got := table(); got != want {
		t.Fatalf("after a second publish: %s, want %s", got, want)
	}

	// The source changes; a newer version is made. A publish killed just
	// before its commit leaves the table as it was.
	if _, err := pool.Exec(ctx, "UPDATE orders SET amount = amount + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	v2 := promote("20240103T000000.000Z-bbbbbbbbbbbb")
	killed := errors.New("killed")
	testBeforeCommit = func() error { return killed }
	_, err = publish(v2, "p3")
	testBeforeCommit = nil
	if !errors.Is(err, killed) {
		t.Fatalf("publish with a failing commit: %v", err)
	}
	if got := table(); got != want {
		t.Fatalf("after a publish killed before commit: %s, want %s", got, want)
	}
	if _, err := publish(v2, "p4"); err != nil {
		t.Fatal(err)
	}
	const want2 = "3 rows, ids 1,2,3, 13.49, keys 2024-01-01"
	if got := table(); got != want2 {
		t.Fatalf("after v2: %s, want %s", got, want2)
	}
	// A stale attempt that read v1 does not bring it back.
	rc, err := publish(v1, "p5")
	if err != nil || rc.Kept != "20240103T000000.000Z-bbbbbbbbbbbb" {
		t.Fatalf("stale publish: %+v, %v", rc, err)
	}
	if got := table(); got != want2 {
		t.Fatalf("after a stale publish: %s, want %s", got, want2)
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// arrayRows formats each row of tbl as its values' ValueStr joined by '|'.
func arrayRows(tbl arrow.Table) []string {
	var out []string
	for r := 0; r < int(tbl.NumRows()); r++ {
		vals := make([]string, tbl.NumCols())
		for c := 0; c < int(tbl.NumCols()); c++ {
			i := r
			for _, chunk := range tbl.Column(c).Data().Chunks() {
				if i < chunk.Len() {
					if chunk.IsNull(i) {
						vals[c] = "(null)"
					} else {
						vals[c] = chunk.ValueStr(i)
					}
					break
				}
				i -= chunk.Len()
			}
		}
		out = append(out, strings.Join(vals, "|"))
	}
	return out
}

// countingLimiter counts Take calls.
type countingLimiter struct{ n int }

func (l *countingLimiter) Take() time.Time { l.n++; return time.Time{} }

func TestSourceTakesItsLimiterOncePerPartition(t *testing.T) {
	pool, b := testPool(t), testBucket(t)
	limit := &countingLimiter{}
	src, err := NewSource(SourceOpts{Pool: pool, Limiter: limit, Query: "SELECT id FROM orders WHERE created_at >= @start AND created_at < @end"})
	if err != nil {
		t.Fatal(err)
	}
	a := &pipelines.Asset{Key: "orders", Partitions: days, MaxPartitionsPerRun: 3}
	keys := []string{"2024-01-01", "2024-01-02", "2024-01-03"}
	stage := verify.NewStage(b, "orders", "v1", keys)
	if err := src.Compute(context.Background(), pipelines.NewTask(a, keys, partitions.Range{Lo: 0, Hi: 3}, nil, stage)); err != nil {
		t.Fatal(err)
	}
	if limit.n != 3 {
		t.Errorf("Take called %d times for 3 partitions", limit.n)
	}
	for _, k := range keys {
		if len(stage.Files(k)) != 1 {
			t.Errorf("partition %s: files %q", k, stage.Files(k))
		}
	}
}

func TestCursorSensorStartsRunsForTheRowsPastItsCursor(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE events (id bigserial, day date NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`); err != nil {
		t.Fatal(err)
	}
	src, err := NewCursorSensor(CursorSensorOpts{Pool: pool, Query: `SELECT to_char(day, 'YYYY-MM-DD'), max(id) FROM events WHERE $1::bigint IS NULL OR id > $1 GROUP BY 1`})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	noop := func(ctx context.Context, t *pipelines.Task) error {
		w, err := t.Output.Create(ctx, t.Keys[0], "out.txt")
		if err != nil {
			return err
		}
		return w.Close()
	}
	g := lineage.Must(&pipelines.Asset{Key: "daily", Partitions: days, Compute: noop})
	s := &sensor.Sensor{Name: "events", Selection: "daily", Source: src}
	d := &sensor.Daemon{Store: st, Graph: g, Sensors: []*sensor.Sensor{s}, Clock: clock.NewFake(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))}
	if tick, err := d.EvaluateOne(ctx, s); err != nil || tick.CursorTo != "none" {
		t.Fatalf("first tick on an empty table: %+v %v", tick, err)
	}
	// 30 rows for 10 days: one run of exactly those days.
	if _, err := pool.Exec(ctx, `INSERT INTO events (day) SELECT date '2024-01-01' + (g % 10) FROM generate_series(1, 30) g`); err != nil {
		t.Fatal(err)
	}
	tick, err := d.EvaluateOne(ctx, s)
	if err != nil || tick.RunID == 0 || tick.Arrivals != 10 || tick.Partitions != "2024-01-01...2024-01-10" || tick.CursorTo != "int:30" {
		t.Fatalf("tick: %+v %v", tick, err)
	}
	if tick, err := d.EvaluateOne(ctx, s); err != nil || tick.RunID != 0 || tick.Arrivals != 0 {
		t.Fatalf("nothing new: %+v %v", tick, err)
	}
	if _, err := NewCursorSensor(CursorSensorOpts{Pool: pool, Query: "SELECT 'x', 1"}); err == nil || !strings.Contains(err.Error(), "$1") {
		t.Errorf("a query without $1: %v", err)
	}
	bad, _ := NewCursorSensor(CursorSensorOpts{Pool: pool, Query: "SELECT 'x', 'y' WHERE $1::text IS NULL"})
	if _, err := bad.Poll(ctx, ""); err == nil || !strings.Contains(err.Error(), "want bigint or timestamptz") {
		t.Errorf("a text cursor: %v", err)
	}
}
