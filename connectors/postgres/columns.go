package postgres

import (
	"fmt"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// column reads one result column: rows.Scan fills dest, then add appends
// the value to the column's Arrow builder.
type column interface {
	dest() any
	add(b array.Builder) error
}

// arrowColumn maps a result column to its Arrow field and reader. Types
// outside the documented mapping are refused, naming the column and type.
func arrowColumn(fd pgconn.FieldDescription, m *pgtype.Map) (arrow.Field, column, error) {
	f := arrow.Field{Name: fd.Name, Nullable: true}
	switch fd.DataTypeOID {
	case pgtype.BoolOID:
		f.Type = arrow.FixedWidthTypes.Boolean
		return f, &scalar[pgtype.Bool]{get: func(v pgtype.Bool) (any, bool) { return v.Bool, v.Valid }}, nil
	case pgtype.Int2OID:
		f.Type = arrow.PrimitiveTypes.Int16
		return f, &scalar[pgtype.Int2]{get: func(v pgtype.Int2) (any, bool) { return v.Int16, v.Valid }}, nil
	case pgtype.Int4OID:
		f.Type = arrow.PrimitiveTypes.Int32
		return f, &scalar[pgtype.Int4]{get: func(v pgtype.Int4) (any, bool) { return v.Int32, v.Valid }}, nil
	case pgtype.Int8OID:
		f.Type = arrow.PrimitiveTypes.Int64
		return f, &scalar[pgtype.Int8]{get: func(v pgtype.Int8) (any, bool) { return v.Int64, v.Valid }}, nil
	case pgtype.Float4OID:
		f.Type = arrow.PrimitiveTypes.Float32
		return f, &scalar[pgtype.Float4]{get: func(v pgtype.Float4) (any, bool) { return v.Float32, v.Valid }}, nil
	case pgtype.Float8OID:
		f.Type = arrow.PrimitiveTypes.Float64
		return f, &scalar[pgtype.Float8]{get: func(v pgtype.Float8) (any, bool) { return v.Float64, v.Valid }}, nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.JSONOID, pgtype.JSONBOID:
		f.Type = arrow.BinaryTypes.String
		return f, &scalar[pgtype.Text]{get: func(v pgtype.Text) (any, bool) { return v.String, v.Valid }}, nil
	case pgtype.ByteaOID:
		f.Type = arrow.BinaryTypes.Binary
		return f, &scalar[[]byte]{get: func(v []byte) (any, bool) { return v, v != nil }}, nil
	case pgtype.UUIDOID:
		f.Type = extensions.NewUUIDType()
		return f, &scalar[pgtype.UUID]{get: func(v pgtype.UUID) (any, bool) { return v.Bytes, v.Valid }}, nil
	case pgtype.DateOID:
		f.Type = arrow.FixedWidthTypes.Date32
		return f, &scalar[pgtype.Date]{name: fd.Name, get: func(v pgtype.Date) (any, bool) {
			if v.Valid && v.InfinityModifier != pgtype.Finite {
				return errInfinite, true
			}
			return arrow.Date32FromTime(v.Time), v.Valid
		}}, nil
	case pgtype.TimestampOID:
		f.Type = &arrow.TimestampType{Unit: arrow.Microsecond}
		return f, &scalar[pgtype.Timestamp]{name: fd.Name, get: func(v pgtype.Timestamp) (any, bool) {
			if v.Valid && v.InfinityModifier != pgtype.Finite {
				return errInfinite, true
			}
			return arrow.Timestamp(v.Time.UnixMicro()), v.Valid
		}}, nil
	case pgtype.TimestamptzOID:
		f.Type = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		return f, &scalar[pgtype.Timestamptz]{name: fd.Name, get: func(v pgtype.Timestamptz) (any, bool) {
			if v.Valid && v.InfinityModifier != pgtype.Finite {
				return errInfinite, true
			}
			return arrow.Timestamp(v.Time.UnixMicro()), v.Valid
		}}, nil
	case pgtype.NumericOID:
		// A numeric's type modifier is ((precision << 16) | scale) + 4;
		// without one (an unconstrained column, or an expression such
		// as sum(x)) values may have any scale, which Parquet cannot hold.
		if fd.TypeModifier < 4 {
			return f, nil, fmt.Errorf("column %q is numeric without a precision and scale; cast it in the query, e.g. %s::numeric(18,2)", fd.Name, fd.Name)
		}
		prec, scale := (fd.TypeModifier-4)>>16, (fd.TypeModifier-4)&0xffff
		if prec > 38 {
			return f, nil, fmt.Errorf("column %q is numeric(%d,%d); at most 38 digits fit Parquet's decimal128, cast it in the query, e.g. to numeric(38,%d) or float8", fd.Name, prec, scale, min(scale, 38))
		}
		f.Type = &arrow.Decimal128Type{Precision: prec, Scale: scale}
		return f, &numeric{name: fd.Name, scale: scale}, nil
	case pgtype.BoolArrayOID:
		return list[pgtype.Bool](f, arrow.FixedWidthTypes.Boolean, func(b array.Builder, v pgtype.Bool) { b.(*array.BooleanBuilder).Append(v.Bool) }, func(v pgtype.Bool) bool { return v.Valid })
	case pgtype.Int2ArrayOID:
		return list[pgtype.Int2](f, arrow.PrimitiveTypes.Int16, func(b array.Builder, v pgtype.Int2) { b.(*array.Int16Builder).Append(v.Int16) }, func(v pgtype.Int2) bool { return v.Valid })
	case pgtype.Int4ArrayOID:
		return list[pgtype.Int4](f, arrow.PrimitiveTypes.Int32, func(b array.Builder, v pgtype.Int4) { b.(*array.Int32Builder).Append(v.Int32) }, func(v pgtype.Int4) bool { return v.Valid })
	case pgtype.Int8ArrayOID:
		return list[pgtype.Int8](f, arrow.PrimitiveTypes.Int64, func(b array.Builder, v pgtype.Int8) { b.(*array.Int64Builder).Append(v.Int64) }, func(v pgtype.Int8) bool { return v.Valid })
	case pgtype.Float8ArrayOID:
		return list[pgtype.Float8](f, arrow.PrimitiveTypes.Float64, func(b array.Builder, v pgtype.Float8) { b.(*array.Float64Builder).Append(v.Float64) }, func(v pgtype.Float8) bool { return v.Valid })
	case pgtype.TextArrayOID, pgtype.VarcharArrayOID:
		return list[pgtype.Text](f, arrow.BinaryTypes.String, func(b array.Builder, v pgtype.Text) { b.(*array.StringBuilder).Append(v.String) }, func(v pgtype.Text) bool { return v.Valid })
	}
	return f, nil, fmt.Errorf("column %q has type %s, which the PostgreSQL source does not map to Arrow (supported: %s); cast it in the query, e.g. %s::text",
		fd.Name, typeName(fd.DataTypeOID, m), Supported, fd.Name)
}

// Supported lists the PostgreSQL types the source reads, for errors and docs.
const Supported = "bool, smallint, integer, bigint, real, double precision, numeric(p,s) with p ≤ 38, text, varchar, char, name, json and jsonb (as text), bytea, uuid, date, timestamp, timestamptz, and one-dimensional arrays of bool, smallint, integer, bigint, double precision and text"

func typeName(oid uint32, m *pgtype.Map) string {
	if t, ok := m.TypeForOID(oid); ok {
		return t.Name
	}
	return fmt.Sprintf("oid %d", oid)
}

// errInfinite marks an infinite date or timestamp, which Arrow cannot hold.
var errInfinite = fmt.Errorf("infinite")

// scalar reads a column of one PostgreSQL type T; get returns the value to
// append and whether it is not NULL.
type scalar[T any] struct {
	v    T
	name string
	get  func(T) (any, bool)
}

func (c *scalar[T]) dest() any { return &c.v }

func (c *scalar[T]) add(b array.Builder) error {
	v, ok := c.get(c.v)
	if !ok {
		b.AppendNull()
		return nil
	}
	if v == errInfinite {
		return fmt.Errorf("column %q holds infinity, which Arrow timestamps and dates cannot hold; filter it out or cast it in the query", c.name)
	}
	return appendValue(b, v)
}

func appendValue(b array.Builder, v any) error {
	switch b := b.(type) {
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.Int16Builder:
		b.Append(v.(int16))
	case *array.Int32Builder:
		b.Append(v.(int32))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Float32Builder:
		b.Append(v.(float32))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.BinaryBuilder:
		b.Append(v.([]byte))
	case *array.Date32Builder:
		b.Append(v.(arrow.Date32))
	case *array.TimestampBuilder:
		b.Append(v.(arrow.Timestamp))
	case *extensions.UUIDBuilder:
		b.Append(uuid.UUID(v.([16]byte)))
	default:
		return fmt.Errorf("internal error: no append for %T", b)
	}
	return nil
}

// numeric reads a numeric(p,s) column as decimal128 at scale s.
type numeric struct {
	v     pgtype.Numeric
	name  string
	scale int32
}

func (c *numeric) dest() any { return &c.v }

func (c *numeric) add(b array.Builder) error {
	if !c.v.Valid {
		b.AppendNull()
		return nil
	}
	if c.v.NaN || c.v.InfinityModifier != pgtype.Finite {
		return fmt.Errorf("column %q holds NaN or infinity, which a decimal cannot hold; filter it out in the query", c.name)
	}
	n := new(big.Int).Set(c.v.Int)
	// value = Int × 10^Exp; at scale s the unscaled integer is Int × 10^(Exp+s).
	switch shift := c.v.Exp + c.scale; {
	case shift > 0:
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(shift)), nil))
	case shift < 0:
		var rem big.Int
		n.QuoRem(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-shift)), nil), &rem)
		if rem.Sign() != 0 {
			return fmt.Errorf("column %q holds %s, with more decimals than its scale %d", c.name, c.v.Int.String()+"e"+fmt.Sprint(c.v.Exp), c.scale)
		}
	}
	b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(n))
	return nil
}

// array1 reads a one-dimensional array column as an Arrow list.
type array1[T any] struct {
	v     pgtype.Array[T]
	name  string
	put   func(array.Builder, T)
	valid func(T) bool
}

func list[T any](f arrow.Field, elem arrow.DataType, put func(array.Builder, T), valid func(T) bool) (arrow.Field, column, error) {
	f.Type = arrow.ListOf(elem)
	return f, &array1[T]{name: f.Name, put: put, valid: valid}, nil
}

func (c *array1[T]) dest() any { return &c.v }

func (c *array1[T]) add(b array.Builder) error {
	if !c.v.Valid {
		b.AppendNull()
		return nil
	}
	if len(c.v.Dims) > 1 {
		return fmt.Errorf("column %q holds a %d-dimensional array; only one-dimensional arrays are read", c.name, len(c.v.Dims))
	}
	lb := b.(*array.ListBuilder)
	lb.Append(true)
	vb := lb.ValueBuilder()
	for _, e := range c.v.Elements {
		if !c.valid(e) {
			vb.AppendNull()
			continue
		}
		c.put(vb, e)
	}
	return nil
}
