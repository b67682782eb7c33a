package duckdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/verify"
)

// SQLAssetOpts configures a SQLAsset.
type SQLAssetOpts struct {
	// SQL is a SELECT whose result is the partition's Parquet file. It is
	// a text/template with these functions:
	//
	//	{{ upstream "orders_clean" }}  the promoted, verified Parquet of the
	//	                               partitions of dependency orders_clean
	//	                               that this partition reads, as a view
	//	{{ .Key }}                     the partition key, a VARCHAR literal
	//	{{ .Start }} {{ .End }}        a time-window partition's bounds (start
	//	                               inclusive, end exclusive), TIMESTAMPTZ
	//	                               literals with the zone's offset
	//
	// Required. The text is the asset's code version: editing it makes the
	// asset's partitions stale.
	//
	//	SELECT currency, sum(amount) AS revenue
	//	FROM {{ upstream "orders_clean" }}
	//	WHERE ts >= {{ .Start }} AND ts < {{ .End }}
	//	GROUP BY currency
	SQL string
	// File names the Parquet file written per partition. Defaults to
	// "data.parquet".
	File string
	// InputFile names the Parquet file read from each upstream partition.
	// Defaults to "data.parquet".
	InputFile string
}

// SQLAsset computes an asset's partitions with one DuckDB query each, over
// its upstreams' promoted Parquet; DuckDB writes the Parquet output.
type SQLAsset struct {
	opts      SQLAssetOpts
	tmpl      *template.Template
	upstreams []string
}

// NewSQLAsset parses opts.SQL and returns the asset's computation.
func NewSQLAsset(opts SQLAssetOpts) (*SQLAsset, error) {
	if strings.TrimSpace(opts.SQL) == "" {
		return nil, errors.New("duckdb SQL asset: SQL is required")
	}
	if opts.File == "" {
		opts.File = "data.parquet"
	}
	if opts.InputFile == "" {
		opts.InputFile = "data.parquet"
	}
	for _, f := range []string{opts.File, opts.InputFile} {
		if err := verify.CheckFileName(f); err != nil {
			return nil, fmt.Errorf("duckdb SQL asset: %w", err)
		}
	}
	q := &SQLAsset{opts: opts}
	var err error
	q.tmpl, err = template.New("sql").Option("missingkey=error").Funcs(template.FuncMap{
		"upstream": func(string) string { return "" },
	}).Parse(opts.SQL)
	if err != nil {
		return nil, fmt.Errorf("duckdb SQL asset: %w", err)
	}
	// Render once with recording functions to learn the upstreams read.
	_, err = q.render(sqlVars{upstream: func(name string) (string, error) {
		if !slices.Contains(q.upstreams, name) {
			q.upstreams = append(q.upstreams, name)
		}
		return QuoteIdent(name), nil
	}, key: "k", start: time.Unix(0, 0), end: time.Unix(0, 0), windowed: true})
	if err != nil {
		return nil, fmt.Errorf("duckdb SQL asset: %w", err)
	}
	return q, nil
}

// MustSQLAsset is NewSQLAsset for package-level declarations: it panics on
// an error.
func MustSQLAsset(opts SQLAssetOpts) *SQLAsset {
	q, err := NewSQLAsset(opts)
	if err != nil {
		panic(err)
	}
	return q
}

// Upstreams returns the dependencies the SQL reads, in order of first use.
func (q *SQLAsset) Upstreams() []string { return slices.Clone(q.upstreams) }

// CodeVersion returns "sql-" and a hash of the SQL and file names.
func (q *SQLAsset) CodeVersion() string {
	h := sha256.Sum256([]byte(q.opts.SQL + "\x00" + q.opts.File + "\x00" + q.opts.InputFile))
	return "sql-" + hex.EncodeToString(h[:6])
}

// Asset returns a with its Compute and CodeVersion set from the query,
// after checking that every upstream the SQL reads is one of a's deps and
// that a computes one partition per call.
func (q *SQLAsset) Asset(a pipelines.Asset) (*pipelines.Asset, error) {
	for _, up := range q.upstreams {
		if !slices.ContainsFunc(a.Deps, func(d pipelines.Dep) bool { return d.Asset == up }) {
			deps := make([]string, len(a.Deps))
			for i, d := range a.Deps {
				deps[i] = d.Asset
			}
			return nil, fmt.Errorf("asset %q: its SQL reads {{ upstream %q }}, which is not one of its deps (deps: %q)", a.Key, up, deps)
		}
	}
	if a.MaxPartitionsPerRun > 1 {
		return nil, fmt.Errorf("asset %q: a SQL asset computes one partition per call; MaxPartitionsPerRun is %d", a.Key, a.MaxPartitionsPerRun)
	}
	if a.Compute != nil {
		return nil, fmt.Errorf("asset %q: Compute is set; a SQL asset's compute is its SQL", a.Key)
	}
	a.Compute, a.CodeVersion = q.Compute, q.CodeVersion()
	return &a, nil
}

// Compute runs the query for each of the task's partitions.
func (q *SQLAsset) Compute(ctx context.Context, t *pipelines.Task) error {
	db, err := Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tw, windowed := t.Asset.PartitionsDef().(partitions.Windowed)
	for i, key := range t.Keys {
		if len(t.Keys) > 1 {
			return pipelines.Permanent(fmt.Errorf("asset %s: a SQL asset computes one partition per call, got %d", t.Asset.Key, len(t.Keys)))
		}
		v := sqlVars{key: key, windowed: windowed}
		if windowed {
			v.start, v.end = tw.Window(t.Range.Lo + int64(i))
		}
		viewed := map[string]bool{}
		v.upstream = func(name string) (string, error) {
			if !viewed[name] {
				in := t.Input(name)
				if err := db.ParquetView(ctx, name, in, in.Keys(), q.opts.InputFile); err != nil {
					return "", err
				}
				viewed[name] = true
			}
			return QuoteIdent(name), nil
		}
		query, err := q.render(v)
		if err != nil {
			return pipelines.Permanent(fmt.Errorf("asset %s, partition %s: %w", t.Asset.Key, key, err))
		}
		if err := db.QueryToParquetFile(ctx, query, t.Output, key, q.opts.File); err != nil {
			return fmt.Errorf("asset %s: %w", t.Asset.Key, err)
		}
	}
	return nil
}

// sqlVars are what the template renders for one partition: its methods
// are the template's .Key, .Start and .End.
type sqlVars struct {
	upstream   func(name string) (string, error)
	key        string
	start, end time.Time
	windowed   bool
}

// Key renders the partition key as a VARCHAR literal.
func (v sqlVars) Key() string { return sqlString(v.key) }

// Start renders a time-window partition's start as a TIMESTAMPTZ literal.
func (v sqlVars) Start() (string, error) { return v.bound("Start", v.start) }

// End renders a time-window partition's end (exclusive) likewise.
func (v sqlVars) End() (string, error) { return v.bound("End", v.end) }

func (v sqlVars) bound(name string, t time.Time) (string, error) {
	if !v.windowed {
		return "", fmt.Errorf("{{ .%s }} is a time-window partition's bound, and these partitions are not time windows; use {{ .Key }}", name)
	}
	return "TIMESTAMPTZ " + sqlString(t.Format("2006-01-02 15:04:05.999999-07:00")), nil
}

func (q *SQLAsset) render(v sqlVars) (string, error) {
	var b strings.Builder
	tmpl, err := q.tmpl.Clone()
	if err != nil {
		return "", err
	}
	if err := tmpl.Funcs(template.FuncMap{"upstream": v.upstream}).Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}
