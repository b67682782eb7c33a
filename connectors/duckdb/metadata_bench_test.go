package duckdb_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/internal/catalogseed"
)

// BenchmarkLoadMetadata is `weir query`'s load: a catalog of 87,600 hourly
// partitions × 20 assets, each with a current version (1.75 M
// materializations, ~10 M lineage rows: the trailing-24 fans read 24
// partitions each), loaded from the state store into an in-memory DuckDB,
// then one query over it. WEIR_BENCH_PARTITIONS makes it smaller.
func BenchmarkLoadMetadata(b *testing.B) {
	_, g, n, now := catalogseed.TenYearsHourly()
	for _, backend := range catalogseed.Backends {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			st := catalogseed.OpenStore(ctx, b, backend)
			defer st.Close()
			counts, err := catalogseed.Seed(ctx, st.(interface{ DB() *sql.DB }).DB(), g, n, now)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("all", func(b *testing.B) {
				for b.Loop() {
					db, err := duckdb.Open(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if err := db.LoadMetadata(ctx, st, g, now, nil); err != nil {
						b.Fatal(err)
					}
					var mats, edges int64
					if err := db.SQL().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM materializations), (SELECT count(*) FROM lineage)`).Scan(&mats, &edges); err != nil {
						b.Fatal(err)
					}
					if mats != counts.Materializations || edges != counts.Inputs {
						b.Fatalf("loaded %d materializations and %d lineage rows, seeded %d and %d", mats, edges, counts.Materializations, counts.Inputs)
					}
					db.Close()
				}
				b.ReportMetric(float64(counts.Materializations), "materializations")
				b.ReportMetric(float64(counts.Inputs), "lineage-rows")
			})
			// A query over partition states loads only what it names.
			b.Run("partition_ranges", func(b *testing.B) {
				q := `SELECT asset, state, count(*) FROM partition_ranges GROUP BY ALL`
				for b.Loop() {
					db, err := duckdb.Open(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if err := db.LoadMetadata(ctx, st, g, now, duckdb.TablesIn(q)); err != nil {
						b.Fatal(err)
					}
					if _, _, err := db.QueryRows(ctx, q); err != nil {
						b.Fatal(err)
					}
					db.Close()
				}
			})
		})
	}
}
