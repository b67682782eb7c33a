package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
	"github.com/weir-dev/weir/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestChangesCommittedLate: writers are serialized and a row's mark is one
// more than the largest, so a write committed after a read took its mark
// (in another connection, as another process would) is read next time.
func TestChangesCommittedLate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	storetest.ChangesCommittedLate(t, s, false, func(ctx context.Context, asset, key string) (func() error, error) {
		tx, err := other.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO asset_partitions (asset, partition_key, failed, updated_at, changed)
			VALUES (?, ?, TRUE, '2024-01-01T00:00:00.000000Z', (SELECT coalesce(max(changed), 0) + 1 FROM asset_partitions))`, asset, key)
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		return tx.Commit, nil
	})
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "nested", "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening applies no migration twice.
	s, err = store.Open(ctx, "sqlite://"+filepath.Join(dir, "nested", "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, tc := range []struct{ url, want string }{
		{"mysql://x", `no driver for scheme "mysql" (supported schemes: sqlite://)`},
		{"state.db", `bad store URL "state.db": not a URL`},
		{"sqlite://x.db?cache=shared", "sqlite takes no options"},
	} {
		if _, err := store.Open(ctx, tc.url); !errors.Is(err, store.ErrBadURL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want %q", tc.url, err, tc.want)
		}
	}
}

func BenchmarkLeaseBatch(b *testing.B) {
	storetest.BenchmarkLeaseBatch(b, func(b *testing.B) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	storetest.Migrations(t, func(t *testing.T) (store.Store, error) { return sqlite.Open(context.Background(), path) })
}

// TestEmptyFileIsNotANewStore: a state file truncated to 0 bytes is
// refused, not silently taken for a new, empty store.
func TestEmptyFileIsNotANewStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), path)
	if !errors.Is(err, sqlite.ErrEmptyFile) || !strings.Contains(err.Error(), path) {
		t.Fatalf("open an empty file: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Fatalf("the empty file was changed: %d bytes", fi.Size())
	}
}
