package duckdb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/store/sqlite"
)

// TestQueryMetadataIsReadOnlyAndLimited: the API's SQL reads weir's
// metadata and nothing beyond: no files read or written, no settings
// changed back; rows are capped and a deadline stops it.
func TestQueryMetadataIsReadOnlyAndLimited(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := nightly.Graph()
	now := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)

	cols, rows, truncated, err := duckdb.QueryMetadata(ctx, st, g, now, "SELECT asset, count(*) AS n FROM partitions GROUP BY asset ORDER BY asset", 100)
	if err != nil || len(cols) != 2 || len(rows) != 4 || truncated {
		t.Fatalf("query: %v %v %v %v", cols, rows, truncated, err)
	}
	if _, rows, truncated, err = duckdb.QueryMetadata(ctx, st, g, now, "SELECT * FROM partitions", 5); err != nil || len(rows) != 5 || !truncated {
		t.Fatalf("capped: %d rows, truncated %v, %v", len(rows), truncated, err)
	}
	secret := filepath.Join(dir, "secret.csv")
	os.WriteFile(secret, []byte("password\nhunter2\n"), 0o600)
	out := filepath.Join(dir, "out.csv")
	for _, q := range []string{
		"SELECT * FROM read_csv('" + secret + "')",
		"COPY (SELECT 1) TO '" + out + "'",
		"ATTACH '" + filepath.Join(dir, "other.duckdb") + "' AS other",
		"SET enable_external_access = true",
		"INSTALL httpfs",
		"SELEC 1",
	} {
		_, _, _, err := duckdb.QueryMetadata(ctx, st, g, now, q, 10)
		var qe *duckdb.QueryError
		if !errors.As(err, &qe) {
			t.Errorf("%s: %v, want a QueryError", q, err)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a query wrote %s", out)
	}
	// A query running past its deadline is interrupted (this one would
	// take hours).
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if _, _, _, err := duckdb.QueryMetadata(short, st, g, now, "SELECT count(*) FROM range(100000000000)", 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a long query past its deadline: %v", err)
	}
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if _, _, _, err := duckdb.QueryMetadata(expired, st, g, now, "SELECT 1", 10); !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "QueryError") {
		t.Errorf("past its deadline: %v", err)
	}
}
