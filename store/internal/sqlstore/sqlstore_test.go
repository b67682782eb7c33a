package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/weir-dev/weir/store"
)

func TestNumberPlaceholders(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT ? , ?", "SELECT $1 , $2"},
		{"SELECT '?' , ?", "SELECT '?' , $1"},
		{"SELECT 'it''s ?', ? FROM \"odd?name\" WHERE x = ?", "SELECT 'it''s ?', $1 FROM \"odd?name\" WHERE x = $2"},
		{"UPDATE t SET a = ?, b = 'x' WHERE c IN (?,?)", "UPDATE t SET a = $1, b = 'x' WHERE c IN ($2,$3)"},
	} {
		if got := numberPlaceholders(tc.in); got != tc.want {
			t.Errorf("numberPlaceholders(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCountCover checks countCover against counting every id: random
// ranges, overlapping and touching, come out as disjoint segments in order
// whose counts are the number of ranges covering each id.
func TestCountCover(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var ranges []store.IDRange
		want := map[int64]int64{}
		for range r.IntN(6) {
			lo := r.Int64N(20)
			hi := lo + r.Int64N(6) - 1 // sometimes empty (hi < lo)
			ranges = append(ranges, store.IDRange{Lo: lo, Hi: hi})
			for id := lo; id <= hi; id++ {
				want[id]++
			}
		}
		got := map[int64]int64{}
		prevHi := int64(-1)
		for _, g := range countCover(ranges) {
			if g.lo <= prevHi || g.hi < g.lo || g.n <= 0 {
				t.Fatalf("countCover(%v): segment %+v after %d", ranges, g, prevHi)
			}
			prevHi = g.hi
			for id := g.lo; id <= g.hi; id++ {
				got[id] = g.n
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("countCover(%v) counts %v, want %v", ranges, got, want)
		}
	}
}
