package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"modernc.org/sqlite"
)

// TestKeptStatementsRunAgainWhileTheirRowsAreOpen: a connection that keeps
// its statements answers a query run again while the rows of its first
// run are open (inside a transaction both are on the one connection),
// keeps answering when the statement is pushed out of the cache with its
// rows open, and sees a column added after the statement was kept.
func TestKeptStatementsRunAgainWhileTheirRowsAreOpen(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "t.db") + "?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(cachingConnector{base})
	db.SetMaxOpenConns(1)
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)`); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT n FROM t WHERE n >= ? ORDER BY n`
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := tx.QueryContext(ctx, q, 1)
	if err != nil || !first.Next() {
		t.Fatalf("first query: %v", err)
	}
	// The same text while the first rows are open, and enough other
	// statements to push it out of the cache.
	if got := collect(t, tx, q, 2); got != "2,3" {
		t.Fatalf("the same query again = %s, want 2,3", got)
	}
	for i := range maxCachedStmts + 10 {
		if got := collect(t, tx, fmt.Sprintf("SELECT %d", i)); got != fmt.Sprint(i) {
			t.Fatalf("SELECT %d = %s", i, got)
		}
	}
	var rest []int
	for ok := true; ok; ok = first.Next() {
		var n int
		if err := first.Scan(&n); err != nil {
			t.Fatal(err)
		}
		rest = append(rest, n)
	}
	if err := first.Close(); err != nil || fmt.Sprint(rest) != "[1 2 3]" {
		t.Fatalf("first rows = %v, %v", rest, err)
	}
	if got := collect(t, tx, q, 3); got != "3" {
		t.Fatalf("after the first rows closed = %s, want 3", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// A kept statement over a table whose columns change.
	if got := collect(t, db, `SELECT * FROM t WHERE n = 1`); got != "1" {
		t.Fatal(got)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE t ADD COLUMN m INTEGER NOT NULL DEFAULT 7`); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, db, `SELECT * FROM t WHERE n = 1`); got != "1|7" {
		t.Fatalf("after ALTER TABLE = %s, want 1|7", got)
	}
}

// TestKeptStatementsStayWithinTheirBudget: long statements of many texts
// (batches of many sizes) push older ones out by the length of their texts,
// and a statement longer than maxKeptStmt runs without being kept.
func TestKeptStatementsStayWithinTheirBudget(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(cachingConnector{base})
	db.SetMaxOpenConns(1)
	defer db.Close()
	values := func(n int) string {
		return "SELECT count(*) FROM (VALUES (1)" + strings.Repeat(", (1)", n-1) + ")"
	}
	rows := maxKeptStmt/len(", (1)") - 100 // just under the longest kept text
	for i := range 40 {
		if got := collect(t, db, values(rows-i)); got != fmt.Sprint(rows-i) {
			t.Fatalf("%d rows = %s", rows-i, got)
		}
	}
	if got := collect(t, db, values(2*rows)); got != fmt.Sprint(2*rows) {
		t.Fatalf("a statement over the longest kept = %s", got)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		if c.bytes > maxCachedBytes || c.lru.Len() >= 40 || c.lru.Len() < maxCachedBytes/maxKeptStmt-1 {
			t.Errorf("kept %d statements, %d bytes of text: want at most %d bytes, fewer than the 40 run", c.lru.Len(), c.bytes, maxCachedBytes)
		}
		for e := c.lru.Front(); e != nil; e = e.Next() {
			if len(e.Value.(*cachedStmt).query) > maxKeptStmt {
				t.Errorf("kept a statement of %d bytes, over %d", len(e.Value.(*cachedStmt).query), maxKeptStmt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// collect runs a query and joins its values: columns with |, rows with a
// comma.
func collect(t *testing.T, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := ""
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if out != "" {
			out += ","
		}
		for i, v := range vals {
			if i > 0 {
				out += "|"
			}
			out += fmt.Sprint(v)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
