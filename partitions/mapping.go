package partitions

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Mapping says which partitions of an upstream asset a set of partitions of
// a downstream asset reads. Mappings work on whole subsets.
type Mapping interface {
	// Check reports whether the mapping can map from down to up.
	Check(down, up Definition) error
	// Upstream returns the partitions of up that the partitions s of down
	// read, limited to the partitions of up that exist at now.
	Upstream(down, up Definition, s Subset, now time.Time) (Subset, error)
	// String describes the mapping, e.g. "trailing 7".
	String() string
}

// RangeMapper is implemented by mappings that map a consecutive range of
// downstream partitions to one consecutive range of upstream partitions.
// UpstreamRange is Upstream for one range, without allocating; ok is false
// when the mapping cannot answer for this pair of definitions, and callers
// fall back to Upstream.
type RangeMapper interface {
	UpstreamRange(down, up Definition, r Range, now time.Time) (mapped Range, ok bool)
}

// DefaultMapping returns the mapping weir uses for a dependency declared
// without one: every partition for an unpartitioned upstream or downstream,
// identity for the same definition, and the time-window mapping between two
// time-window definitions (which also maps between grains). Other pairs need
// an explicit mapping and get an error.
func DefaultMapping(down, up Definition) (Mapping, error) {
	switch {
	case IsUnpartitioned(up) || IsUnpartitioned(down):
		return AllPartitions(), nil
	case Same(down, up):
		return Identity(), nil
	}
	_, dt := down.(*TimeWindow)
	_, ut := up.(*TimeWindow)
	if dt && ut {
		return TimeWindowMapping{}, nil
	}
	return nil, fmt.Errorf("partitions %q and %q differ and no partition mapping is declared; use partitions.Identity for equal keys, AllPartitions, StaticMapping or DimensionMapping", down, up)
}

// Identity maps each partition to the partition of up with the same key.
// Between time windows of different start, grain or zone, it maps by time
// (see TimeWindowMapping).
func Identity() Mapping { return identity{} }

type identity struct{}

func (identity) String() string { return "identity" }

func (identity) Check(down, up Definition) error {
	if Same(down, up) {
		return nil
	}
	_, dt := down.(*TimeWindow)
	_, ut := up.(*TimeWindow)
	_, dm := down.(*Multi)
	_, um := up.(*Multi)
	if (dt && ut) || (!dt && !ut && !dm && !um) {
		return nil
	}
	return fmt.Errorf("identity mapping from %q to %q: the definitions have different kinds of keys", down, up)
}

func (m identity) Upstream(down, up Definition, s Subset, now time.Time) (Subset, error) {
	if Same(down, up) {
		return s.Clip(0, up.Len(now)), nil
	}
	if dw, ok := down.(*TimeWindow); ok {
		if uw, ok := up.(*TimeWindow); ok {
			return TimeWindowMapping{}.upstream(dw, uw, s, now), nil
		}
	}
	if err := m.Check(down, up); err != nil {
		return Subset{}, err
	}
	// Static or dynamic keys: map key by key (these are small).
	var b Builder
	n := up.Len(now)
	for i := range s.All() {
		if j, err := up.Index(down.Key(i)); err == nil && j < n {
			b.Add(j)
		}
	}
	return b.Subset(), nil
}

// UpstreamRange maps r between equal definitions or time windows.
func (identity) UpstreamRange(down, up Definition, r Range, now time.Time) (Range, bool) {
	if Same(down, up) {
		return clipRange(r, up.Len(now)), true
	}
	return TimeWindowMapping{}.UpstreamRange(down, up, r, now)
}

func clipRange(r Range, n int64) Range {
	r.Lo, r.Hi = max(r.Lo, 0), min(r.Hi, n)
	if r.Hi < r.Lo {
		r.Hi = r.Lo
	}
	return r
}

// AllPartitions maps any non-empty set of partitions to every partition of
// up, e.g. a daily asset that reads a whole lookup table.
func AllPartitions() Mapping { return allPartitions{} }

type allPartitions struct{}

func (allPartitions) String() string                  { return "all partitions" }
func (allPartitions) Check(down, up Definition) error { return nil }
func (allPartitions) Upstream(down, up Definition, s Subset, now time.Time) (Subset, error) {
	if s.IsEmpty() {
		return Subset{}, nil
	}
	return All(up, now), nil
}

