package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/weir-dev/weir/connectors/parquet"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/verify"
)

// ImportOpts configures an Import.
type ImportOpts struct {
	// Bucket holds the objects, on any gocloud.dev/blob backend (open it
	// with connectors/bucket.Open). Required.
	Bucket *blob.Bucket
	// Path names a partition's object: a text/template over .Key, and
	// .Start and .End (time.Time, in the partitions' zone) for time-window
	// partitions. Required.
	//
	//	landing/orders/{{ .Key }}.csv
	//	exports/{{ .Start.Format "2006/01/02" }}/orders.ndjson
	Path string
	// Read says how the object is read (Format is required).
	Read ReadOpts
	// File names the Parquet file written per partition. Defaults to
	// "data.parquet".
	File string
}

// Import reads one CSV or NDJSON object per partition from a bucket
// outside weir and writes it as the partition's Parquet file.
type Import struct {
	opts ImportOpts
	path *template.Template
}

// NewImport validates opts and returns the import.
func NewImport(opts ImportOpts) (*Import, error) {
	if opts.Bucket == nil {
		return nil, errors.New("files import: Bucket is required")
	}
	if _, err := opts.Read.withDefaults(); err != nil {
		return nil, fmt.Errorf("files import: %w", err)
	}
	if opts.File == "" {
		opts.File = "data.parquet"
	}
	if err := verify.CheckFileName(opts.File); err != nil {
		return nil, fmt.Errorf("files import: %w", err)
	}
	if strings.TrimSpace(opts.Path) == "" {
		return nil, errors.New("files import: Path is required, e.g. landing/orders/{{ .Key }}.csv")
	}
	t, err := template.New("path").Option("missingkey=error").Parse(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("files import: Path: %w", err)
	}
	return &Import{opts: opts, path: t}, nil
}

// pathVars are what a Path template sees.
type pathVars struct {
	Key        string
	Start, End time.Time
}

// Object returns the object a partition is read from.
func (im *Import) Object(def partitions.Definition, key string, index int64) (string, error) {
	v := pathVars{Key: key}
	if tw, ok := def.(partitions.Windowed); ok {
		v.Start, v.End = tw.Window(index)
	}
	var b bytes.Buffer
	if err := im.path.Execute(&b, v); err != nil {
		return "", fmt.Errorf("path of partition %s: %w", key, err)
	}
	return b.String(), nil
}

// CodeVersion changes with the path, format and declared schema.
func (im *Import) CodeVersion() string {
	schema := ""
	if im.opts.Read.Schema != nil {
		schema = im.opts.Read.Schema.String()
	}
	h := sha256.Sum256([]byte(im.opts.Path + "\x00" + string(im.opts.Read.Format) + "\x00" + schema + "\x00" + im.opts.File))
	return "import-" + hex.EncodeToString(h[:6])
}

// Compute imports each of the task's partitions. A missing object fails
// the attempt (it is retried: the object may not have landed yet); rows
// that do not fit the schema fail it for good.
func (im *Import) Compute(ctx context.Context, t *pipelines.Task) error {
	for i, key := range t.Keys {
		name, err := im.Object(t.Asset.PartitionsDef(), key, t.Range.Lo+int64(i))
		if err != nil {
			return pipelines.Permanent(err)
		}
		n, err := im.importOne(ctx, t, key, name)
		if err != nil {
			return fmt.Errorf("import %s for partition %s of %s: %w", name, key, t.Asset.Key, err)
		}
		t.Logger.Info("imported", "partition", key, "object", name, "rows", n)
	}
	return nil
}

func (im *Import) importOne(ctx context.Context, t *pipelines.Task, key, name string) (int64, error) {
	r, err := im.opts.Bucket.NewReader(ctx, name, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return 0, fmt.Errorf("object %s does not exist", name)
		}
		return 0, err
	}
	defer r.Close()
	rr, err := Read(r, im.opts.Read)
	if err != nil {
		return 0, pipelines.Permanent(err)
	}
	defer rr.Release()
	w, err := t.Output.Create(ctx, key, im.opts.File)
	if err != nil {
		return 0, err
	}
	n, err := parquet.WriteRecords(w, rr)
	if err != nil {
		w.Close()
		return n, pipelines.Permanent(fmt.Errorf("row %d or after: %w", n+1, err))
	}
	return n, w.Close()
}

// ConvertOpts configures a Convert.
type ConvertOpts struct {
	// Format is CSV or NDJSON. Required.
	Format Format
	// From is the upstream asset whose Parquet is converted. Defaults to
	// the asset's only dependency, read through the default (identity)
	// mapping.
	From string
	// InputFile names the upstream's Parquet file. Defaults to
	// "data.parquet".
	InputFile string
	// File names the file written per partition. Defaults to "data.csv"
	// or "data.ndjson".
	File string
}

// Convert writes an upstream's promoted Parquet as CSV or NDJSON files of
// an asset: weir verifies and promotes them, and readers outside weir
// find them through the partition's pointer.
type Convert struct{ opts ConvertOpts }

// NewConvert validates opts and returns the conversion.
func NewConvert(opts ConvertOpts) (*Convert, error) {
	if err := opts.Format.check(); err != nil {
		return nil, fmt.Errorf("files convert: %w", err)
	}
	if opts.InputFile == "" {
		opts.InputFile = "data.parquet"
	}
	if opts.File == "" {
		opts.File = "data" + opts.Format.Ext()
	}
	for _, f := range []string{opts.InputFile, opts.File} {
		if err := verify.CheckFileName(f); err != nil {
			return nil, fmt.Errorf("files convert: %w", err)
		}
	}
	return &Convert{opts: opts}, nil
}

// CodeVersion changes with the format and file names.
func (c *Convert) CodeVersion() string {
	return "convert-" + string(c.opts.Format) + "-" + c.opts.InputFile + "-" + c.opts.File
}

// Compute converts each of the task's partitions.
func (c *Convert) Compute(ctx context.Context, t *pipelines.Task) error {
	in, err := t.Upstream(c.opts.From)
	if err != nil {
		return fmt.Errorf("convert: %w (ConvertOpts.From)", err)
	}
	for _, key := range t.Keys {
		if in.Version(key) == "" {
			return pipelines.Permanent(fmt.Errorf("asset %s converts partition %s of %s, which this task does not read; declare the dependency with the default (identity) mapping", t.Asset.Key, key, in.Asset()))
		}
		if err := c.convert(ctx, t, in, key); err != nil {
			return fmt.Errorf("convert partition %s of %s to %s: %w", key, in.Asset(), c.opts.Format, err)
		}
	}
	return nil
}

func (c *Convert) convert(ctx context.Context, t *pipelines.Task, in pipelines.Input, key string) error {
	rr, err := parquet.OpenRecords(ctx, in, key, c.opts.InputFile, 0, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	w, err := t.Output.Create(ctx, key, c.opts.File)
	if err != nil {
		return err
	}
	n, err := Write(w, rr, c.opts.Format)
	if err != nil {
		w.Close()
		return err
	}
	t.Logger.Info("converted", "partition", key, "rows", n, "file", c.opts.File)
	return w.Close()
}
