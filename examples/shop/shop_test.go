package shop_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/examples/shop"
	"github.com/weir-dev/weir/store/postgres/pgtest"
)

// independent is daily_revenue computed straight from the source table.
const independent = `SELECT (created_at AT TIME ZONE 'Europe/Berlin')::date AS day, currency, count(*) AS orders, sum(amount) AS revenue
	FROM orders WHERE status = 'paid' GROUP BY 1, 2`

// TestShopPublishesExactlyWhatTheSourceSays runs the shop ETL against the
// real PostgreSQL: extract → Parquet → DuckDB → checks → promote → sink.
func TestShopPublishesExactlyWhatTheSourceSays(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n, err := shop.Seed(ctx, pool, "2024-01-01", "2024-01-31"); err != nil || n < 31*200 {
		t.Fatalf("seed: %d orders, %v", n, err)
	}
	assets, err := shop.Assets(pool)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	weir := func(want int, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		cfg := weircli.Config{Name: "shop", Assets: assets, Stdout: &out, Stderr: &out, Getenv: func(k string) string {
			return map[string]string{"WEIR_STORE": "sqlite://" + filepath.Join(dir, "state.db"), "WEIR_BLOB": "file://" + filepath.Join(dir, "blobs")}[k]
		}}
		if code := weircli.Run(ctx, cfg, append(args, "--quiet")); code != want {
			t.Fatalf("shop %q: exit %d, want %d\n%s", args, code, want, out.String())
		}
		return out.String()
	}
	query := func(sql string, args ...any) (n int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	// differences counts rows in one of published and independent but not
	// in the other, over the days published.
	differences := func() int64 {
		return query(`WITH want AS (` + independent + `), got AS (SELECT day, currency, orders, revenue FROM daily_revenue)
			SELECT count(*) FROM ((SELECT * FROM got EXCEPT SELECT * FROM want) UNION ALL
			(SELECT * FROM want WHERE day IN (SELECT day FROM got) EXCEPT SELECT * FROM got)) d`)
	}

	// A paid order with a large negative amount makes 2024-01-10's total
	// negative: its blocking check fails, and it never reaches the table.
	if _, err := pool.Exec(ctx, `INSERT INTO orders VALUES (999999, 1, -100000.00, 'EUR', 'paid', '2024-01-10 12:00+01')`); err != nil {
		t.Fatal(err)
	}
	weir(weircli.ExitFailed, "materialize", "--select", "*", "--partition-range", "2024-01-01...2024-01-31")
	if got := query(`SELECT count(DISTINCT day) FROM daily_revenue`); got != 30 {
		t.Fatalf("days published = %d, want 30 (all but 2024-01-10)", got)
	}
	if got := query(`SELECT count(*) FROM daily_revenue WHERE day = '2024-01-10' OR revenue < 0`); got != 0 {
		t.Fatalf("%d rows of the failed day or negative totals published", got)
	}
	if d := differences(); d != 0 {
		t.Fatalf("published rows differ from the source's aggregation in %d rows", d)
	}

	// Fixed at the source, the day is extracted again and published.
	if _, err := pool.Exec(ctx, `DELETE FROM orders WHERE order_id = 999999`); err != nil {
		t.Fatal(err)
	}
	weir(weircli.ExitOK, "materialize", "--select", "*", "--partition", "2024-01-10", "--reprocess", "all")
	if got, want := query(`SELECT count(*) FROM daily_revenue`), query(`SELECT count(*) FROM (`+independent+`) w`); got != want || got != 31*4 {
		t.Fatalf("rows published = %d, want %d (31 days × 4 currencies)", got, want)
	}
	if d := differences(); d != 0 {
		t.Fatalf("published rows differ from the source's aggregation in %d rows", d)
	}

	// A change at the source and a re-run of that day replace exactly its
	// rows: no duplicates, the other days untouched.
	if _, err := pool.Exec(ctx, `UPDATE orders SET amount = amount + 1 WHERE created_at >= '2024-01-20 00:00+01' AND created_at < '2024-01-21 00:00+01' AND status = 'paid'`); err != nil {
		t.Fatal(err)
	}
	before := query(`SELECT count(*) FROM daily_revenue WHERE day <> '2024-01-20'`)
	weir(weircli.ExitOK, "materialize", "--select", "*", "--partition", "2024-01-20", "--reprocess", "all")
	if got := query(`SELECT count(*) FROM daily_revenue WHERE day = '2024-01-20'`); got != 4 {
		t.Fatalf("rows of 2024-01-20 after a re-run = %d, want 4", got)
	}
	if got := query(`SELECT count(*) FROM daily_revenue WHERE day <> '2024-01-20'`); got != before {
		t.Fatalf("other days' rows went from %d to %d", before, got)
	}
	if d := differences(); d != 0 {
		t.Fatalf("published rows differ from the source's aggregation in %d rows", d)
	}
	if got := query(`SELECT count(*) FROM weir_sink_partitions WHERE table_name = $1`, shop.Table); got != 31 {
		t.Fatalf("sink state rows = %d, want 31", got)
	}
}
