package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// VersionTable records the applied schema versions (goose's table).
const VersionTable = "weir_schema_version"

// legacyTable is where weir recorded schema versions before it used goose.
const legacyTable = "schema_migrations"

// Schema is a driver's versioned schema: its embedded .sql migrations,
// applied by goose.
type Schema struct {
	// FS holds the migrations, NNNNN_name.sql, at its root.
	FS fs.FS
	// Goose is goose's name for the database.
	Goose goose.Dialect
	// SessionLocker, if set, is held while migrations are applied, so that
	// processes opening a fresh store at once apply each version once
	// (PostgreSQL's session advisory lock). Without one the caller must
	// exclude other processes itself (SQLite's driver holds a file lock
	// around the whole open).
	SessionLocker lock.SessionLocker
	// AdoptLock, if set, runs first in the transaction that adopts a store
	// migrated before goose, taking the same lock as SessionLocker.
	AdoptLock string
	// TableExists is a query with one parameter, a table name, that
	// returns a row if the table exists in the store's schema.
	TableExists string
}

// Migrate brings the store's schema up to date: it adopts a store that an
// older weir migrated, refuses one newer than this binary, and applies
// pending migrations under the schema's lock.
func Migrate(ctx context.Context, db *sql.DB, sc Schema, mapErr func(error) error) error {
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if sc.SessionLocker != nil {
		opts = append(opts, goose.WithSessionLocker(sc.SessionLocker))
	}
	p, err := goose.NewProvider(sc.Goose, db, sc.FS, append(opts, goose.WithTableName(VersionTable))...)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	sources := p.ListSources()
	known := sources[len(sources)-1].Version
	// Read without the lock (goose's GetDBVersion takes it): processes
	// opening an up-to-date store do not queue for it.
	version := func() (int64, error) {
		have, err := schemaVersion(ctx, db, sc)
		if err != nil {
			return 0, fmt.Errorf("read schema version: %w", mapErr(err))
		}
		if have > known {
			return 0, fmt.Errorf("%w: the store's schema is at version %d, this weir knows versions up to %d; use a weir at least as new as the one that migrated it",
				ErrSchemaNewer, have, known)
		}
		return have, nil
	}
	have, err := version()
	if err != nil {
		return err
	}
	// The common case, every command of an up-to-date store, ends here:
	// weir applies its migrations in order and one at a time (goose under
	// the schema's lock), so a store at the latest version has them all
	// and no table from before goose (adopting it records the versions
	// and drops it). Two statements, where the full check below is five
	// (on PostgreSQL each of them planned over the catalog's views).
	if have == known {
		return nil
	}
	if err := adoptLegacy(ctx, db, sc); err != nil {
		return fmt.Errorf("adopt schema versions from %s: %w", legacyTable, mapErr(err))
	}
	if have, err = version(); err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", mapErr(err))
	}
	if !pending {
		return nil
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate schema from version %d: %w", have, mapErr(err))
	}
	return nil
}

// schemaVersion returns the latest version goose recorded, 0 with none.
func schemaVersion(ctx context.Context, db *sql.DB, sc Schema) (int64, error) {
	vs, err := database.NewStore(sc.Goose, VersionTable)
	if err != nil {
		return 0, err
	}
	if ok, err := tableExists(ctx, db, sc, VersionTable); err != nil || !ok {
		return 0, err
	}
	have, err := vs.GetLatestVersion(ctx, db)
	if err != nil && !errors.Is(err, database.ErrVersionNotFound) {
		return 0, err
	}
	return have, nil
}

// ErrSchemaNewer: the store was migrated by a newer weir.
var ErrSchemaNewer = errors.New("state store schema is newer than this weir")

// adoptLegacy moves the versions an older weir recorded in
// schema_migrations into goose's table, so goose does not apply them again,
// and drops the old table. It does nothing on stores without it.
func adoptLegacy(ctx context.Context, db *sql.DB, sc Schema) error {
	if ok, err := tableExists(ctx, db, sc, legacyTable); err != nil || !ok {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if sc.AdoptLock != "" {
		if _, err := tx.ExecContext(ctx, sc.AdoptLock); err != nil {
			return err
		}
	}
	if ok, err := tableExists(ctx, tx, sc, legacyTable); err != nil || !ok { // another process adopted it meanwhile
		return err
	}
	var have int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM `+legacyTable).Scan(&have); err != nil {
		return err
	}
	vs, err := database.NewStore(sc.Goose, VersionTable)
	if err != nil {
		return err
	}
	recorded := map[int64]bool{}
	if ok, err := tableExists(ctx, tx, sc, VersionTable); err != nil {
		return err
	} else if ok {
		list, err := vs.ListMigrations(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range list {
			recorded[m.Version] = true
		}
	} else if err := vs.CreateVersionTable(ctx, tx); err != nil {
		return err
	}
	for v := range have + 1 { // goose records version 0 for the empty schema
		if !recorded[v] {
			if err := vs.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
				return err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE `+legacyTable); err != nil {
		return err
	}
	return tx.Commit()
}

func tableExists(ctx context.Context, q querier, sc Schema, table string) (bool, error) {
	rows, err := q.QueryContext(ctx, sc.TableExists, table)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	return rows.Next(), rows.Err()
}
