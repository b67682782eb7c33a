package duckdb

import (
	"bufio"
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/store"
)

// MetadataTables are the tables LoadMetadata creates, and their columns.
var MetadataTables = []struct{ Name, Columns string }{
	{"assets", `asset VARCHAR, description VARCHAR, "group" VARCHAR, code_version VARCHAR, partitions VARCHAR, deps VARCHAR[], eager BOOLEAN`},
	{"partitions", `asset VARCHAR, partition VARCHAR, idx BIGINT, state VARCHAR, why_stale VARCHAR, version VARCHAR, materialization_id BIGINT,
		failed BOOLEAN, running BOOLEAN, error VARCHAR`},
	{"materializations", `id BIGINT, asset VARCHAR, partition VARCHAR, version VARCHAR, run_id BIGINT, task_id BIGINT, attempt INTEGER,
		code_version VARCHAR, manifest_sha256 VARCHAR, files INTEGER, bytes BIGINT, started_at TIMESTAMPTZ, promoted_at TIMESTAMPTZ`},
	{"materialization_inputs", `materialization_id BIGINT, upstream_asset VARCHAR, upstream_partition VARCHAR, upstream_version VARCHAR`},
	{"runs", `id BIGINT, kind VARCHAR, selection VARCHAR, partitions VARCHAR, reprocess VARCHAR, status VARCHAR, created_by VARCHAR,
		created_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, priority INTEGER, error VARCHAR, tasks BIGINT`},
	{"tasks", `id BIGINT, run_id BIGINT, asset VARCHAR, partition_first VARCHAR, partition_last VARCHAR, partition_count BIGINT,
		state VARCHAR, attempt INTEGER, phase VARCHAR, worker VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, error VARCHAR`},
	{"attempts", `task_id BIGINT, attempt INTEGER, run_id BIGINT, asset VARCHAR, phase VARCHAR, worker VARCHAR, state VARCHAR,
		started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, error VARCHAR, version VARCHAR`},
	{"check_results", `id BIGINT, asset VARCHAR, partitions VARCHAR, run_id BIGINT, task_id BIGINT, attempt INTEGER, name VARCHAR,
		warn BOOLEAN, passed BOOLEAN, value VARCHAR, error VARCHAR, checked_at TIMESTAMPTZ`},
	{"schedules", `name VARCHAR, paused BOOLEAN, since TIMESTAMPTZ`},
	{"ticks", `schedule VARCHAR, scheduled_at TIMESTAMPTZ, fired_at TIMESTAMPTZ, run_id BIGINT, skipped VARCHAR`},
}

// MetadataViews are the views LoadMetadata creates over MetadataTables,
// and the tables each reads.
var MetadataViews = []struct {
	Name, Query string
	Tables      []string
}{
	// What each materialization read, with the materialization's own asset,
	// partition and version beside it: the runtime lineage's edges.
	{"lineage", `SELECT i.materialization_id, m.asset, m.partition, m.version, i.upstream_asset, i.upstream_partition, i.upstream_version
		FROM materialization_inputs i JOIN materializations m ON m.id = i.materialization_id`, []string{"materialization_inputs", "materializations"}},
	// Runs of kind backfill.
	{"backfills", `SELECT * FROM runs WHERE kind = 'backfill'`, []string{"runs"}},
	// Each asset's partitions as consecutive ranges of one state, as
	// weir assets status shows them.
	{"partition_ranges", `SELECT asset, state, arg_min(partition, idx) AS first_partition, arg_max(partition, idx) AS last_partition,
		count(*) AS partitions
		FROM (SELECT asset, partition, idx, state, idx - row_number() OVER (PARTITION BY asset, state ORDER BY idx) AS island FROM partitions)
		GROUP BY asset, state, island ORDER BY asset, min(idx)`, []string{"partitions"}},
}

