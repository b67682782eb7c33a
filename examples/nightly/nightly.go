// Package nightly is weir's example pipeline: a small nightly ETL over daily
// partitions in Europe/Berlin.
//
//	raw_orders      a deterministic generator of a few thousand orders a day
//	                (seeded by the date), some of them dirty, as Parquet
//	cleaned_orders  raw_orders without invalid amounts, unknown currencies,
//	                duplicate ids or timestamps outside the day (Arrow)
//	daily_revenue   orders and revenue per currency (DuckDB SQL)
//	revenue_7d      the trailing 7 days of daily_revenue (DuckDB SQL)
//
// cmd/weir compiles it in, so `go run ./cmd/weir materialize --select '*'
// --partition-range 2024-01-01...2024-01-31` runs it with no set-up.
package nightly

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/connectors/parquet"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/verify"
)

// Days are the example's partitions: calendar days in Berlin from 2024-01-01.
var Days = partitions.MustTimeWindow(partitions.TimeWindowOpts{
	Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin",
})

// Currencies are the valid currencies; raw data also has invalid ones.
var Currencies = []string{"CHF", "EUR", "GBP", "USD"}

// File is the name of every asset's Parquet file within a partition.
const File = "data.parquet"

// Schedules returns the example's schedule: every night at 02:00 Berlin
// time, the day that just ended (the default target of a daily selection).
func Schedules() []*schedule.Schedule {
	return []*schedule.Schedule{{Name: "nightly", Selection: "*", Cron: "0 2 * * *", Zone: "Europe/Berlin", MaxConcurrent: 4}}
}

// Assets returns the example's assets.
func Assets() []*pipelines.Asset {
	retry := pipelines.RetryPolicy{MaxAttempts: 3, InitialBackoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second}
	return []*pipelines.Asset{
		{
			Key: "raw_orders", Description: "Orders as the shop exports them: a few thousand a day, some dirty.",
			Partitions: Days, Group: "ingest", Tags: []string{"nightly"}, CodeVersion: "1", Retry: retry,
			Timeout: 5 * time.Minute, Compute: computeRawOrders,
		},
		{
			Key: "cleaned_orders", Description: "Valid orders only: positive amounts, known currencies, unique ids, inside the day.",
			Partitions: Days, Deps: []pipelines.Dep{pipelines.On("raw_orders")}, Group: "ingest", Tags: []string{"nightly"},
			CodeVersion: "1", Retry: retry, Timeout: 5 * time.Minute, Compute: computeCleanedOrders,
			Checks: []pipelines.Check{
				{Name: "has rows", Func: hasRows},
				duckdb.SQL("no negative amounts", "SELECT count(*) FROM data WHERE amount <= 0", duckdb.ExpectZero),
				duckdb.UniqueKey("order_id"),
				duckdb.NoNulls("order_id", "currency", "ts"),
				verify.Warn(duckdb.RowCountAtLeast(2500)), // a slow day is worth a look, not a stop
			},
		},
		{
			Key: "daily_revenue", Description: "Orders and revenue per currency and day.",
			Partitions: Days, Deps: []pipelines.Dep{pipelines.On("cleaned_orders")}, Group: "finance", Tags: []string{"nightly"},
			CodeVersion: "1", Retry: retry, Timeout: 5 * time.Minute, Compute: computeDailyRevenue,
		},
		{
			Key: "revenue_7d", Description: "Revenue per currency over the 7 days ending on the partition's day.",
			Partitions: Days, Deps: []pipelines.Dep{pipelines.OnMapped("daily_revenue", partitions.Trailing(7))},
			Group: "finance", Tags: []string{"nightly"}, CodeVersion: "1", Retry: retry, Timeout: 5 * time.Minute,
			Compute: computeRevenue7d,
		},
	}
}

// Graph returns the example's validated asset graph.
func Graph() *lineage.Graph { return lineage.Must(Assets()...) }

