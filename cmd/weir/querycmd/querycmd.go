// Package querycmd is `weir query`: analysts' SQL, through DuckDB, over
// weir's metadata loaded from the state store (connectors/duckdb
// MetadataTables). It lives apart from weircli so that binaries that do
// not add it link no DuckDB (cgo): add it with weircli.Config.Commands.
package querycmd

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/connectors/duckdb"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/store"
)

// Command returns the query command over the given assets. clk says when
// now is (which partitions exist); nil means the system clock.
func Command(assets []*pipelines.Asset, clk clock.Clock) *cobra.Command {
	if clk == nil {
		clk = clock.Real{}
	}
	var out string
	var tables []string
	for _, t := range duckdb.MetadataTables {
		tables = append(tables, t.Name)
	}
	var views []string
	for _, v := range duckdb.MetadataViews {
		views = append(views, v.Name)
	}
	cmd := &cobra.Command{
		Use:   `query "SQL" [-o table|csv|json|parquet] [--out FILE]`,
		Short: "SQL over weir's metadata (DuckDB): assets, partitions, materializations, lineage, runs, tasks, checks, schedules",
		Long: `query loads weir's metadata from the state store into an in-memory DuckDB and runs
SQL over it. Tables: ` + strings.Join(tables, ", ") + `; views: ` + strings.Join(views, ", ") + `.
partitions has a row for every partition that exists now: its state (fresh, stale
with why_stale, or missing; failed and running beside it) and current version;
partition_ranges groups them into consecutive ranges of one state. lineage has one
row per input a materialization read (asset, partition, version -> upstream_asset,
upstream_partition, upstream_version); join it with partitions (current versions)
and materializations, recursively for transitive questions. attempts are the
tasks' attempts (compute and verify phases), backfills the runs of kind backfill.

  weir query "SELECT asset, count(*) FROM partitions WHERE version IS NOT NULL GROUP BY asset"
  weir query "SELECT * FROM check_results WHERE warn AND NOT passed" -o csv
  weir query "SELECT * FROM runs" -o parquet --out runs.parquet`,
		Annotations: map[string]string{weircli.OutputFormats: "table,csv,json,parquet"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return weircli.Usage(fmt.Errorf("%s takes one SQL query, quoted", cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			format, _ := cmd.Flags().GetString("output")
			storeURL, _ := cmd.Flags().GetString("store")
			g, err := lineage.New(assets...)
			if err != nil {
				return weircli.Usage(fmt.Errorf("the asset definitions are invalid (run weir validate): %w", err))
			}
			st, err := store.Open(ctx, storeURL)
			if err != nil {
				return weircli.Failed(err)
			}
			defer st.Close()
			db, err := duckdb.Open(ctx)
			if err != nil {
				return weircli.Failed(err)
			}
			defer db.Close()
			if err := db.LoadMetadata(ctx, st, g, clk.Now(), duckdb.TablesIn(args[0])); err != nil {
				return weircli.Failed(err)
			}
			w := cmd.OutOrStdout()
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return weircli.Usage(fmt.Errorf("--out %s: %w", out, err))
				}
				defer f.Close()
				w = f
			}
			if format == "parquet" {
				if out == "" {
					return weircli.Usage(fmt.Errorf("-o parquet writes a file: give --out FILE"))
				}
				if err := db.QueryToParquet(ctx, args[0], w); err != nil {
					return weircli.Usage(fmt.Errorf("query: %w", err))
				}
				return nil
			}
			cols, rows, err := db.QueryRows(ctx, args[0])
			if err != nil {
				return weircli.Usage(fmt.Errorf("query: %w", err))
			}
			return write(w, format, cols, rows)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the result to this file instead of standard output")
	return cmd
}

// Query answers SQL over the HTTP API (weircli.Config.Query): the tables
// it names loaded into a fresh DuckDB locked against files, extensions
// and settings, at most maxRows rows, values as -o json writes them.
func Query(ctx context.Context, st store.Store, g *lineage.Graph, now time.Time, sql string, maxRows int) (*api.QueryResult, error) {
	cols, rows, truncated, err := duckdb.QueryMetadata(ctx, st, g, now, sql, maxRows)
	var qe *duckdb.QueryError
	if errors.As(err, &qe) {
		return nil, badQuery{err}
	}
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		for i, v := range r {
			r[i] = jsonValue(v)
		}
	}
	return &api.QueryResult{Columns: cols, Rows: rows, Truncated: truncated}, nil
}

// badQuery is SQL DuckDB refused: api.ErrBadQuery, its message DuckDB's.
type badQuery struct{ error }

func (b badQuery) Is(target error) bool { return target == api.ErrBadQuery }

// jsonValue is v as JSON can carry it: times in UTC RFC 3339, bytes as
// text, NaN and infinities as strings.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprint(x)
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}

// text renders a value for table and csv output.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case []byte:
		return string(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = text(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func write(w io.Writer, format string, cols []string, rows [][]any) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(cols)
		for _, r := range rows {
			rec := make([]string, len(r))
			for i, v := range r {
				rec[i] = text(v)
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	case "json":
		objs := make([]map[string]any, len(rows))
		for i, r := range rows {
			o := make(map[string]any, len(cols))
			for j, c := range cols {
				o[c] = jsonValue(r[j])
			}
			objs[i] = o
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(objs)
	}
	tw := weircli.NewTable(w)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
	for _, r := range rows {
		vals := make([]string, len(r))
		for i, v := range r {
			if vals[i] = text(v); vals[i] == "" {
				vals[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	unit := "rows"
	if len(rows) == 1 {
		unit = "row"
	}
	_, err := fmt.Fprintf(w, "(%d %s)\n", len(rows), unit)
	return err
}