// LoadMetadata creates weir's metadata tables (MetadataTables) and views
// (MetadataViews) in d and fills them from the state store: the assets of
// g, every partition that exists at now with its state (fresh, stale with
// why, or missing; failed and running beside it), every materialization
// and what it read (lineage), runs, tasks and their attempts, check
// results, schedules and their ticks. The same on every store driver.
// tables nil fills every table; otherwise only those named are filled
// (see TablesIn) and the others exist, empty: at ten years of hourly
// partitions lineage alone is 10 M rows.
func (d *DB) LoadMetadata(ctx context.Context, st store.Store, g *lineage.Graph, now time.Time, tables []string) error {
	for _, t := range MetadataTables {
		if _, err := d.db.ExecContext(ctx, "CREATE TABLE "+t.Name+" ("+t.Columns+")"); err != nil {
			return fmt.Errorf("create %s: %w", t.Name, err)
		}
	}
	for _, v := range MetadataViews {
		if _, err := d.db.ExecContext(ctx, "CREATE VIEW "+v.Name+" AS "+v.Query); err != nil {
			return fmt.Errorf("create %s: %w", v.Name, err)
		}
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		l := &loader{ctx: ctx, conn: dc.(driver.Conn), now: now, dir: d.dir}
		for _, t := range MetadataTables {
			if tables != nil && !slices.Contains(tables, t.Name) {
				continue
			}
			err := l.into(t.Name, func(add func(...driver.Value) error) error { return loads[t.Name](ctx, st, g, now, add) })
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// TablesIn returns the metadata tables a query may read: those named in
// it, and those of the views named in it. It errs on the side of loading:
// a name in a string or a column counts.
func TablesIn(query string) []string {
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(query), func(r rune) bool {
		return r != '_' && (r < 'a' || r > 'z') && (r < '0' || r > '9')
	}) {
		words[w] = true
	}
	out := []string{} // not nil: no table at all
	add := func(t string) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, t := range MetadataTables {
		if words[t.Name] {
			add(t.Name)
		}
	}
	for _, v := range MetadataViews {
		if words[v.Name] {
			for _, t := range v.Tables {
				add(t)
			}
		}
	}
	return out
}

type loader struct {
	ctx  context.Context
	conn driver.Conn
	now  time.Time
	dir  string // scratch files
}

// into loads the rows each yields into table: through a CSV file that
// DuckDB's COPY reads (its appender makes a cgo call per value: 40 s for
// the 45 M values of ten years of hourly partitions × 20 assets, against
// seconds this way), or, for tables with list columns, the appender.
func (l *loader) into(table string, each func(add func(vals ...driver.Value) error) error) error {
	if table == "assets" {
		return l.appendInto(table, each)
	}
	path := filepath.Join(l.dir, table+".csv")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("load %s: %w", table, err)
	}
	defer os.Remove(path)
	w := &csvWriter{w: bufio.NewWriterSize(f, 1<<20)}
	err = each(w.row)
	if err == nil {
		err = w.w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", table, err)
	}
	if w.rows == 0 {
		return nil
	}
	// Unquoted empty fields are NULL; quoted ones ("") empty strings.
	q := "COPY " + table + " FROM '" + strings.ReplaceAll(path, "'", "''") +
		"' (FORMAT csv, AUTO_DETECT false, HEADER false, DELIM ',', QUOTE '\"', ESCAPE '\"', NULLSTR '', ALLOW_QUOTED_NULLS false)"
	if _, err := l.conn.(driver.ExecerContext).ExecContext(l.ctx, q, nil); err != nil {
		return fmt.Errorf("load %s: %w", table, err)
	}
	return nil
}

// csvWriter writes rows of driver values as CSV for DuckDB: strings
// always quoted, NULL as an empty unquoted field, times in UTC.
type csvWriter struct {
	w    *bufio.Writer
	rows int
}

func (c *csvWriter) row(vals ...driver.Value) error {
	c.rows++
	var buf [64]byte
	for i, v := range vals {
		if i > 0 {
			c.w.WriteByte(',')
		}
		switch x := v.(type) {
		case nil:
		case string:
			c.w.WriteByte('"')
			for {
				j := strings.IndexByte(x, '"')
				if j < 0 {
					c.w.WriteString(x)
					break
				}
				c.w.WriteString(x[:j+1])
				c.w.WriteByte('"')
				x = x[j+1:]
			}
			c.w.WriteByte('"')
		case int64:
			c.w.Write(strconv.AppendInt(buf[:0], x, 10))
		case int32:
			c.w.Write(strconv.AppendInt(buf[:0], int64(x), 10))
		case int:
			c.w.Write(strconv.AppendInt(buf[:0], int64(x), 10))
		case bool:
			c.w.Write(strconv.AppendBool(buf[:0], x))
		case time.Time:
			c.w.Write(x.UTC().AppendFormat(buf[:0], "2006-01-02 15:04:05.999999+00"))
		default:
			return fmt.Errorf("cannot write %T to CSV", v)
		}
	}
	return c.w.WriteByte('\n')
}

// appendInto appends the rows each yields to table with DuckDB's appender.
func (l *loader) appendInto(table string, each func(add func(vals ...driver.Value) error) error) error {
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

// tableLoad fills one metadata table.
type tableLoad func(ctx context.Context, st store.Store, g *lineage.Graph, now time.Time, add func(...driver.Value) error) error

// loads are how each table of MetadataTables is filled.
var loads = map[string]tableLoad{
	"assets": func(_ context.Context, _ store.Store, g *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
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
	},
	"partitions": loadPartitions,
	"materializations": func(ctx context.Context, st store.Store, _ *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
		mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Limit: -1})
		if err != nil {
			return err
		}
		for _, m := range mats {
			if err := add(m.ID, m.Asset, m.PartitionKey, m.Version, m.RunID, m.TaskID, int32(m.Attempt), m.CodeVersion, m.ManifestSHA256,
				int32(m.Files), m.Bytes, at(m.StartedAt), at(m.PromotedAt)); err != nil {
				return err
			}
		}
		return nil
	},
	// The inputs alone: the lineage view joins the materializations.
	"materialization_inputs": func(ctx context.Context, st store.Store, _ *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
		return st.InputEach(ctx, func(id int64, in store.Input) error {
			return add(id, in.Asset, in.PartitionKey, in.Version)
		})
	},
	"runs": func(ctx context.Context, st store.Store, _ *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
		runs, err := st.RunList(ctx, store.RunListParams{Limit: -1})
		if err != nil {
			return err
		}
		for _, r := range runs {
			if err := add(r.ID, r.Kind, r.Selection, r.Partitions, r.Reprocess, string(r.State()), r.CreatedBy, at(r.CreatedAt), at(r.FinishedAt),
				int32(r.Priority), r.Error, r.TaskCount()); err != nil {
				return err
			}
		}
		return nil
	},
	"tasks": func(ctx context.Context, st store.Store, _ *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
		tasks, err := st.TaskList(ctx, store.TaskListParams{})
		if err != nil {
			return err
		}
		for _, t := range tasks {
			if err := add(t.ID, t.RunID, t.Asset, t.PartitionFirst, t.PartitionLast, t.PartitionCount, string(t.State), int32(t.Attempt), t.Phase,
				t.Worker, at(t.StartedAt), at(t.FinishedAt), t.Error); err != nil {
				return err
			}
		}
		return nil
	},
	"attempts": func(ctx context.Context, st store.Store, _ *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
		tasks, err := st.TaskList(ctx, store.TaskListParams{})
		if err != nil {
			return err
		}
		byTask := make(map[int64]*store.Task, len(tasks))
		for _, t := range tasks {
			byTask[t.ID] = t
		}
		return st.AttemptEach(ctx, func(a *store.TaskAttempt) error {
			var run, asset driver.Value
			if t := byTask[a.TaskID]; t != nil {
				run, asset = t.RunID, t.Asset
			}
			return add(a.TaskID, int32(a.Attempt), run, asset, a.Phase, a.Worker, string(a.State), at(a.StartedAt), at(a.FinishedAt), a.Error, a.Version)
		})
	},
	"check_results": func(ctx context.Context, st store.Store, g *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
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
	},
	"schedules": func(ctx context.Context, st store.Store, _ *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
		schedules, err := st.ScheduleList(ctx)
		if err != nil {
			return err
		}
		for _, s := range schedules {
			if err := add(s.Name, s.Paused, at(s.Since)); err != nil {
				return err
			}
		}
		return nil
	},
	"ticks": func(ctx context.Context, st store.Store, _ *lineage.Graph, _ time.Time, add func(...driver.Value) error) error {
		schedules, err := st.ScheduleList(ctx)
		if err != nil {
			return err
		}
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
	},
}