var rawSchema = arrow.NewSchema([]arrow.Field{
	{Name: "order_id", Type: arrow.BinaryTypes.String},
	{Name: "customer_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "currency", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
}, nil)

// Order is one generated order.
type Order struct {
	ID         string
	CustomerID int64
	Amount     float64
	Currency   string
	At         time.Time
}

// GenerateOrders returns the raw orders of a day: the same orders for the
// same day, every time. About 2% are dirty: a negative or zero amount, an
// unknown currency, a repeated id, or a timestamp outside the day.
func GenerateOrders(day string) ([]Order, error) {
	i, err := Days.Index(day)
	if err != nil {
		return nil, err
	}
	start, end := Days.Window(i)
	rng := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	n := 2000 + rng.IntN(2000)
	span := end.Sub(start)
	orders := make([]Order, 0, n)
	for k := 0; k < n; k++ {
		o := Order{
			ID:         fmt.Sprintf("%s-%05d", start.Format("20060102"), k),
			CustomerID: 1 + rng.Int64N(5000),
			Amount:     float64(100+rng.IntN(50_000)) / 100,
			Currency:   Currencies[rng.IntN(len(Currencies))],
			At:         start.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond),
		}
		switch rng.IntN(200) {
		case 0:
			o.Amount = -o.Amount
		case 1:
			o.Currency = "XXX"
		case 2:
			if k > 0 {
				o.ID = orders[k-1].ID
			}
		case 3:
			o.At = end.Add(time.Hour)
		}
		orders = append(orders, o)
	}
	return orders, nil
}

func ordersTable(orders []Order) arrow.Table {
	b := array.NewRecordBuilder(memory.DefaultAllocator, rawSchema)
	defer b.Release()
	for _, o := range orders {
		b.Field(0).(*array.StringBuilder).Append(o.ID)
		b.Field(1).(*array.Int64Builder).Append(o.CustomerID)
		b.Field(2).(*array.Float64Builder).Append(o.Amount)
		b.Field(3).(*array.StringBuilder).Append(o.Currency)
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(o.At.UnixMilli()))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(rawSchema, []arrow.RecordBatch{rec})
}

func computeRawOrders(ctx context.Context, t *pipelines.Task) error {
	for _, day := range t.Keys {
		orders, err := GenerateOrders(day)
		if err != nil {
			return pipelines.Permanent(err)
		}
		tbl := ordersTable(orders)
		err = parquet.WriteFile(ctx, t.Output, day, File, tbl)
		tbl.Release()
		if err != nil {
			return err
		}
	}
	t.Logger.Debug("generated raw orders", "days", len(t.Keys))
	return nil
}

// readOrders reads a Parquet orders file back into Orders.
func readOrders(tbl arrow.Table) []Order {
	var out []Order
	tr := array.NewTableReader(tbl, 4096)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		ids := rec.Column(0).(*array.String)
		cust := rec.Column(1).(*array.Int64)
		amt := rec.Column(2).(*array.Float64)
		cur := rec.Column(3).(*array.String)
		ts := rec.Column(4).(*array.Timestamp)
		for r := 0; r < int(rec.NumRows()); r++ {
			out = append(out, Order{ID: ids.Value(r), CustomerID: cust.Value(r), Amount: amt.Value(r), Currency: cur.Value(r),
				At: time.UnixMilli(int64(ts.Value(r))).UTC()})
		}
	}
	return out
}

// Clean keeps the valid orders of a day: positive amount, known currency,
// inside [start, end), first of each id.
func Clean(orders []Order, start, end time.Time) []Order {
	valid := map[string]bool{}
	for _, c := range Currencies {
		valid[c] = true
	}
	seen := map[string]bool{}
	var out []Order
	for _, o := range orders {
		if o.Amount <= 0 || !valid[o.Currency] || o.At.Before(start) || !o.At.Before(end) || seen[o.ID] {
			continue
		}
		seen[o.ID] = true
		out = append(out, o)
	}
	return out
}

