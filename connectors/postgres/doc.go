// Package postgres reads partitions out of PostgreSQL and publishes
// promoted partitions back into it, with pgx (github.com/jackc/pgx/v5).
// Nothing in weir's core imports it; a pipeline that uses it does.
//
// # Source
//
// A Source runs a query per partition, binding the partition with named
// parameters (@start and @end for time windows, @key for any partition),
// and streams the rows into Apache Arrow record batches and on to one
// Zstd-compressed Parquet file: memory holds about one batch
// (SourceOpts.BatchRows, 65,536 rows) whatever the partition's size. Each
// partition is read in one read-only, repeatable-read transaction whose
// TimeZone is the partition's zone, so a timestamp-without-time-zone column
// compares against @start and @end as wall time in that zone.
//
//	orders, err := postgres.NewSource(postgres.SourceOpts{Pool: pool, Query: `
//		SELECT order_id, amount, created_at FROM orders
//		WHERE created_at >= @start AND created_at < @end`})
//	...
//	&pipelines.Asset{Key: "orders", Partitions: days, CodeVersion: orders.CodeVersion(), Compute: orders.Compute}
//
// Types map as follows; any other type fails the task at once (it is not
// retried) with an error naming the column, its type and a cast to use:
//
//	PostgreSQL                          Arrow (and Parquet)
//	bool                                bool
//	smallint, integer, bigint           int16, int32, int64
//	real, double precision              float32, float64
//	numeric(p,s), p ≤ 38                decimal128(p,s); NaN and infinity fail
//	numeric without (p,s), p > 38       refused: cast, e.g. x::numeric(18,2)
//	text, varchar, char(n), name        utf8 (char(n) keeps its padding)
//	json, jsonb                         utf8 (the JSON text)
//	bytea                               binary
//	uuid                                arrow.uuid extension (Parquet UUID)
//	date                                date32; infinity fails
//	timestamp                           timestamp[us] without zone
//	timestamptz                         timestamp[us, UTC]; infinity fails
//	bool[], smallint[], integer[],      list<element> of the above; arrays
//	bigint[], double precision[],       of more than one dimension fail
//	text[], varchar[]
//	interval, time, money, inet, ...    refused: cast in the query
//
// # Sink
//
// A Sink is the compute function of an asset that depends on the one it
// publishes: weir runs it only for a promoted, verified upstream
// partition. It reads the partition's Parquet (checksum-verified to the
// end, through a temporary file) and, in one transaction, deletes the
// partition's rows (SinkOpts.KeyColumn holds each row's partition key) and
// copies the new ones in with COPY. It records the upstream version it
// published in weir_sink_partitions and never replaces a newer version with
// an older one, so a retried, duplicated or stale attempt cannot make the
// table go back. A process killed mid-publish leaves the previous rows in
// place; the retry publishes the partition once.
//
// # Rate limits
//
// SourceOpts.Limiter and SinkOpts.Limiter take a go.uber.org/ratelimit
// limiter, shared by every source and sink you hand it to, and Take it
// before each partition's query or publish. It is a per-process limit: N
// workers on N hosts each allow its rate, so the database sees up to N
// times it. Backfill throttles (--max-concurrent, --rate, pool quotas) are
// admitted in the state store and hold across all workers; use them for
// the total, and a Limiter to keep one process from bursting.
//
//	limit := ratelimit.New(20) // queries per second, per process
//	postgres.SourceOpts{Pool: pool, Query: q, Limiter: limit}
package postgres
