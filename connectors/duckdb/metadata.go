package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/store"
)

// MetadataTables are the tables LoadMetadata creates, and their columns.
var MetadataTables = []struct{ Name, Columns string }{
	{"assets", `asset VARCHAR, description VARCHAR, "group" VARCHAR, code_version VARCHAR, partitions VARCHAR, deps VARCHAR[], eager BOOLEAN`},
	{"partitions", `asset VARCHAR, partition VARCHAR, version VARCHAR, materialization_id BIGINT, failed BOOLEAN, error VARCHAR`},
	{"materializations", `id BIGINT, asset VARCHAR, partition VARCHAR, version VARCHAR, run_id BIGINT, task_id BIGINT, attempt INTEGER,
		code_version VARCHAR, manifest_sha256 VARCHAR, files INTEGER, bytes BIGINT, started_at TIMESTAMPTZ, promoted_at TIMESTAMPTZ`},
	{"lineage", `materialization_id BIGINT, asset VARCHAR, partition VARCHAR, version VARCHAR,
		upstream_asset VARCHAR, upstream_partition VARCHAR, upstream_version VARCHAR`},
	{"runs", `id BIGINT, kind VARCHAR, selection VARCHAR, partitions VARCHAR, reprocess VARCHAR, status VARCHAR, created_by VARCHAR,
		created_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, priority INTEGER, error VARCHAR, tasks BIGINT`},
	{"tasks", `id BIGINT, run_id BIGINT, asset VARCHAR, partition_first VARCHAR, partition_last VARCHAR, partition_count BIGINT,
		state VARCHAR, attempt INTEGER, phase VARCHAR, worker VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, error VARCHAR`},
	{"check_results", `id BIGINT, asset VARCHAR, partitions VARCHAR, run_id BIGINT, task_id BIGINT, attempt INTEGER, name VARCHAR,
		warn BOOLEAN, passed BOOLEAN, value VARCHAR, error VARCHAR, checked_at TIMESTAMPTZ`},
	{"schedules", `name VARCHAR, paused BOOLEAN, since TIMESTAMPTZ`},
	{"ticks", `schedule VARCHAR, scheduled_at TIMESTAMPTZ, fired_at TIMESTAMPTZ, run_id BIGINT, skipped VARCHAR`},
}

// LoadMetadata creates weir's metadata tables (MetadataTables) in d and
// fills them from the state store with DuckDB's appender: the assets of g,
// every partition's status, every materialization and what it read
// (lineage), runs, tasks, check results, schedules and their ticks. The
// same on every store driver.
func (d *DB) LoadMetadata(ctx context.Context, st store.Store, g *lineage.Graph) error {
	for _, t := range MetadataTables {
		if _, err := d.db.ExecContext(ctx, "CREATE TABLE "+t.Name+" ("+t.Columns+")"); err != nil {
			return fmt.Errorf("create %s: %w", t.Name, err)
		}
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		l := &loader{ctx: ctx, conn: dc.(driver.Conn)}
		return l.load(st, g)
	})
}

type loader struct {
	ctx  context.Context
	conn driver.Conn
}

// into appends the rows each yields to table.
func (l *loader) into(table string, each func(add func(vals ...driver.Value) error) error) error {
	a, err := duckdb.NewAppender(l.conn, "", "", table)
	if err != nil {
		return fmt.Errorf("append to %s: %w", table, err)
	}
	if err := each(func(vals ...driver.Value) error { return a.AppendRow(vals...) }); err != nil {
		a.Close()
		return fmt.Errorf("load %s: %w", table, err)
	}
	return a.Close()
}

