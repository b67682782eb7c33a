package duckdb_test

import (
	"fmt"
	"log"

	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
)

// An asset declared as SQL over its upstream's promoted Parquet: weir runs
// it once per partition, with the partition's bounds as literals, and
// DuckDB writes the Parquet output. Editing the SQL changes the code
// version, so the asset's partitions become stale.
func ExampleNewSQLAsset() {
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin"})
	q, err := duckdb.NewSQLAsset(duckdb.SQLAssetOpts{SQL: `
		SELECT currency, count(*) AS orders, sum(amount) AS revenue
		FROM {{ upstream "orders" }}
		WHERE created_at >= {{ .Start }} AND created_at < {{ .End }}
		GROUP BY currency`})
	if err != nil {
		log.Fatal(err)
	}
	revenue, err := q.Asset(pipelines.Asset{Key: "revenue", Partitions: days, Deps: []pipelines.Dep{pipelines.On("orders")},
		Checks: []pipelines.Check{duckdb.UniqueKey("currency")}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(revenue.Key, "reads", q.Upstreams(), "code version", revenue.CodeVersion)
	// Output:
	// revenue reads [orders] code version sql-b6ff0f122d81
}
