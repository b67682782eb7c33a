package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"testing"
	"time"
)

// TestCSVLoadRoundTrips: what the loader writes as CSV reads back as the
// same values: quotes, commas, newlines, an empty string apart from NULL,
// times and numbers.
func TestCSVLoadRoundTrips(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE t (s VARCHAR, n BIGINT, b BOOLEAN, ts TIMESTAMPTZ)`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 3, 10, 7, 30, 1, 123456000, time.FixedZone("EST", -5*3600))
	rows := [][]driver.Value{
		{`he said "no", then left`, int64(-7), true, at},
		{"two\nlines\r\nand a \\ backslash", int32(3), false, nil},
		{"", 0, false, nil},
		{nil, nil, nil, nil},
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Raw(func(dc any) error {
		l := &loader{ctx: ctx, conn: dc.(driver.Conn), dir: d.dir}
		return l.into("t", func(add func(...driver.Value) error) error {
			for _, r := range rows {
				if err := add(r...); err != nil {
					return err
				}
			}
			return nil
		})
	})
	conn.Close() // the database has one connection
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.db.QueryContext(ctx, `SELECT s, n, b, ts FROM t ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	i := 0
	for got.Next() {
		var s *string
		var n *int64
		var b *bool
		var ts *time.Time
		if err := got.Scan(&s, &n, &b, &ts); err != nil {
			t.Fatal(err)
		}
		want := rows[i]
		if (want[0] == nil) != (s == nil) || (s != nil && *s != want[0]) {
			t.Errorf("row %d: s = %v, want %q", i, s, want[0])
		}
		if (want[1] == nil) != (n == nil) || (b == nil) != (want[2] == nil) {
			t.Errorf("row %d: NULLs differ: %v %v", i, n, b)
		}
		if want[3] != nil && (ts == nil || !ts.Equal(at)) {
			t.Errorf("row %d: at = %v, want %v", i, ts, at)
		}
		if want[3] == nil && ts != nil {
			t.Errorf("row %d: at = %v, want NULL", i, ts)
		}
		i++
	}
	if i != len(rows) {
		t.Fatalf("%d rows back, want %d", i, len(rows))
	}
}

func TestTablesIn(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT 1": "[]",
		"select * from Partitions p join lineage l using (asset)":                 "[partitions materialization_inputs materializations]",
		`SELECT count(*) FROM "tasks" WHERE state = 'succeeded'`:                  "[tasks]",
		"SELECT * FROM backfills JOIN attempts ON attempts.run_id = backfills.id": "[attempts runs]",
		"SELECT * FROM partition_ranges_x":                                        "[]",
	} {
		if got := fmt.Sprint(TablesIn(q)); got != want {
			t.Errorf("TablesIn(%q) = %s, want %s", q, got, want)
		}
	}
}
