package querycmd_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/cmd/weir/querycmd"
	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/store/postgres/pgtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// The README's examples, as they are there.
var examples = []string{
	// Which partitions of revenue_7d read, through any path, a version of
	// raw_orders promoted before a given time?
	`WITH RECURSIVE up AS (
  SELECT l.partition AS root, l.upstream_asset AS asset, l.upstream_partition AS partition, l.upstream_version AS version
  FROM lineage l JOIN partitions p USING (asset, partition, version) WHERE l.asset = 'revenue_7d'
  UNION
  SELECT up.root, l.upstream_asset, l.upstream_partition, l.upstream_version
  FROM up JOIN lineage l ON l.asset = up.asset AND l.partition = up.partition AND l.version = up.version)
SELECT up.root AS revenue_7d_partition, count(DISTINCT up.partition) AS raw_orders_partitions
FROM up JOIN materializations m USING (asset, partition, version)
WHERE up.asset = 'raw_orders' AND m.promoted_at < TIMESTAMPTZ '2024-03-02 00:00:00+00'
GROUP BY 1 ORDER BY 1`,
	// Tasks and their mean and p95 duration per asset over the 30 days
	// before a given time.
	`SELECT asset, count(*) AS tasks, round(avg(epoch(finished_at) - epoch(started_at)), 1) >= 0 AS mean_known,
  round(quantile_cont(epoch(finished_at) - epoch(started_at), 0.95), 1) >= 0 AS p95_known
FROM tasks WHERE state = 'succeeded' AND finished_at > TIMESTAMPTZ '2024-03-05 00:00:00+00' - INTERVAL 30 DAY
GROUP BY asset ORDER BY asset`,
	// Every partition whose checks warned.
	`SELECT asset, partitions, name, value FROM check_results WHERE warn AND NOT passed ORDER BY asset, partitions, name`,
	// Each partition range of revenue_7d by state.
	`SELECT state, first_partition, last_partition, partitions FROM partition_ranges WHERE asset = 'revenue_7d' ORDER BY first_partition`,
}

func run(t *testing.T, storeURL string, clk *clock.Fake, args ...string) string {
	t.Helper()
	var out, errs bytes.Buffer
	assets := nightly.Assets()
	env := map[string]string{"WEIR_STORE": storeURL, "WEIR_BLOB": "file://" + filepath.Join(filepath.Dir(strings.TrimPrefix(storeURL, "sqlite://")), "blobs")}
	if strings.HasPrefix(storeURL, "postgres") {
		env["WEIR_BLOB"] = "file://" + t.TempDir()
	}
	code := weircli.Run(context.Background(), weircli.Config{Assets: assets, Commands: []*cobra.Command{querycmd.Command(assets, clk)},
		Stdout: &out, Stderr: &errs, Clock: clk, Getenv: func(k string) string { return env[k] }}, args)
	return "$ weir " + strings.Join(args, " ") + "\n" + out.String() + errs.String() + "[exit " + string(rune('0'+code)) + "]\n\n"
}

func transcript(t *testing.T, storeURL string) string {
	clk := clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	if out := run(t, storeURL, clk, "materialize", "--select", "*", "--partition-range", "2024-01-01...2024-01-07", "-q", "-c", "1", "--local"); !strings.Contains(out, "[exit 0]") {
		t.Fatalf("materialize: %s", out)
	}
	// A day later, raw_orders 2024-01-03 and what reads it up to
	// daily_revenue are made again; revenue_7d is not.
	clk.Advance(48 * time.Hour)
	run(t, storeURL, clk, "materialize", "--select", "raw_orders,cleaned_orders,daily_revenue", "--partition", "2024-01-03", "--reprocess", "all", "-q", "-c", "1", "--local")
	var b strings.Builder
	for _, q := range examples {
		b.WriteString(run(t, storeURL, clk, "query", q))
	}
	b.WriteString(run(t, storeURL, clk, "query", "SELECT asset, count(*) AS current FROM partitions WHERE version IS NOT NULL GROUP BY asset ORDER BY asset", "-o", "csv"))
	b.WriteString(run(t, storeURL, clk, "query", "SELECT DISTINCT asset, why_stale FROM partitions WHERE state = 'stale' ORDER BY 1"))
	b.WriteString(run(t, storeURL, clk, "query", "SELECT phase, state, count(*) AS attempts FROM attempts WHERE asset = 'raw_orders' GROUP BY ALL ORDER BY ALL"))
	b.WriteString(run(t, storeURL, clk, "query", "SELECT count(*) AS backfills FROM backfills"))
	b.WriteString(run(t, storeURL, clk, "query", "SELECT name, paused FROM schedules", "-o", "json"))
	b.WriteString(run(t, storeURL, clk, "query", "SELEC 1"))
	b.WriteString(run(t, storeURL, clk, "query", "SELECT 1", "-o", "parquet"))
	return b.String()
}

func golden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", "query.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestQueryExamples: the README's examples give the documented answers, the
// same on SQLite and PostgreSQL.
func TestQueryExamples(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		golden(t, transcript(t, "sqlite://"+filepath.Join(t.TempDir(), "state.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		golden(t, transcript(t, dsn))
	})
}
