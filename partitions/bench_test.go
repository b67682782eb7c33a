package partitions

import "testing"

// fragmented returns a subset of n ranges of length 2 spaced by step.
func fragmented(n int, offset, step int64) Subset {
	var b Builder
	for i := int64(0); i < int64(n); i++ {
		b.AddRange(Range{offset + i*step, offset + i*step + 2})
	}
	return b.Subset()
}

func BenchmarkSubset100kFragments(b *testing.B) {
	x := fragmented(100_000, 0, 5)
	y := fragmented(100_000, 1, 5)
	b.Run("union", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = x.Union(y)
		}
	})
	b.Run("intersect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = x.Intersect(y)
		}
	})
	b.Run("difference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = x.Difference(y)
		}
	})
	b.Run("contains", func(b *testing.B) {
		for b.Loop() {
			_ = x.Contains(250_001)
		}
	})
}
