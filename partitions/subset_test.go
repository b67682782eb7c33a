package partitions

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// naive is the reference: a plain set of indexes.
type naive map[int64]bool

func (n naive) sorted() []int64 {
	out := make([]int64, 0, len(n))
	for k := range n {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func genSubset(t *rapid.T, label string) (Subset, naive) {
	ranges := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Range {
		lo := rapid.Int64Range(-20, 60).Draw(t, "lo")
		return Range{lo, lo + rapid.Int64Range(-2, 12).Draw(t, "len")}
	}), 0, 8).Draw(t, label)
	n := naive{}
	for _, r := range ranges {
		for i := r.Lo; i < r.Hi; i++ {
			n[i] = true
		}
	}
	return FromRanges(ranges...), n
}

func checkSame(t *rapid.T, what string, s Subset, n naive) {
	got := slices.Collect(s.All())
	if want := n.sorted(); !slices.Equal(got, want) {
		t.Fatalf("%s: got %v (%s), want %v", what, got, s, want)
	}
	if s.Len() != int64(len(n)) {
		t.Fatalf("%s: Len %d, want %d", what, s.Len(), len(n))
	}
	rs := s.Ranges()
	for i := range rs {
		if rs[i].Hi <= rs[i].Lo || (i > 0 && rs[i].Lo <= rs[i-1].Hi) {
			t.Fatalf("%s: ranges not normalized: %v", what, rs)
		}
	}
}

func TestSubsetAlgebraMatchesNaiveSets(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, na := genSubset(t, "a")
		b, nb := genSubset(t, "b")
		checkSame(t, "a", a, na)
		union, inter, diff := naive{}, naive{}, naive{}
		for k := range na {
			union[k] = true
			if nb[k] {
				inter[k] = true
			} else {
				diff[k] = true
			}
		}
		for k := range nb {
			union[k] = true
		}
		checkSame(t, "union", a.Union(b), union)
		checkSame(t, "intersect", a.Intersect(b), inter)
		checkSame(t, "difference", a.Difference(b), diff)
		for i := int64(-25); i < 80; i++ {
			if a.Contains(i) != na[i] {
				t.Fatalf("Contains(%d) = %v", i, a.Contains(i))
			}
		}
		if a.ContainsAll(b) != (len(nb) == len(inter)) {
			t.Fatalf("ContainsAll wrong for %s ⊇ %s", a, b)
		}
		if a.Meets(b) != (len(inter) > 0) {
			t.Fatalf("Meets(%s, %s) = %v", a, b, a.Meets(b))
		}
		lo := rapid.Int64Range(-25, 80).Draw(t, "lo")
		r := Range{lo, lo + rapid.Int64Range(-2, 12).Draw(t, "len")}
		overlaps := false
		for i := r.Lo; i < r.Hi; i++ {
			overlaps = overlaps || na[i]
		}
		if a.Overlaps(r) != overlaps {
			t.Fatalf("%s.Overlaps(%v) = %v", a, r, a.Overlaps(r))
		}
		// Builder in ascending order of single indexes gives the same set.
		var bl Builder
		for _, k := range na.sorted() {
			bl.Add(k)
		}
		checkSame(t, "builder", bl.Subset(), na)
		// Chunks cover the set exactly, each at most n long.
		n := rapid.Int64Range(1, 5).Draw(t, "chunk")
		var c Builder
		for r := range a.Chunks(n) {
			if r.Len() > n || r.Len() < 1 {
				t.Fatalf("chunk %v longer than %d", r, n)
			}
			c.AddRange(r)
		}
		checkSame(t, "chunks", c.Subset(), na)
	})
}

func TestFormatParseRoundTrip(t *testing.T) {
	def := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01", End: "2024-04-01"})
	now := mustTime(t, "2025-01-01T00:00:00Z")
	rapid.Check(t, func(rt *rapid.T) {
		s, _ := genSubset(rt, "s")
		s = s.Clip(0, def.Len(now))
		if s.IsEmpty() {
			return
		}
		got, err := Parse(def, Format(def, s), now)
		if err != nil {
			rt.Fatal(err)
		}
		if !got.Equal(s) {
			rt.Fatalf("round trip of %q: %s, want %s", Format(def, s), got, s)
		}
	})
}

func TestTenYearsOfHoursIsOneRange(t *testing.T) {
	s := Span(0, 87600)
	s = s.Union(Span(100, 200)).Difference(Span(87600, 90000))
	if len(s.Ranges()) != 1 || s.Len() != 87600 {
		t.Fatalf("got %s", s)
	}
}
