package postgres_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/postgres"
	"github.com/weir-dev/weir/store/postgres/pgtest"
	"github.com/weir-dev/weir/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// The suite moves time with its own clock.
		s, err := postgres.OpenOpts(context.Background(), pgtest.DSN(t), postgres.Opts{CallerClock: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestChangesCommittedLate: a row's mark is its transaction's id, and a
// reader's mark the oldest transaction still running, so a write committed
// after a read took its mark is read next time.
func TestChangesCommittedLate(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.(interface{ DB() *sql.DB }).DB()
	storetest.ChangesCommittedLate(t, s, true, func(ctx context.Context, asset, key string) (func() error, error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		// changed is left to its default, the transaction's id.
		_, err = tx.ExecContext(ctx, `INSERT INTO asset_partitions (asset, partition_key, failed, updated_at) VALUES ($1, $2, TRUE, now())`, asset, key)
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		return tx.Commit, nil
	})
}

// TestWakeAcrossProcesses: a store that waits for work hears another
// store (another process) queue it, through LISTEN/NOTIFY started at its
// first wait.
func TestWakeAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	waiter, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	other, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	deadline := time.NewTimer(time.Minute) // a failure's bound, not a wait
	defer deadline.Stop()
	await := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no wake-up: %s", what)
		}
	}
	// The listener wakes once when it starts listening: from then on
	// nothing in this process wakes the waiter, only a notification.
	await(waiter.TaskWake(), "the listener's first")
	wake := waiter.TaskWake()
	now := time.Now()
	// The first task readies the second.
	tasks := []store.TaskInsertParams{
		{Asset: "a", PartitionFirst: "k0", PartitionLast: "k0", PartitionCount: 1, MaxAttempts: 1, Pool: "default", Dependents: []int32{1}},
		{Asset: "b", PartitionFirst: "k0", PartitionLast: "k0", PartitionCount: 1, MaxAttempts: 1, Pool: "default", Rank: 1, Waiting: 1},
	}
	if _, _, err := other.RunInsert(ctx, store.RunInsertParams{Kind: "materialize", CreatedAt: now, Tasks: slices.Values(tasks)}); err != nil {
		t.Fatal(err)
	}
	await(wake, "another store's run insert")
	leased, err := other.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "w", Now: now, LeaseFor: time.Minute, Limit: 10})
	if err != nil || len(leased.Tasks) != 1 {
		t.Fatalf("lease: %+v %v", leased, err)
	}
	wake = waiter.TaskWake()
	tk := leased.Tasks[0]
	if _, err := other.TaskFinish(ctx, store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: store.TaskSucceeded, At: now}); err != nil {
		t.Fatal(err)
	}
	await(wake, "another store's success that readied a task")
}

func TestUnreachable(t *testing.T) {
	_, err := store.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err == nil {
		t.Fatal("opened an unreachable server")
	}
	t.Log(err)
}

func BenchmarkLeaseBatch(b *testing.B) {
	storetest.BenchmarkLeaseBatch(b, func(b *testing.B) store.Store {
		s, err := postgres.OpenOpts(context.Background(), pgtest.DSN(b)+"&sslmode=disable", postgres.Opts{CallerClock: true})
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

func TestMigrations(t *testing.T) {
	dsn := pgtest.DSN(t)
	storetest.Migrations(t, func(t *testing.T) (store.Store, error) { return postgres.Open(context.Background(), dsn) })
}

// TestHostClocksMayDisagree: with the database's clock, a host whose clock
// runs an hour ahead neither reaps a live lease nor starts a rate-limited
// run's task early, and one an hour behind does not lease for an hour.
func TestHostClocksMayDisagree(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.DatabaseClock(t, s, "SELECT clock_timestamp()")
}
