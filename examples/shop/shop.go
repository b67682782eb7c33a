// Package shop is weir's example of a nightly ETL against a real
// PostgreSQL: it extracts a shop's orders a day at a time, cleans and
// aggregates them with DuckDB, checks the result and publishes it back to
// the database.
//
//	orders            the day's rows of the orders table (postgres.Source),
//	                  in Europe/Berlin days, as Parquet
//	paid_orders       the paid orders only (DuckDB SQL)
//	daily_revenue     orders and revenue per currency (DuckDB SQL), checked:
//	                  no negative totals, one row per currency
//	daily_revenue_pg  daily_revenue published into the table daily_revenue
//	                  once verified and promoted (postgres.Sink)
//
// Seed creates the orders table with a few months of deterministic
// synthetic orders. The command in cmd/shop is the pipeline's own binary:
// weir's command line with these assets and a seed command.
package shop

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/connectors/postgres"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/sensor"
)

// Days are the pipeline's partitions: calendar days in Berlin from
// 2024-01-01.
var Days = partitions.MustTimeWindow(partitions.TimeWindowOpts{
	Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin",
})

// Table is the table daily_revenue is published into.
const Table = "daily_revenue"

// Assets returns the pipeline, reading from and publishing to the
// database behind pool (which connects on first use).
func Assets(pool *pgxpool.Pool) ([]*pipelines.Asset, error) {
	retry := pipelines.RetryPolicy{MaxAttempts: 3, InitialBackoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second}
	orders, err := postgres.NewSource(postgres.SourceOpts{Pool: pool, Query: `
		SELECT order_id, customer_id, amount, currency, status, created_at
		FROM orders
		WHERE created_at >= @start AND created_at < @end
		ORDER BY order_id`})
	if err != nil {
		return nil, err
	}
	paid, err := duckdb.MustSQLAsset(duckdb.SQLAssetOpts{SQL: `
		SELECT order_id, customer_id, amount, currency, created_at
		FROM {{ upstream "orders" }}
		WHERE status = 'paid'`}).Asset(pipelines.Asset{
		Key: "paid_orders", Description: "The day's paid orders.", Partitions: Days, Group: "shop", Retry: retry,
		Deps: []pipelines.Dep{pipelines.On("orders")},
		Checks: []pipelines.Check{
			duckdb.UniqueKey("order_id"),
			duckdb.NoNulls("order_id", "amount", "currency"),
		},
	})
	if err != nil {
		return nil, err
	}
	revenue, err := duckdb.MustSQLAsset(duckdb.SQLAssetOpts{SQL: `
		SELECT CAST({{ .Key }} AS DATE) AS day, currency, count(*) AS orders, sum(amount) AS revenue
		FROM {{ upstream "paid_orders" }}
		GROUP BY currency
		ORDER BY currency`}).Asset(pipelines.Asset{
		Key: "daily_revenue", Description: "Paid orders and revenue per currency and day.", Partitions: Days, Group: "shop", Retry: retry,
		Deps: []pipelines.Dep{pipelines.On("paid_orders")},
		Checks: []pipelines.Check{
			duckdb.SQL("no negative totals", "SELECT count(*) FROM data WHERE revenue < 0", duckdb.ExpectZero),
			duckdb.UniqueKey("day", "currency"),
		},
	})
	if err != nil {
		return nil, err
	}
	sink, err := postgres.NewSink(postgres.SinkOpts{Pool: pool, Table: Table, KeyColumn: "partition_key", Create: true})
	if err != nil {
		return nil, err
	}
	return []*pipelines.Asset{
		{
			Key: "orders", Description: "The shop's orders of the day, extracted from PostgreSQL.", Partitions: Days, Group: "shop",
			Retry: retry, Timeout: 10 * time.Minute, CodeVersion: orders.CodeVersion(), Compute: orders.Compute,
		},
		paid,
		revenue,
		{
			Key: "daily_revenue_pg", Description: "daily_revenue published into the table " + Table + " once verified.",
			Partitions: Days, Group: "shop", Retry: retry, Deps: []pipelines.Dep{pipelines.On("daily_revenue")},
			CodeVersion: sink.CodeVersion(), Compute: sink.Compute,
		},
	}, nil
}

// Currencies are the currencies orders are paid in.
var Currencies = []string{"CHF", "EUR", "GBP", "USD"}

// Seed (re)creates the orders table and fills it with the orders of the
// days from, to (inclusive) of Days: the same orders every time, a few
// hundred a day, about 90% paid, 7% cancelled and 3% refunded (negative
// amounts). It returns the number of orders.
func Seed(ctx context.Context, pool *pgxpool.Pool, from, to string) (int64, error) {
	lo, err := Days.Index(from)
	if err != nil {
		return 0, err
	}
	hi, err := Days.Index(to)
	if err != nil {
		return 0, err
	}
	if hi < lo {
		return 0, fmt.Errorf("seed days %s...%s: the last day is before the first", from, to)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS orders;
		CREATE TABLE orders (
			order_id    bigint PRIMARY KEY,
			customer_id integer NOT NULL,
			amount      numeric(12,2) NOT NULL,
			currency    text NOT NULL,
			status      text NOT NULL,
			created_at  timestamptz NOT NULL);
		CREATE INDEX orders_created_at ON orders (created_at)`); err != nil {
		return 0, fmt.Errorf("create orders: %w", err)
	}
	var rows [][]any
	id := int64(0)
	for i := lo; i <= hi; i++ {
		start, end := Days.Window(i)
		rng := rand.New(rand.NewPCG(uint64(i), 0x5409))
		n := 200 + rng.IntN(300)
		for range n {
			id++
			cents := int64(500 + rng.IntN(20000))
			status := "paid"
			switch r := rng.Float64(); {
			case r < 0.07:
				status = "cancelled"
			case r < 0.10:
				status, cents = "refunded", -cents
			}
			at := start.Add(time.Duration(rng.Int64N(int64(end.Sub(start)))))
			rows = append(rows, []any{id, int32(1 + rng.IntN(5000)), pgtype.Numeric{Int: big.NewInt(cents), Exp: -2, Valid: true},
				Currencies[rng.IntN(len(Currencies))], status, at.Truncate(time.Second)})
		}
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"orders"}, []string{"order_id", "customer_id", "amount", "currency", "status", "created_at"}, pgx.CopyFromRows(rows))
	if err != nil {
		return 0, fmt.Errorf("copy orders: %w", err)
	}
	if _, err := tx.Exec(ctx, "ANALYZE orders"); err != nil {
		return 0, err
	}
	return n, tx.Commit(ctx)
}

// Schedules runs the pipeline every night at 02:00 Berlin time for the
// day that just ended.
func Schedules() []*schedule.Schedule {
	return []*schedule.Schedule{{Name: "shop_nightly", Selection: "*", Cron: "0 2 * * *", Zone: "Europe/Berlin", MaxConcurrent: 4}}
}

// Sensors re-runs the days whose orders arrive late (a day already
// materialized gains rows): the orders table's order_id is the cursor.
// Orders of the day not yet ended are left to the nightly schedule.
func Sensors(pool *pgxpool.Pool) ([]*sensor.Sensor, error) {
	src, err := postgres.NewCursorSensor(postgres.CursorSensorOpts{Pool: pool, Query: `
		SELECT to_char(created_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD'), max(order_id)
		FROM orders WHERE $1::bigint IS NULL OR order_id > $1 GROUP BY 1`})
	if err != nil {
		return nil, err
	}
	return []*sensor.Sensor{{Name: "late_orders", Selection: "*", Every: time.Minute, Source: src}}, nil
}
