package partitions

import "time"

// Downstream returns the partitions of down that read at least one of the
// partitions up of up through m: the inverse of m.Upstream, over the
// partitions of down that exist at now. It asks m about each partition of
// down in turn (UpstreamRange where m answers it), so it costs a pass over
// down's partitions.
func Downstream(m Mapping, down, up Definition, upstream Subset, now time.Time) (Subset, error) {
	var b Builder
	if upstream.IsEmpty() {
		return b.Subset(), nil
	}
	rm, ranged := m.(RangeMapper)
	n := down.Len(now)
	for d := int64(0); d < n; d++ {
		if ranged {
			if r, ok := rm.UpstreamRange(down, up, Range{d, d + 1}, now); ok {
				if upstream.Overlaps(r) {
					b.Add(d)
				}
				continue
			}
		}
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