// at is a time for a TIMESTAMPTZ column: NULL when zero.
func at(t time.Time) driver.Value {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func (l *loader) load(st store.Store, g *lineage.Graph) error {
	ctx := l.ctx
	err := l.into("assets", func(add func(...driver.Value) error) error {
		for _, a := range g.Assets() {
			deps := make([]any, len(a.Deps))
			for i, dp := range a.Deps {
				deps[i] = dp.Asset
			}
			if err := add(a.Key, a.Description, a.Group, a.CodeVersion, a.PartitionsDef().String(), deps, a.Eager); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = l.into("partitions", func(add func(...driver.Value) error) error {
		for _, key := range g.Keys() {
			status, err := st.PartitionStatusList(ctx, key)
			if err != nil {
				return err
			}
			for _, s := range status {
				var version, mat driver.Value
				if s.Version != "" {
					version, mat = s.Version, s.MaterializationID
				}
				if err := add(key, s.PartitionKey, version, mat, s.Failed, s.Error); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Limit: -1})
	if err != nil {
		return err
	}
	byID := make(map[int64]*store.Materialization, len(mats))
	err = l.into("materializations", func(add func(...driver.Value) error) error {
		for _, m := range mats {
			byID[m.ID] = m
			if err := add(m.ID, m.Asset, m.PartitionKey, m.Version, m.RunID, m.TaskID, int32(m.Attempt), m.CodeVersion, m.ManifestSHA256,
				int32(m.Files), m.Bytes, at(m.StartedAt), at(m.PromotedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = l.into("lineage", func(add func(...driver.Value) error) error {
		return st.InputEach(ctx, func(id int64, in store.Input) error {
			m := byID[id]
			if m == nil {
				return nil
			}
			return add(id, m.Asset, m.PartitionKey, m.Version, in.Asset, in.PartitionKey, in.Version)
		})
	})
	if err != nil {
		return err
	}
	runs, err := st.RunList(ctx, store.RunListParams{Limit: -1})
	if err != nil {
		return err
	}
	err = l.into("runs", func(add func(...driver.Value) error) error {
		for _, r := range runs {
			if err := add(r.ID, r.Kind, r.Selection, r.Partitions, r.Reprocess, string(r.State()), r.CreatedBy, at(r.CreatedAt), at(r.FinishedAt),
				int32(r.Priority), r.Error, r.TaskCount()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	tasks, err := st.TaskList(ctx, store.TaskListParams{})
	if err != nil {
		return err
	}
	err = l.into("tasks", func(add func(...driver.Value) error) error {
		for _, t := range tasks {
			if err := add(t.ID, t.RunID, t.Asset, t.PartitionFirst, t.PartitionLast, t.PartitionCount, string(t.State), int32(t.Attempt), t.Phase,
				t.Worker, at(t.StartedAt), at(t.FinishedAt), t.Error); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = l.into("check_results", func(add func(...driver.Value) error) error {
		for _, key := range g.Keys() {
			results, err := st.CheckResultList(ctx, store.CheckResultListParams{Asset: key, Limit: 1 << 30})
			if err != nil {
				return err
			}
			for _, c := range results {
				if err := add(c.ID, c.Asset, c.Partitions, c.RunID, c.TaskID, int32(c.Attempt), c.Name, c.Warn, c.Passed, c.Value, c.Error,
					at(c.CheckedAt)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	schedules, err := st.ScheduleList(ctx)
	if err != nil {
		return err
	}
	err = l.into("schedules", func(add func(...driver.Value) error) error {
		for _, s := range schedules {
			if err := add(s.Name, s.Paused, at(s.Since)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return l.into("ticks", func(add func(...driver.Value) error) error {
		for _, s := range schedules {
			ticks, err := st.TickList(ctx, store.TickListParams{Schedule: s.Name, Limit: -1})
			if err != nil {
				return err
			}
			for _, t := range ticks {
				var run driver.Value
				if t.RunID != 0 {
					run = t.RunID
				}
				if err := add(t.Schedule, at(t.ScheduledAt), at(t.FiredAt), run, t.Skipped); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// QueryRows runs a query and returns its column names and rows, every
// value as DuckDB returned it.
func (d *DB) QueryRows(ctx context.Context, query string) ([]string, [][]any, error) {
	rows, err := d.db.QueryContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}
