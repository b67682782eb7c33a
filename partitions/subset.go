package partitions

import (
	"fmt"
	"iter"
	"sort"
	"strings"
)

// Range is the half-open range of partition indexes [Lo, Hi).
type Range struct {
	Lo, Hi int64
}

// Len returns the number of indexes in r, or 0 for an empty or reversed range.
func (r Range) Len() int64 {
	if r.Hi <= r.Lo {
		return 0
	}
	return r.Hi - r.Lo
}

// String prints r as [Lo,Hi).
func (r Range) String() string { return fmt.Sprintf("[%d,%d)", r.Lo, r.Hi) }

// Subset is an immutable set of partition indexes kept as sorted, disjoint,
// non-adjacent half-open ranges. The zero value is the empty set. Operations
// cost O(number of ranges), never O(number of partitions).
type Subset struct {
	ranges []Range // sorted, disjoint, non-adjacent, non-empty
}

// Empty returns the empty subset.
func Empty() Subset { return Subset{} }

// Span returns the subset [lo, hi).
func Span(lo, hi int64) Subset {
	if hi <= lo {
		return Subset{}
	}
	return Subset{ranges: []Range{{lo, hi}}}
}

// Of returns the subset holding the given indexes.
func Of(indexes ...int64) Subset {
	rs := make([]Range, len(indexes))
	for i, x := range indexes {
		rs[i] = Range{x, x + 1}
	}
	return FromRanges(rs...)
}

// FromRanges returns the union of the given ranges, in any order, overlapping
// or not. Empty ranges are ignored.
func FromRanges(rs ...Range) Subset {
	cp := make([]Range, 0, len(rs))
	for _, r := range rs {
		if r.Hi > r.Lo {
			cp = append(cp, r)
		}
	}
	sort.Slice(cp, func(i, j int) bool { return cp[i].Lo < cp[j].Lo })
	return Subset{ranges: normalizeSorted(cp)}
}