// TimeWindowMapping maps a downstream time window to the upstream windows
// that overlap it, after widening it by StartOffset and EndOffset downstream
// windows. The zero value maps each window to the overlapping windows;
// between hourly and coarser windows, an hour belongs to the one window its
// start falls in, so it maps hourly to daily (the day containing the hour's
// start) and daily to hourly (the 23, 24 or 25 hours that start in the day),
// also where hours are not aligned with local midnight. Upstream windows before the
// upstream's first partition are dropped: the trailing 7 days of the first
// day is that day alone.
type TimeWindowMapping struct {
	// StartOffset moves the start of the window, in downstream windows;
	// -6 with a daily downstream also reads the 6 days before.
	StartOffset int64
	// EndOffset moves the end of the window, in downstream windows.
	EndOffset int64
}

// Trailing returns the mapping to the n windows ending at (and including)
// each downstream window, e.g. Trailing(7) for a 7-day rolling sum.
func Trailing(n int64) TimeWindowMapping { return TimeWindowMapping{StartOffset: -(n - 1)} }

// Offset returns the mapping to the window k windows away (k = -1: the
// previous window).
func Offset(k int64) TimeWindowMapping { return TimeWindowMapping{StartOffset: k, EndOffset: k} }

func (m TimeWindowMapping) String() string {
	switch {
	case m.StartOffset == 0 && m.EndOffset == 0:
		return "time window"
	case m.EndOffset == 0 && m.StartOffset < 0:
		return fmt.Sprintf("trailing %d", 1-m.StartOffset)
	}
	return fmt.Sprintf("time window offset [%d,%d]", m.StartOffset, m.EndOffset)
}

// Check requires time windows on both sides and offsets that keep the
// window non-empty.
func (m TimeWindowMapping) Check(down, up Definition) error {
	_, dt := down.(*TimeWindow)
	_, ut := up.(*TimeWindow)
	if !dt || !ut {
		return fmt.Errorf("time-window mapping %s from %q to %q: both sides must be time-window partitions", m, down, up)
	}
	if m.StartOffset > m.EndOffset {
		return fmt.Errorf("time-window mapping: start offset %d is after end offset %d", m.StartOffset, m.EndOffset)
	}
	return nil
}

// Upstream maps s range by range.
func (m TimeWindowMapping) Upstream(down, up Definition, s Subset, now time.Time) (Subset, error) {
	if err := m.Check(down, up); err != nil {
		return Subset{}, err
	}
	return m.upstream(down.(*TimeWindow), up.(*TimeWindow), s, now), nil
}

func (m TimeWindowMapping) upstream(down, up *TimeWindow, s Subset, now time.Time) Subset {
	var b Builder
	n := up.Len(now)
	for _, r := range s.ranges {
		b.AddRange(m.mapRange(down, up, r, n))
	}
	return b.Subset()
}

func (m TimeWindowMapping) mapRange(down, up *TimeWindow, r Range, n int64) Range {
	from, _ := down.Window(r.Lo + m.StartOffset)
	lastFrom, to := down.Window(r.Hi - 1 + m.EndOffset)
	var out Range
	switch {
	case up.grain == Hourly && down.grain != Hourly:
		// A day (week, month) reads the hours that start in it: where
		// hours are not aligned with local midnight (a half-hour offset),
		// the hour across midnight belongs to the day it starts in only.
		out = Range{up.firstStarting(from), up.firstStarting(to)}
	case down.grain == Hourly && up.grain != Hourly:
		// An hour reads the one day (week, month) its start falls in.
		out = Range{up.Containing(from), up.Containing(lastFrom) + 1}
	default:
		out = up.Overlapping(from, to)
	}
	return clipRange(out, n)
}

// UpstreamRange maps r between two time-window definitions.
func (m TimeWindowMapping) UpstreamRange(down, up Definition, r Range, now time.Time) (Range, bool) {
	dw, ok1 := down.(*TimeWindow)
	uw, ok2 := up.(*TimeWindow)
	if !ok1 || !ok2 || r.Len() == 0 || m.StartOffset > m.EndOffset {
		return Range{}, false
	}
	return m.mapRange(dw, uw, r, uw.Len(now)), true
}

// StaticMapping maps downstream keys to upstream keys by a table. A
// downstream key missing from the table reads nothing.
func StaticMapping(table map[string][]string) Mapping {
	cp := make(map[string][]string, len(table))
	for k, v := range table {
		cp[k] = append([]string(nil), v...)
	}
	return staticMapping(cp)
}

type staticMapping map[string][]string