// loadPartitions writes a row for every partition of every asset that
// exists at now, with its state as plan.AssetHealth gives it.
func loadPartitions(ctx context.Context, st store.Store, g *lineage.Graph, now time.Time, add func(...driver.Value) error) error {
	health, err := plan.AssetHealth(ctx, st, g, g.Keys(), now)
	if err != nil {
		return err
	}
	for _, h := range health {
		status, err := st.PartitionStatusList(ctx, h.Asset)
		if err != nil {
			return err
		}
		byIndex := make(map[int64]store.PartitionStatus, len(status))
		for _, s := range status {
			if i, err := h.Def.Index(s.PartitionKey); err == nil {
				byIndex[i] = s
			}
		}
		for i := range h.Def.Len(now) {
			state, why := "missing", ""
			switch {
			case h.Fresh.Contains(i):
				state = "fresh"
			case h.Stale.Contains(i):
				state = "stale"
				var whys []string
				for _, r := range h.Why {
					if r.Partitions.Contains(i) {
						whys = append(whys, r.Why)
					}
				}
				why = strings.Join(whys, "; ")
			}
			s := byIndex[i]
			var version, mat driver.Value
			if s.Version != "" {
				version, mat = s.Version, s.MaterializationID
			}
			if err := add(h.Asset, h.Def.Key(i), i, state, why, version, mat, s.Failed, h.Running.Contains(i), s.Error); err != nil {
				return err
			}
		}
	}
	return nil
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
