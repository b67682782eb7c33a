package api

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
)

// BarSpan is a run of partitions drawn in one state: indexes From to To
// (exclusive), keys First to Last.
type BarSpan struct {
	State string `json:"state"`
	From  int64  `json:"from"`
	To    int64  `json:"to"`
	First string `json:"first"`
	Last  string `json:"last"`
	// Mixed: the span holds partitions in more than one state (the window
	// has more runs than the bar has room for) and State is the most
	// urgent of them: failed, running, stale, missing, fresh.
	Mixed bool `json:"mixed,omitempty"`
}

// barStates are the states a bar shows, the most urgent first: a
// partition in two (failed and missing) is drawn in the first.
var barStates = []string{"failed", "running", "stale", "missing", "fresh"}

// barWindow is the part of an asset's partitions a bar shows, by index,
// and how many spans at most.
type barWindow struct {
	from, to int64 // to 0: to the last partition
	width    int
}

// barWindowOf reads ?bar_from, ?bar_to and ?bar_width, answering 400 for
// a bad one.
func barWindowOf(w http.ResponseWriter, r *http.Request) (barWindow, bool) {
	from, ok := queryInt(w, r, "bar_from", 0, 0, 1<<53)
	if !ok {
		return barWindow{}, false
	}
	to, ok := queryInt(w, r, "bar_to", 0, 0, 1<<53)
	if !ok {
		return barWindow{}, false
	}
	width, ok := queryInt(w, r, "bar_width", 1000, 1, 5000)
	if !ok {
		return barWindow{}, false
	}
	return barWindow{from: int64(from), to: int64(to), width: width}, true
}

// barOf returns h's health bar over the window: one span per run of
// partitions in one state while they fit in win.width, else win.width
// equal buckets, each drawn in the most urgent state it holds (adjacent
// buckets alike merged). Its length is bounded by the width, whatever
// the partitions' pattern (alternate failures included).
func barOf(h plan.Health, total int64, win barWindow) []BarSpan {
	to := total
	if win.to > 0 && win.to < total {
		to = win.to
	}
	from := min(win.from, to)
	exact := []BarSpan{}
	left := partitions.Span(from, to)
	of := map[string]partitions.Subset{"failed": h.Failed, "running": h.Running, "stale": h.Stale, "missing": h.Missing, "fresh": h.Fresh}
	for _, st := range barStates {
		for _, r := range left.Intersect(of[st]).Ranges() {
			exact = append(exact, BarSpan{State: st, From: r.Lo, To: r.Hi})
		}
		left = left.Difference(of[st])
	}
	sortSpans(exact)
	out := exact
	if width := int64(max(win.width, 1)); int64(len(exact)) > width {
		out = bucket(exact, from, to, width)
	}
	for i := range out {
		out[i].First, out[i].Last = h.Def.Key(out[i].From), h.Def.Key(out[i].To-1)
	}
	return out
}

// bucket draws spans, sorted and covering from to to, in width buckets.
func bucket(spans []BarSpan, from, to, width int64) []BarSpan {
	size := (to - from + width - 1) / width
	rank := map[string]int{}
	for i, st := range barStates {
		rank[st] = i
	}
	var out []BarSpan
	i := 0
	for lo := from; lo < to; lo += size {
		hi := min(lo+size, to)
		for i < len(spans) && spans[i].To <= lo {
			i++
		}
		worst, mixed := "", false
		for j := i; j < len(spans) && spans[j].From < hi; j++ {
			st := spans[j].State
			switch {
			case worst == "":
				worst = st
			case st != worst:
				mixed = true
				if rank[st] < rank[worst] {
					worst = st
				}
			}
		}
		if n := len(out); n > 0 && out[n-1].State == worst && out[n-1].Mixed == mixed {
			out[n-1].To = hi
			continue
		}
		out = append(out, BarSpan{State: worst, From: lo, To: hi, Mixed: mixed})
	}
	return out
}

// sortSpans sorts spans, which never overlap, by position.
func sortSpans(s []BarSpan) {
	slices.SortFunc(s, func(a, b BarSpan) int { return cmp.Compare(a.From, b.From) })
}
