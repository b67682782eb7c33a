package storetest

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/internal/sqlstore"
)

// Migrations checks a driver's schema versioning. open opens the same
// store (one database, file or schema) each time it is called, fresh
// before the first call:
//   - stores opened at once on a fresh database all open, and each schema
//     version is applied once;
//   - a store that an older weir migrated (versions in schema_migrations)
//     is adopted: nothing is applied twice, nothing is lost;
//   - a schema newer than this binary is refused, naming both versions.
func Migrations(t *testing.T, open func(t *testing.T) (store.Store, error)) {
	const n = 6
	stores := make([]store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = open(t)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d of %d opened at once: %v", i+1, n, err)
		}
	}
	db := rawDB(t, stores[0])
	versions := func() string {
		rows, err := db.QueryContext(ctx, `SELECT version_id FROM `+sqlstore.VersionTable+` ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var vs []string
		for rows.Next() {
			var v string
			rows.Scan(&v)
			vs = append(vs, v)
		}
		return strings.Join(vs, ",")
	}
	applied := versions()
	if applied == "" {
		t.Fatal("no schema version recorded")
	}
	seen := map[string]bool{}
	for _, v := range strings.Split(applied, ",") {
		if seen[v] {
			t.Fatalf("version %s applied twice: %s", v, applied)
		}
		seen[v] = true
	}
	// Some data, to see that adoption keeps it.
	if err := stores[0].PoolSet(ctx, store.PoolSetParams{Name: "kept", MaxRunning: 2}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores[1:] {
		s.Close()
	}

	// A store migrated before goose: its versions in schema_migrations.
	last := applied[strings.LastIndex(applied, ",")+1:]
	mustExec(t, db, `DROP TABLE `+sqlstore.VersionTable)
	mustExec(t, db, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`)
	for v := range len(seen) - 1 {
		mustExec(t, db, `INSERT INTO schema_migrations (version, applied_at) VALUES (`+strconv.Itoa(v+1)+`, 'then')`)
	}
	adopted, err := open(t)
	if err != nil {
		t.Fatalf("open a store migrated before goose: %v", err)
	}
	if got := versions(); got != applied {
		t.Fatalf("versions after adoption %q, want %q", got, applied)
	}
	if pools, err := adopted.PoolList(ctx); err != nil || len(pools) != 1 || pools[0].Name != "kept" {
		t.Fatalf("pools after adoption %+v %v", pools, err)
	}
	adopted.Close()

	// A newer weir migrated it further.
	mustExec(t, db, `INSERT INTO `+sqlstore.VersionTable+` (version_id, is_applied) VALUES (999, true)`)
	_, err = open(t)
	if !errors.Is(err, sqlstore.ErrSchemaNewer) || !strings.Contains(err.Error(), "version 999") || !strings.Contains(err.Error(), "up to "+last) {
		t.Fatalf("open a store with a newer schema: %v", err)
	}
	stores[0].Close()
}

func rawDB(t *testing.T, s store.Store) *sql.DB {
	t.Helper()
	d, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Fatalf("%T does not expose its database", s)
	}
	return d.DB()
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