func computeCleanedOrders(ctx context.Context, t *pipelines.Task) error {
	raw := t.Input("raw_orders")
	for k, day := range t.Keys {
		tbl, err := parquet.ReadFile(ctx, raw, day, File, nil)
		if err != nil {
			return err
		}
		orders := readOrders(tbl)
		tbl.Release()
		start, end := Days.Window(t.Range.Lo + int64(k))
		clean := ordersTable(Clean(orders, start, end))
		err = parquet.WriteFile(ctx, t.Output, day, File, clean)
		clean.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

func hasRows(ctx context.Context, staged pipelines.Staged) (string, error) {
	var rows []string
	for _, k := range staged.Keys() {
		tbl, err := parquet.ReadFile(ctx, staged, k, File, nil)
		if err != nil {
			return "", err
		}
		n := tbl.NumRows()
		tbl.Release()
		rows = append(rows, fmt.Sprintf("%s: %d rows", k, n))
		if n == 0 {
			return strings.Join(rows, ", "), fmt.Errorf("partition %s has no rows", k)
		}
	}
	return strings.Join(rows, ", "), nil
}

func computeDailyRevenue(ctx context.Context, t *pipelines.Task) error {
	db, err := duckdb.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, day := range t.Keys {
		if err := db.ParquetView(ctx, "cleaned", t.Input("cleaned_orders"), []string{day}, File); err != nil {
			return err
		}
		q := fmt.Sprintf(`SELECT DATE '%s' AS day, currency, count(*) AS orders, round(sum(amount), 2) AS revenue
			FROM cleaned GROUP BY currency ORDER BY currency`, day)
		if err := db.QueryToParquetFile(ctx, q, t.Output, day, File); err != nil {
			return err
		}
	}
	return nil
}

func computeRevenue7d(ctx context.Context, t *pipelines.Task) error {
	db, err := duckdb.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	in := t.Input("daily_revenue")
	for k, day := range t.Keys {
		// The days this partition reads: the 7 ending today, clipped at
		// the first partition.
		idx := t.Range.Lo + int64(k)
		var days []string
		for d := max(0, idx-6); d <= idx; d++ {
			days = append(days, Days.Key(d))
		}
		if err := db.ParquetView(ctx, "daily", in, days, File); err != nil {
			return err
		}
		q := fmt.Sprintf(`SELECT DATE '%s' AS day, currency, count(DISTINCT "day") AS days, sum(orders)::BIGINT AS orders,
			round(sum(revenue), 2) AS revenue FROM daily GROUP BY currency ORDER BY currency`, day)
		if err := db.QueryToParquetFile(ctx, q, t.Output, day, File); err != nil {
			return err
		}
	}
	return nil
}

// Alerts returns the example's alerts: every event appended to
// .weir/alerts.ndjson; warnings and worse also to the webhook at
// WEIR_ALERT_WEBHOOK (signed with WEIR_ALERT_SECRET) and to the Slack
// incoming webhook at WEIR_ALERT_SLACK, when set. Deadline: each day's
// daily_revenue promoted by 06:00 Berlin time the next morning.
func Alerts(getenv func(string) string) *alert.Config {
	cfg := &alert.Config{
		Sinks:     map[string]alert.Sink{"file": &alert.File{Path: ".weir/alerts.ndjson"}},
		Rules:     []alert.Rule{{Sink: "file"}},
		Freshness: []alert.Freshness{{Asset: "daily_revenue", By: "06:00", Zone: "Europe/Berlin"}},
	}
	if u := getenv("WEIR_ALERT_WEBHOOK"); u != "" {
		cfg.Sinks["webhook"] = &alert.Webhook{URL: u, Secret: getenv("WEIR_ALERT_SECRET")}
		cfg.Rules = append(cfg.Rules, alert.Rule{Sink: "webhook", MinSeverity: alert.Warning})
	}
	if u := getenv("WEIR_ALERT_SLACK"); u != "" {
		cfg.Sinks["slack"] = &alert.Slack{URL: u}
		cfg.Rules = append(cfg.Rules, alert.Rule{Sink: "slack", MinSeverity: alert.Warning})
	}
	return cfg
}