// normalizeSorted merges overlapping and adjacent ranges of a slice sorted by
// Lo, in place.
func normalizeSorted(rs []Range) []Range {
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.Lo <= out[n-1].Hi {
			if r.Hi > out[n-1].Hi {
				out[n-1].Hi = r.Hi
			}
			continue
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Builder accumulates indexes or ranges in ascending order into a Subset
// without intermediate allocation per element. Appending out of order is
// allowed but costs a sort at Subset.
type Builder struct {
	ranges []Range
	sorted bool
}

// Add adds index i.
func (b *Builder) Add(i int64) { b.AddRange(Range{i, i + 1}) }

// AddRange adds the range r.
func (b *Builder) AddRange(r Range) {
	if r.Hi <= r.Lo {
		return
	}
	n := len(b.ranges)
	if n == 0 {
		b.sorted = true
		b.ranges = append(b.ranges, r)
		return
	}
	last := &b.ranges[n-1]
	if r.Lo >= last.Lo && r.Lo <= last.Hi {
		if r.Hi > last.Hi {
			last.Hi = r.Hi
		}
		return
	}
	if r.Lo < last.Lo {
		b.sorted = false
	}
	b.ranges = append(b.ranges, r)
}

// Subset returns the set built so far.
func (b *Builder) Subset() Subset {
	if !b.sorted {
		return FromRanges(b.ranges...)
	}
	return Subset{ranges: normalizeSorted(append([]Range(nil), b.ranges...))}
}

// Ranges returns the ranges of s in ascending order. The caller must not
// modify the returned slice.
func (s Subset) Ranges() []Range { return s.ranges }

// IsEmpty reports whether s has no index.
func (s Subset) IsEmpty() bool { return len(s.ranges) == 0 }

// Len returns the number of indexes in s.
func (s Subset) Len() int64 {
	var n int64
	for _, r := range s.ranges {
		n += r.Hi - r.Lo
	}
	return n
}

// Min returns the smallest index of s; ok is false when s is empty.
func (s Subset) Min() (i int64, ok bool) {
	if len(s.ranges) == 0 {
		return 0, false
	}
	return s.ranges[0].Lo, true
}

// Max returns the largest index of s; ok is false when s is empty.
func (s Subset) Max() (i int64, ok bool) {
	if len(s.ranges) == 0 {
		return 0, false
	}
	return s.ranges[len(s.ranges)-1].Hi - 1, true
}

// Contains reports whether i is in s, in O(log ranges).
func (s Subset) Contains(i int64) bool {
	k := sort.Search(len(s.ranges), func(k int) bool { return s.ranges[k].Hi > i })
	return k < len(s.ranges) && s.ranges[k].Lo <= i
}

// Overlaps reports whether s holds an index of r, by binary search and
// without allocating.
func (s Subset) Overlaps(r Range) bool {
	if r.Lo >= r.Hi {
		return false
	}
	k := sort.Search(len(s.ranges), func(k int) bool { return s.ranges[k].Hi > r.Lo })
	return k < len(s.ranges) && s.ranges[k].Lo < r.Hi
}

// Meets reports whether s and t share an index: !s.Intersect(t).IsEmpty()
// without building the intersection.
func (s Subset) Meets(t Subset) bool {
	if len(t.ranges) > len(s.ranges) {
		s, t = t, s
	}
	for _, r := range t.ranges {
		if s.Overlaps(r) {
			return true
		}
	}
	return false
}

// ContainsAll reports whether every index of t is in s.
func (s Subset) ContainsAll(t Subset) bool { return t.Difference(s).IsEmpty() }

// Equal reports whether s and t hold the same indexes.
func (s Subset) Equal(t Subset) bool {
	if len(s.ranges) != len(t.ranges) {
		return false
	}
	for i := range s.ranges {
		if s.ranges[i] != t.ranges[i] {
			return false
		}
	}
	return true
}

// Union returns s ∪ t.
func (s Subset) Union(t Subset) Subset {
	if len(t.ranges) == 0 {
		return s
	}
	if len(s.ranges) == 0 {
		return t
	}
	out := make([]Range, 0, len(s.ranges)+len(t.ranges))
	i, j := 0, 0
	for i < len(s.ranges) || j < len(t.ranges) {
		var r Range
		if j >= len(t.ranges) || (i < len(s.ranges) && s.ranges[i].Lo <= t.ranges[j].Lo) {
			r = s.ranges[i]
			i++
		} else {
			r = t.ranges[j]
			j++
		}
		if n := len(out); n > 0 && r.Lo <= out[n-1].Hi {
			if r.Hi > out[n-1].Hi {
				out[n-1].Hi = r.Hi
			}
			continue
		}
		out = append(out, r)
	}
	return Subset{ranges: out}
}

// Intersect returns s ∩ t.
func (s Subset) Intersect(t Subset) Subset {
	var out []Range
	i, j := 0, 0
	for i < len(s.ranges) && j < len(t.ranges) {
		a, b := s.ranges[i], t.ranges[j]
		lo, hi := max(a.Lo, b.Lo), min(a.Hi, b.Hi)
		if lo < hi {
			out = append(out, Range{lo, hi})
		}
		if a.Hi < b.Hi {
			i++
		} else {
			j++
		}
	}
	return Subset{ranges: out}
}

// Difference returns s \ t.
func (s Subset) Difference(t Subset) Subset {
	if len(t.ranges) == 0 || len(s.ranges) == 0 {
		return s
	}
	var out []Range
	j := 0
	for _, r := range s.ranges {
		lo := r.Lo
		for j < len(t.ranges) && t.ranges[j].Hi <= lo {
			j++
		}
		k := j
		for k < len(t.ranges) && t.ranges[k].Lo < r.Hi {
			if t.ranges[k].Lo > lo {
				out = append(out, Range{lo, t.ranges[k].Lo})
			}
			if t.ranges[k].Hi > lo {
				lo = t.ranges[k].Hi
			}
			if t.ranges[k].Hi > r.Hi {
				break
			}
			k++
		}
		if lo < r.Hi {
			out = append(out, Range{lo, r.Hi})
		}
	}
	return Subset{ranges: out}
}

// Clip returns s ∩ [lo, hi).
func (s Subset) Clip(lo, hi int64) Subset { return s.Intersect(Span(lo, hi)) }

// Shift returns s with every index moved by d.
func (s Subset) Shift(d int64) Subset {
	out := make([]Range, len(s.ranges))
	for i, r := range s.ranges {
		out[i] = Range{r.Lo + d, r.Hi + d}
	}
	return Subset{ranges: out}
}

// All iterates over the indexes of s in ascending order.
func (s Subset) All() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for _, r := range s.ranges {
			for i := r.Lo; i < r.Hi; i++ {
				if !yield(i) {
					return
				}
			}
		}
	}
}

// Chunks splits s into ranges of at most n indexes each, never crossing a gap,
// in ascending order. n < 1 means 1.
func (s Subset) Chunks(n int64) iter.Seq[Range] {
	if n < 1 {
		n = 1
	}
	return func(yield func(Range) bool) {
		for _, r := range s.ranges {
			for lo := r.Lo; lo < r.Hi; lo += n {
				if !yield(Range{lo, min(lo+n, r.Hi)}) {
					return
				}
			}
		}
	}
}

// String prints s as index ranges, e.g. "{[0,3) [5,6)}".
func (s Subset) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, r := range s.ranges {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.String())
	}
	b.WriteByte('}')
	return b.String()
}
