package connectors

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Creator creates files of a partition; pipelines.Output is one.
type Creator interface {
	Create(ctx context.Context, key, name string) (io.WriteCloser, error)
}

// Opener opens files of a partition; pipelines.Input is one.
type Opener interface {
	Open(ctx context.Context, key, name string) (io.ReadCloser, error)
}

// WriteParquet writes tbl as a Zstd-compressed Parquet file.
func WriteParquet(w io.Writer, tbl arrow.Table) error {
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true))
	if err := pqarrow.WriteTable(tbl, w, 64*1024, props, pqarrow.DefaultWriterProps()); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

// WriteParquetFile writes tbl as file name of partition key of out.
func WriteParquetFile(ctx context.Context, out Creator, key, name string, tbl arrow.Table) error {
	w, err := out.Create(ctx, key, name)
	if err != nil {
		return err
	}
	if err := WriteParquet(w, tbl); err != nil {
		w.Close()
		return fmt.Errorf("%s of partition %s: %w", name, key, err)
	}
	return w.Close()
}

// ReadParquetFile reads file name of partition key of in as an Arrow table.
// The file is read to the end first, so a corrupt file fails its checksum
// before Parquet decoding sees it. The caller releases the table.
func ReadParquetFile(ctx context.Context, in Opener, key, name string, mem memory.Allocator) (arrow.Table, error) {
	r, err := in.Open(ctx, key, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s of partition %s: %w", name, key, err)
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	tbl, err := pqarrow.ReadTable(ctx, bytes.NewReader(data), nil, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		return nil, fmt.Errorf("%s of partition %s is not readable Parquet: %w", name, key, err)
	}
	return tbl, nil
}
