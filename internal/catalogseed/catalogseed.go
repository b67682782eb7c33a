// Package catalogseed fills a state store's catalog for benchmarks: every
// partition of every asset of a graph promoted once, reading the upstream
// partitions its mappings name, as a long history of one-partition tasks
// leaves it. It writes the tables directly (literal multi-row INSERTs that
// SQLite and PostgreSQL both take), which is orders of magnitude faster
// than running the tasks.
package catalogseed

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
)

// Counts are the rows Seed wrote.
type Counts struct {
	Materializations int64
	Inputs           int64
}

// batch is the rows per INSERT statement.
const batch = 2000

// Seed promotes partitions [0, n) of every asset of g (each asset's
// definition must have at least n partitions at now) into db, a store
// opened by weir (so its schema is current). Versions are made at now.
func Seed(ctx context.Context, db *sql.DB, g *lineage.Graph, n int64, now time.Time) (Counts, error) {
	var c Counts
	assets := g.Assets()
	index := map[string]int64{}
	for i, a := range assets {
		index[a.Key] = int64(i)
	}
	at := "'" + now.UTC().Format("2006-01-02T15:04:05.000000Z") + "'"
	id := func(asset, p int64) int64 { return asset*n + p + 1 }
	version := func(mat int64) string {
		return fmt.Sprintf("'%s-%012x'", now.UTC().Format("20060102T150405.000Z"), mat)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	mats := newInserter(ctx, tx, `INSERT INTO materializations (id, asset, partition_key, version, run_id, task_id, attempt, code_version,
		manifest_sha256, files, bytes, started_at, promoted_at) VALUES `)
	current := newInserter(ctx, tx, `INSERT INTO asset_partitions (asset, partition_key, materialization_id, version, manifest_sha256, code_version, updated_at) VALUES `)
	inputs := newInserter(ctx, tx, `INSERT INTO materialization_inputs (materialization_id, upstream_asset, upstream_partition, upstream_version) VALUES `)
	for ai, a := range assets {
		def := a.Partitions
		if def == nil {
			def = partitions.Unpartitioned()
		}
		if size := def.Len(now); size < n {
			return c, fmt.Errorf("asset %s has %d partitions at %s, want %d", a.Key, size, now, n)
		}
		for p := range n {
			key := def.Key(p)
			m := id(int64(ai), p)
			mats.add(fmt.Sprintf("(%d, '%s', '%s', %s, 1, %d, 1, '%s', 'seed', 1, 1, %s, %s)", m, a.Key, key, version(m), m, a.CodeVersion, at, at))
			current.add(fmt.Sprintf("('%s', '%s', %d, %s, 'seed', '%s', %s)", a.Key, key, m, version(m), a.CodeVersion, at))
			c.Materializations++
			for _, dep := range a.Deps {
				up, _ := g.Asset(dep.Asset)
				upDef := up.Partitions
				if upDef == nil {
					upDef = partitions.Unpartitioned()
				}
				read, err := g.Mapping(a.Key, dep.Asset).Upstream(def, upDef, partitions.Span(p, p+1), now)
				if err != nil {
					return c, err
				}
				for q := range read.All() {
					upKey := upDef.Key(q)
					um := id(index[dep.Asset], q)
					inputs.add(fmt.Sprintf("(%d, '%s', '%s', %s)", m, dep.Asset, upKey, version(um)))
					c.Inputs++
				}
			}
			if len(mats.rows) >= batch || len(inputs.rows) >= batch {
				if err := flush(mats, current, inputs); err != nil { // materializations first: inputs refer to them
					return c, err
				}
			}
		}
	}
	if err := flush(mats, current, inputs); err != nil {
		return c, err
	}
	if strings.Contains(fmt.Sprintf("%T", db.Driver()), "sqlite") {
		// SQLite's planner needs statistics to join these sizes well; weir
		// runs ANALYZE through PRAGMA optimize as stores grow.
		_, err = tx.ExecContext(ctx, `ANALYZE`)
	} else {
		_, err = tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('materializations', 'id'), (SELECT max(id) FROM materializations))`)
	}
	if err != nil {
		return c, err
	}
	if err := tx.Commit(); err != nil {
		return c, err
	}
	if !strings.Contains(fmt.Sprintf("%T", db.Driver()), "sqlite") {
		_, err = db.ExecContext(ctx, `ANALYZE`)
	}
	return c, err
}

// inserter collects value tuples and inserts them batch rows at a time.
type inserter struct {
	ctx    context.Context
	tx     *sql.Tx
	prefix string
	rows   []string
}

func newInserter(ctx context.Context, tx *sql.Tx, prefix string) *inserter {
	return &inserter{ctx: ctx, tx: tx, prefix: prefix}
}

func (in *inserter) add(row string) { in.rows = append(in.rows, row) }

func (in *inserter) flush() error {
	if len(in.rows) == 0 {
		return nil
	}
	_, err := in.tx.ExecContext(in.ctx, in.prefix+strings.Join(in.rows, ", "))
	in.rows = in.rows[:0]
	return err
}

// flush inserts what each inserter holds, in order.
func flush(ins ...*inserter) error {
	for _, in := range ins {
		if err := in.flush(); err != nil {
			return err
		}
	}
	return nil
}
