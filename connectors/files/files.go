// Package files reads and writes CSV and newline-delimited JSON as Apache
// Arrow record batches, and brings them into a pipeline: Import reads one
// object per partition from any gocloud.dev/blob bucket (a landing zone)
// into Parquet; Convert writes an upstream's promoted Parquet out as CSV or
// NDJSON files of an asset, verified and promoted like any other.
//
// Schemas are declared, or inferred from the first rows (ReadOpts.SampleRows):
// each column takes the narrowest of int64, float64, bool, date (YYYY-MM-DD),
// timestamp (RFC 3339, as timestamp[us, UTC]) and string that holds every
// sampled value;
// empty CSV fields and JSON nulls are NULL. A later row that does not fit
// the inferred type fails the read, naming it: declare the schema then.
package files

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Format is a text format of rows.
type Format string

// The formats.
const (
	CSV    Format = "csv"
	NDJSON Format = "ndjson"
)

// Ext returns the format's file extension, with the dot.
func (f Format) Ext() string { return "." + string(f) }

func (f Format) check() error {
	if f != CSV && f != NDJSON {
		return fmt.Errorf("format %q is not one of csv, ndjson", string(f))
	}
	return nil
}

// ReadOpts says how to read rows.
type ReadOpts struct {
	// Format is CSV or NDJSON. Required.
	Format Format
	// Schema declares the columns. Nil infers them from the first
	// SampleRows rows. A CSV file's header must name the declared columns,
	// in order.
	Schema *arrow.Schema
	// SampleRows is how many rows inference reads. Defaults to 1,000.
	SampleRows int
	// BatchRows is the number of rows per record batch. Defaults to 65,536.
	BatchRows int
	// Comma separates CSV fields. Defaults to ','.
	Comma rune
	// Allocator holds the Arrow buffers. Defaults to memory.DefaultAllocator.
	Allocator memory.Allocator
}

func (o ReadOpts) withDefaults() (ReadOpts, error) {
	if err := o.Format.check(); err != nil {
		return o, err
	}
	if o.SampleRows < 0 || o.BatchRows < 0 {
		return o, fmt.Errorf("SampleRows %d and BatchRows %d must not be negative (0 means the default)", o.SampleRows, o.BatchRows)
	}
	if o.SampleRows == 0 {
		o.SampleRows = 1000
	}
	if o.BatchRows == 0 {
		o.BatchRows = 65536
	}
	if o.Comma == 0 {
		o.Comma = ','
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	return o, nil
}

// Read returns a reader of the rows in r as record batches. Release it
// when done; its Err says why it stopped early.
func Read(r io.Reader, opts ReadOpts) (array.RecordReader, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Format == CSV {
		return readCSV(r, opts)
	}
	return readNDJSON(r, opts)
}

// sample reads what inference needs from r and returns it with a reader
// of the whole input again.
type sample struct{ buf bytes.Buffer }

func (s *sample) tee(r io.Reader) io.Reader { return io.TeeReader(r, &s.buf) }

func (s *sample) whole(r io.Reader) io.Reader {
	return io.MultiReader(bytes.NewReader(s.buf.Bytes()), r)
}

func readCSV(r io.Reader, opts ReadOpts) (array.RecordReader, error) {
	var smp sample
	cr := csv.NewReader(smp.tee(r))
	cr.Comma = opts.Comma
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	schema := opts.Schema
	if schema != nil {
		names := make([]string, schema.NumFields())
		for i, f := range schema.Fields() {
			names[i] = f.Name
		}
		if !slices.Equal(header, names) {
			return nil, fmt.Errorf("csv header %q does not name the declared columns %q", header, names)
		}
		if err := csvReadable(schema); err != nil {
			return nil, err
		}
	} else {
		cols := make([]inferred, len(header))
		for n := 0; n < opts.SampleRows; n++ {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("csv: %w", err)
			}
			for i, v := range rec {
				if i < len(cols) && v != "" {
					cols[i].see(v)
				}
			}
		}
		fields := make([]arrow.Field, len(header))
		for i, h := range header {
			fields[i] = arrow.Field{Name: h, Type: cols[i].typ(), Nullable: true}
		}
		schema = arrow.NewSchema(fields, nil)
	}
	rr := arrowcsv.NewReader(smp.whole(r), schema, arrowcsv.WithHeader(true), arrowcsv.WithComma(opts.Comma),
		arrowcsv.WithChunk(opts.BatchRows), arrowcsv.WithAllocator(opts.Allocator), arrowcsv.WithNullReader(true, ""))
	return rr, nil
}

// csvReadable refuses types Arrow's CSV reader cannot parse, which it
// would panic on.
func csvReadable(schema *arrow.Schema) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("declared schema: %v", p)
		}
	}()
	arrowcsv.NewReader(strings.NewReader(""), schema).Release()
	return nil
}

