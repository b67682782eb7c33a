package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-dev/weir/internal/store"
	"github.com/weir-dev/weir/internal/store/sqlite"
	"github.com/weir-dev/weir/internal/store/storetest"
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
		{"state.db", "is not a URL"},
		{"sqlite://x.db?cache=shared", "sqlite takes no options"},
	} {
		if _, err := store.Open(ctx, tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
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
