// Package pgtest gives each test its own PostgreSQL schema on the server at
// WEIR_TEST_POSTGRES_DSN (default postgres://postgres@127.0.0.1:5432/test).
// Without a reachable server the test is skipped with a message, or fails
// when WEIR_REQUIRE_POSTGRES=1.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is used when WEIR_TEST_POSTGRES_DSN is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test"

// DSN creates a fresh schema, drops it when the test ends, and returns a
// DSN whose search_path is that schema.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("WEIR_TEST_POSTGRES_DSN")
	if base == "" {
		base = DefaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("WEIR_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL at %s is required (WEIR_REQUIRE_POSTGRES=1) but unreachable: %v", base, err)
		}
		t.Skipf("PostgreSQL at %s unreachable, skipping (set WEIR_TEST_POSTGRES_DSN, or WEIR_REQUIRE_POSTGRES=1 to fail): %v", base, err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	schema := "weir_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
