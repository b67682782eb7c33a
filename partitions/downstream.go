package partitions

import (
	"sort"
	"time"
)

// Downstream returns the partitions of down that read at least one of the
// partitions up of up through m: the inverse of m.Upstream, over the
// partitions of down that exist at now.
//
// Where m maps ranges (RangeMapper: identity and time windows), the range a
// downstream partition reads moves forward with it (both ends
// non-decreasing, and never empty between the ends of up), so the
// downstream partitions meeting an upstream range are one run of them,
// found by two binary searches: the cost is the number of upstream ranges
// times log n, not n. Other mappings are asked about each partition of down
// in turn.
func Downstream(m Mapping, down, up Definition, upstream Subset, now time.Time) (Subset, error) {
	var b Builder
	if upstream.IsEmpty() {
		return b.Subset(), nil
	}
	n := down.Len(now)
	if rm, ok := m.(RangeMapper); ok && n > 0 {
		// Whether m answers depends on the definitions, not the partition.
		if _, ok := rm.UpstreamRange(down, up, Range{0, 1}, now); ok {
			reads := func(d int64) Range {
				r, _ := rm.UpstreamRange(down, up, Range{d, d + 1}, now)
				return r
			}
			for _, u := range upstream.Ranges() {
				// The first partition whose range ends after u starts, and
				// the first whose range starts at or after u's end.
				lo := sort.Search(int(n), func(d int) bool { return reads(int64(d)).Hi > u.Lo })
				hi := sort.Search(int(n), func(d int) bool { return reads(int64(d)).Lo >= u.Hi })
				b.AddRange(Range{int64(lo), int64(hi)})
			}
			return b.Subset(), nil
		}
	}
	for d := int64(0); d < n; d++ {
		need, err := m.Upstream(down, up, Of(d), now)
		if err != nil {
			return Subset{}, err
		}
		if upstream.Meets(need) {
			b.Add(d)
		}
	}
	return b.Subset(), nil
}
