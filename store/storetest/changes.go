package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// HeldWrite writes a partition row of asset with key (a failure) in a
// transaction of its own and leaves it open; commit ends it.
type HeldWrite func(ctx context.Context, asset, key string) (commit func() error, err error)

// ChangesCommittedLate checks what a reader of PartitionStateChanges
// relies on: a row written by a transaction that was open when a read took
// its mark, and committed after, is read with that mark next time. hold
// writes the row the way the store's writes mark it, in another
// connection. With overlap, the store's own writes do not wait for it
// (row locks, not one writer at a time), and one begins and commits
// while it is open.
func ChangesCommittedLate(t *testing.T, s store.Store, overlap bool, hold HeldWrite) {
	ctx := context.Background()
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.PartitionFail(ctx, store.PartitionFailParams{Asset: "a", Keys: []string{"k1"}, RunID: 1, Error: "e", At: at}); err != nil {
		t.Fatal(err)
	}
	read := func(since int64) ([]string, int64) {
		t.Helper()
		var keys []string
		next, err := s.PartitionStateChanges(ctx, "a", since, func(ps *store.PartitionState) error {
			keys = append(keys, ps.Key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		return keys, next
	}
	all, mark := read(0)
	if !slices.Equal(all, []string{"k1"}) || mark <= 0 {
		t.Fatalf("every row: %v, next mark %d", all, mark)
	}
	commit, err := hold(ctx, "a", "k2")
	if err != nil {
		t.Fatal(err)
	}
	if overlap {
		if err := s.PartitionFail(ctx, store.PartitionFailParams{Asset: "a", Keys: []string{"k3"}, RunID: 1, Error: "e", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	held, later := read(mark)
	if slices.Contains(held, "k2") || overlap != slices.Contains(held, "k3") {
		t.Fatalf("read %v while k2's write was open", held)
	}
	if later < mark {
		t.Fatalf("marks went back: %d after %d", later, mark)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(later); !slices.Contains(got, "k2") {
		t.Fatalf("a row committed after the mark %d was taken is not read from it: %v", later, got)
	}
	// A store's own write after the mark is read from it too.
	if err := s.PartitionFail(ctx, store.PartitionFailParams{Asset: "a", Keys: []string{"k4"}, RunID: 1, Error: "e", At: at}); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(later); !slices.Contains(got, "k4") {
		t.Fatalf("a row written after mark %d is not read from it: %v", later, got)
	}
}
