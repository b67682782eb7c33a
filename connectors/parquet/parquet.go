// Package parquet writes and reads Apache Arrow tables as Parquet files of
// a task's partitions, and audits staged Parquet files: importing it makes
// every manifest record each Parquet file's row count and Arrow schema, read
// from the footer with ranged reads.
package parquet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"gocloud.dev/blob"

	"github.com/weir-dev/weir/verify"
)

func init() {
	verify.RegisterFileAuditor(".parquet", Footer)
}

// Creator creates files of a partition; pipelines.Output is one.
type Creator interface {
	Create(ctx context.Context, key, name string) (io.WriteCloser, error)
}

// Opener opens files of a partition; pipelines.Input is one.
type Opener interface {
	Open(ctx context.Context, key, name string) (io.ReadCloser, error)
}

// Write writes tbl as a Zstd-compressed Parquet file.
func Write(w io.Writer, tbl arrow.Table) error {
	props := pq.NewWriterProperties(pq.WithCompression(compress.Codecs.Zstd), pq.WithStats(true))
	if err := pqarrow.WriteTable(tbl, w, 64*1024, props, pqarrow.DefaultWriterProps()); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

// WriteRecords streams the record batches of rr to w as a Zstd-compressed
// Parquet file, one row group per batch, and returns the number of rows:
// memory holds one batch at a time. w is not closed.
func WriteRecords(w io.Writer, rr array.RecordReader) (int64, error) {
	props := pq.NewWriterProperties(pq.WithCompression(compress.Codecs.Zstd), pq.WithStats(true))
	// Wrapped so that closing the Parquet writer leaves w open.
	fw, err := pqarrow.NewFileWriter(rr.Schema(), struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return 0, fmt.Errorf("write parquet: %w", err)
	}
	var n int64
	for rr.Next() {
		rec := rr.RecordBatch()
		if err := fw.Write(rec); err != nil {
			return n, fmt.Errorf("write parquet: %w", err)
		}
		n += rec.NumRows()
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return n, err
	}
	return n, fw.Close()
}

// WriteFile writes tbl as file name of partition key of out.
func WriteFile(ctx context.Context, out Creator, key, name string, tbl arrow.Table) error {
	w, err := out.Create(ctx, key, name)
	if err != nil {
		return err
	}
	if err := Write(w, tbl); err != nil {
		w.Close()
		return fmt.Errorf("%s of partition %s: %w", name, key, err)
	}
	return w.Close()
}

// ReadFile reads file name of partition key of in as an Arrow table.
// The file is read to the end first, so a corrupt file fails its checksum
// before Parquet decoding sees it. The caller releases the table.
func ReadFile(ctx context.Context, in Opener, key, name string, mem memory.Allocator) (arrow.Table, error) {
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

// Records reads the record batches of a Parquet file of a partition.
// Release it to remove its temporary copy.
type Records struct {
	pqarrow.RecordReader
	file   *os.File
	reader *file.Reader
}

// Release releases the batches and removes the temporary copy.
func (r *Records) Release() {
	r.RecordReader.Release()
	r.reader.Close()
	r.file.Close()
	os.Remove(r.file.Name())
}

// OpenRecords reads file name of partition key of in to the end into a
// temporary file (so a corrupt file fails its checksum before a row is
// used, and memory stays bounded: Parquet needs random access) and returns
// a reader of its record batches of up to batchRows rows (0: 65,536).
func OpenRecords(ctx context.Context, in Opener, key, name string, batchRows int, mem memory.Allocator) (*Records, error) {
	r, err := in.Open(ctx, key, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := os.CreateTemp("", "weir-*.parquet")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Records, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		return fail(fmt.Errorf("read %s of partition %s: %w", name, key, err))
	}
	if batchRows <= 0 {
		batchRows = 65536
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	pr, err := file.NewParquetReader(f)
	if err != nil {
		return fail(fmt.Errorf("%s of partition %s is not readable Parquet: %w", name, key, err))
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: int64(batchRows)}, mem)
	if err == nil {
		var rr pqarrow.RecordReader
		if rr, err = fr.GetRecordReader(ctx, nil, nil); err == nil {
			return &Records{RecordReader: rr, file: f, reader: pr}, nil
		}
	}
	pr.Close()
	return fail(fmt.Errorf("%s of partition %s is not readable Parquet: %w", name, key, err))
}

// Footer reads the row count and Arrow schema of a Parquet object
// from its footer, with ranged reads: the data pages are not downloaded.
func Footer(ctx context.Context, b *blob.Bucket, key string) (rows int64, schema string, err error) {
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		return 0, "", fmt.Errorf("parquet %s: %w", key, err)
	}
	pr, err := file.NewParquetReader(&blobReaderAt{ctx: ctx, b: b, key: key, size: attrs.Size})
	if err != nil {
		return 0, "", fmt.Errorf("%s is not readable Parquet: %w", key, err)
	}
	defer pr.Close()
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return 0, "", fmt.Errorf("%s is not readable Parquet: %w", key, err)
	}
	s, err := fr.Schema()
	if err != nil {
		return 0, "", fmt.Errorf("%s: arrow schema: %w", key, err)
	}
	fields := make([]string, len(s.Fields()))
	for i, f := range s.Fields() {
		fields[i] = f.Name + ": " + f.Type.String()
	}
	return pr.NumRows(), strings.Join(fields, ", "), nil
}

// blobReaderAt reads an object with ranged reads, for Parquet's footer.
type blobReaderAt struct {
	ctx  context.Context
	b    *blob.Bucket
	key  string
	size int64
	pos  int64
}

func (r *blobReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	rr, err := r.b.NewRangeReader(r.ctx, r.key, off, int64(len(p)), nil)
	if err != nil {
		return 0, err
	}
	defer rr.Close()
	n, err := io.ReadFull(rr, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (r *blobReaderAt) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		r.pos = offset
	case io.SeekCurrent:
		r.pos += offset
	case io.SeekEnd:
		r.pos = r.size + offset
	}
	return r.pos, nil
}