func (m staticMapping) String() string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("static map {")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", k, strings.Join(m[k], " "))
	}
	b.WriteString("}")
	return b.String()
}

func (m staticMapping) Check(down, up Definition) error {
	for dk, uks := range m {
		if _, err := down.Index(dk); err != nil {
			return fmt.Errorf("static mapping: downstream %w", err)
		}
		for _, uk := range uks {
			if _, err := up.Index(uk); err != nil {
				return fmt.Errorf("static mapping: upstream of %q: %w", dk, err)
			}
		}
	}
	return nil
}

func (m staticMapping) Upstream(down, up Definition, s Subset, now time.Time) (Subset, error) {
	var b Builder
	n := up.Len(now)
	for i := range s.All() {
		for _, uk := range m[down.Key(i)] {
			j, err := up.Index(uk)
			if err != nil {
				return Subset{}, fmt.Errorf("static mapping: %w", err)
			}
			if j < n {
				b.Add(j)
			}
		}
	}
	return b.Subset(), nil
}

// DimensionMapping maps through one named dimension of a multi-dimensional
// definition with Inner (Identity when nil):
//   - downstream multi, upstream one-dimensional: the upstream partitions
//     that Inner maps the downstream's Dim keys to;
//   - downstream one-dimensional, upstream multi: every upstream partition
//     whose Dim key Inner maps to, with any key of the other dimension;
//   - both multi with the same other dimension: Dim through Inner, the other
//     dimension key for key.
type DimensionMapping struct {
	Dim   string
	Inner Mapping
}

func (m DimensionMapping) inner() Mapping {
	if m.Inner == nil {
		return Identity()
	}
	return m.Inner
}

func (m DimensionMapping) String() string {
	return fmt.Sprintf("dimension %s: %s", m.Dim, m.inner())
}

func (m DimensionMapping) Check(down, up Definition) error {
	dm, dIsMulti := down.(*Multi)
	um, uIsMulti := up.(*Multi)
	switch {
	case dIsMulti && !uIsMulti:
		d, err := dm.DimIndex(m.Dim)
		if err != nil {
			return err
		}
		return m.inner().Check(dm.dims[d].Def, up)
	case !dIsMulti && uIsMulti:
		u, err := um.DimIndex(m.Dim)
		if err != nil {
			return err
		}
		return m.inner().Check(down, um.dims[u].Def)
	case dIsMulti && uIsMulti:
		d, err := dm.DimIndex(m.Dim)
		if err != nil {
			return err
		}
		u, err := um.DimIndex(m.Dim)
		if err != nil {
			return err
		}
		if d != u || !Same(dm.dims[1-d].Def, um.dims[1-u].Def) {
			return fmt.Errorf("dimension mapping %s: %q and %q must share the other dimension in the same place", m.Dim, down, up)
		}
		return m.inner().Check(dm.dims[d].Def, um.dims[u].Def)
	}
	return fmt.Errorf("dimension mapping %s: neither %q nor %q is multi-dimensional", m.Dim, down, up)
}

func (m DimensionMapping) Upstream(down, up Definition, s Subset, now time.Time) (Subset, error) {
	if err := m.Check(down, up); err != nil {
		return Subset{}, err
	}
	dm, dIsMulti := down.(*Multi)
	um, uIsMulti := up.(*Multi)
	switch {
	case dIsMulti && !uIsMulti:
		d, _ := dm.DimIndex(m.Dim)
		return m.inner().Upstream(dm.dims[d].Def, up, dm.Project(s, d), now)
	case !dIsMulti && uIsMulti:
		u, _ := um.DimIndex(m.Dim)
		mapped, err := m.inner().Upstream(down, um.dims[u].Def, s, now)
		if err != nil {
			return Subset{}, err
		}
		return um.Expand(mapped, u, nil, now).Clip(0, up.Len(now)), nil
	default:
		d, _ := dm.DimIndex(m.Dim)
		// Map each value of the other dimension on its own: the mapped
		// dimension may differ per key of the other one.
		var out Subset
		for o := range dm.Project(s, 1-d).All() {
			one := s.Intersect(dm.Expand(Of(o), 1-d, nil, now))
			mapped, err := m.inner().Upstream(dm.dims[d].Def, um.dims[d].Def, dm.Project(one, d), now)
			if err != nil {
				return Subset{}, err
			}
			other := Of(o)
			out = out.Union(um.Expand(mapped, d, &other, now))
		}
		return out.Clip(0, up.Len(now)), nil
	}
}
