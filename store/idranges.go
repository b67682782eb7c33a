package store

import (
	"fmt"
	"strconv"
	"strings"
)

// IDRange is an inclusive range of task ids.
type IDRange struct{ Lo, Hi int64 }

// EncodeDependents turns positions in a run's task list (ascending) into the
// compact form drivers store: ranges of absolute task ids, "12-20,31".
// Dependents of a task are mostly consecutive (a time window maps to a run
// of tasks), so this is short.
func EncodeDependents(first int64, positions []int32) string { return encodeRanges(first, positions) }

// DecodeDependents reads what EncodeDependents wrote.
func DecodeDependents(s string) ([]IDRange, error) {
	if s == "" {
		return nil, nil
	}
	var out []IDRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		l, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("dependents %q: %w", s, err)
		}
		h := l
		if isRange {
			if h, err = strconv.ParseInt(hi, 10, 64); err != nil {
				return nil, fmt.Errorf("dependents %q: %w", s, err)
			}
		}
		out = append(out, IDRange{l, h})
	}
	return out, nil
}

// EncodeIDs encodes ascending task ids in the form EncodeDependents writes.
func EncodeIDs(ids []int64) string { return encodeRanges(0, ids) }

// encodeRanges writes base+v for ascending vs, consecutive runs as ranges.
func encodeRanges[T int32 | int64](base int64, vs []T) string {
	var b strings.Builder
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(base+int64(vs[i]), 10))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(base+int64(vs[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}
