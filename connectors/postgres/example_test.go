package postgres_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/ratelimit"

	"github.com/weir-dev/weir/connectors/postgres"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
)

// A day of orders is extracted from PostgreSQL into Parquet, and once
// promoted published back into the table orders_copy. pgxpool connects on
// first use, so declaring the assets touches no database. (This example
// needs a database to run; examples/shop is a complete pipeline.)
func ExampleNewSource() {
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:5432/test")
	if err != nil {
		log.Fatal(err)
	}
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin"})
	limit := ratelimit.New(10) // at most 10 queries a second from this process
	src, err := postgres.NewSource(postgres.SourceOpts{Pool: pool, Limiter: limit, Query: `
		SELECT order_id, amount, currency, created_at FROM orders
		WHERE created_at >= @start AND created_at < @end`})
	if err != nil {
		log.Fatal(err)
	}
	sink, err := postgres.NewSink(postgres.SinkOpts{Pool: pool, Table: "orders_copy", Create: true, Limiter: limit})
	if err != nil {
		log.Fatal(err)
	}
	_ = []*pipelines.Asset{
		{Key: "orders", Partitions: days, CodeVersion: src.CodeVersion(), Compute: src.Compute},
		{Key: "orders_pg", Partitions: days, Deps: []pipelines.Dep{pipelines.On("orders")}, CodeVersion: sink.CodeVersion(), Compute: sink.Compute},
	}
}