func readNDJSON(r io.Reader, opts ReadOpts) (array.RecordReader, error) {
	schema := opts.Schema
	var smp sample
	in := r
	if schema == nil {
		br := bufio.NewReader(smp.tee(r))
		var names []string
		cols := map[string]*inferred{}
		for n := 0; n < opts.SampleRows; {
			line, err := br.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				n++
				dec := json.NewDecoder(bytes.NewReader(line))
				dec.UseNumber()
				var obj map[string]any
				if derr := dec.Decode(&obj); derr != nil {
					return nil, fmt.Errorf("ndjson line %d is not a JSON object: %w", n, derr)
				}
				for k, v := range obj {
					c, ok := cols[k]
					if !ok {
						c = &inferred{}
						cols[k] = c
						names = append(names, k)
					}
					if err := c.seeJSON(k, v); err != nil {
						return nil, err
					}
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("ndjson: %w", err)
			}
		}
		// Keys of a JSON object have no order: columns are sorted by name.
		slices.Sort(names)
		fields := make([]arrow.Field, len(names))
		for i, k := range names {
			fields[i] = arrow.Field{Name: k, Type: cols[k].typ(), Nullable: true}
		}
		schema = arrow.NewSchema(fields, nil)
		// The buffered reader read ahead; everything it took from r is in
		// the sample, so the whole input is the sample then the rest.
		in = smp.whole(r)
	}
	return array.NewJSONReader(in, schema, array.WithChunk(opts.BatchRows), array.WithAllocator(opts.Allocator)), nil
}

// inferred narrows a column's type as values are seen.
type inferred struct {
	seen                                        bool
	notInt, notFloat, notBool, notDate, notTime bool
}

func (c *inferred) see(v string) {
	c.seen = true
	if !c.notInt {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			c.notInt = true
		}
	}
	if !c.notFloat {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			c.notFloat = true
		}
	}
	if !c.notBool {
		if v != "true" && v != "false" {
			c.notBool = true
		}
	}
	if !c.notDate {
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			c.notDate = true
		}
	}
	if !c.notTime {
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			c.notTime = true
		}
	}
}

func (c *inferred) seeJSON(name string, v any) error {
	switch v := v.(type) {
	case nil:
	case json.Number:
		c.see(v.String())
		c.notBool, c.notDate, c.notTime = true, true, true
	case bool:
		c.seen = true
		c.notInt, c.notFloat, c.notDate, c.notTime = true, true, true, true
	case string:
		c.see(v)
		c.notInt, c.notFloat, c.notBool = true, true, true
	default:
		return fmt.Errorf("ndjson field %q holds %T values; inference reads numbers, booleans and strings only: declare a schema (ReadOpts.Schema)", name, v)
	}
	return nil
}

func (c *inferred) typ() arrow.DataType {
	switch {
	case !c.seen:
		return arrow.BinaryTypes.String
	case !c.notInt:
		return arrow.PrimitiveTypes.Int64
	case !c.notFloat:
		return arrow.PrimitiveTypes.Float64
	case !c.notBool:
		return arrow.FixedWidthTypes.Boolean
	case !c.notDate:
		return arrow.FixedWidthTypes.Date32
	case !c.notTime:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return arrow.BinaryTypes.String
}

// Write writes the record batches of rr to w in format (CSV with a header
// line) and returns the number of rows.
func Write(w io.Writer, rr array.RecordReader, format Format) (int64, error) {
	if err := format.check(); err != nil {
		return 0, err
	}
	var n int64
	var cw *arrowcsv.Writer
	if format == CSV {
		cw = arrowcsv.NewWriter(w, rr.Schema(), arrowcsv.WithHeader(true), arrowcsv.WithNullWriter(""),
			arrowcsv.WithCustomTypeConverter(rfc3339))
	}
	bw := bufio.NewWriter(w)
	for rr.Next() {
		rec := rr.RecordBatch()
		var err error
		if cw != nil {
			err = cw.Write(rec)
		} else {
			err = array.RecordToJSON(rec, bw)
		}
		if err != nil {
			return n, err
		}
		n += rec.NumRows()
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return n, err
	}
	if cw != nil {
		if n == 0 {
			// The header alone: an empty partition is still a table.
			if err := cw.Write(array.NewRecordBatch(rr.Schema(), emptyColumns(rr.Schema()), 0)); err != nil {
				return 0, err
			}
		}
		return n, cw.Flush()
	}
	return n, bw.Flush()
}

// rfc3339 writes timestamps as RFC 3339, as inference and NDJSON read
// them (Arrow's default puts a space between date and time).
func rfc3339(typ arrow.DataType, col arrow.Array) ([]string, bool) {
	ts, ok := typ.(*arrow.TimestampType)
	if !ok {
		return nil, false
	}
	a := col.(*array.Timestamp)
	out := make([]string, a.Len())
	for i := range out {
		if a.IsValid(i) {
			t := a.Value(i).ToTime(ts.Unit)
			if ts.TimeZone == "" {
				out[i] = t.Format("2006-01-02T15:04:05.999999999")
			} else {
				out[i] = t.Format(time.RFC3339Nano)
			}
		}
	}
	return out, true
}

func emptyColumns(s *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, 0)
	}
	return cols
}
