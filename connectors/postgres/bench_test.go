package postgres

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob/fileblob"
)

// BenchmarkExtract extracts one day of WEIR_BENCH_ROWS rows (default
// 200,000; the figure is 5,000,000) from a shop-like orders table
// into Parquet on file://, beside COPY … TO STDOUT of the same rows into
// io.Discard: the rate of reading the rows at all. It reports rows/s of
// both and the process's peak RSS (VmHWM) after the extract.
//
//	WEIR_BENCH_ROWS=5000000 go test ./connectors/postgres -run '^$' -bench Extract -benchtime 1x
func BenchmarkExtract(b *testing.B) {
	rows := 200_000
	if s := os.Getenv("WEIR_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("WEIR_BENCH_ROWS=%q is not a positive number of rows", s)
		}
		rows = n
	}
	ctx := context.Background()
	pool := testPool(b)
	// Spread over the Berlin day 2024-01-01 (23:00Z the day before on).
	if _, err := pool.Exec(ctx, `CREATE TABLE big (order_id bigint, customer_id integer, amount numeric(12,2), currency text, status text, created_at timestamptz);
		INSERT INTO big SELECT g, g % 5000, (g % 100000) / 100.0, (ARRAY['CHF','EUR','GBP','USD'])[1 + g % 4], 'paid',
			timestamptz '2023-12-31 23:00:00+00' + g * (interval '86399 seconds' / `+strconv.Itoa(rows)+`)
		FROM generate_series(1, `+strconv.Itoa(rows)+`) g;
		ANALYZE big`); err != nil {
		b.Fatal(err)
	}
	query := "SELECT order_id, customer_id, amount, currency, status, created_at FROM big WHERE created_at >= @start AND created_at < @end"
	bucket, err := fileblob.OpenBucket(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	src, err := NewSource(SourceOpts{Pool: pool, Query: query})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var extracting, copyTo time.Duration
	var read int64
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := extract(b, bucket, src, "2024-01-01", "v"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
		extracting += time.Since(start)
		conn, err := pool.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		tag, err := conn.Conn().PgConn().CopyTo(ctx, io.Discard, `COPY (SELECT order_id, customer_id, amount, currency, status, created_at FROM big
			WHERE created_at >= '2023-12-31 23:00+00' AND created_at < '2024-01-01 23:00+00') TO STDOUT`)
		copyTo += time.Since(start)
		conn.Release()
		if err != nil || tag.RowsAffected() < int64(rows)*99/100 {
			b.Fatalf("copy: %v rows, %v", tag.RowsAffected(), err)
		}
		read = tag.RowsAffected()
	}
	b.ReportMetric(float64(read)*float64(b.N)/extracting.Seconds(), "rows/s")
	b.ReportMetric(float64(read)*float64(b.N)/copyTo.Seconds(), "copy_rows/s")
	b.ReportMetric(peakRSSMB(), "peak_rss_MB")
}

// peakRSSMB returns the process's peak resident set size (VmHWM) in MB,
// 0 where /proc is missing.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
