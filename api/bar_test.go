package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
)

// TestBarIsBoundedByItsWidth: a bar of 87,600 hourly partitions, every
// other one failed (87,600 runs), is at most its width in spans, each
// drawn in the most urgent state it holds; a narrow window of it is
// exact again; spans cover the window without gaps.
func TestBarIsBoundedByItsWidth(t *testing.T) {
	hours := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Hourly, Start: "2015-01-01", Location: "UTC"})
	const total = 87_600
	var failed partitions.Builder
	for i := int64(0); i < total; i += 2 {
		failed.Add(i)
	}
	all := partitions.Span(0, total)
	h := plan.Health{Def: hours, Failed: failed.Subset(), Missing: all.Difference(partitions.Span(50_000, 50_010)),
		Fresh: partitions.Span(50_000, 50_010)}
	cover := func(bar []BarSpan, from, to int64) {
		t.Helper()
		at := from
		for _, b := range bar {
			if b.From != at || b.To <= b.From {
				t.Fatalf("span %+v after %d: a gap or an overlap", b, at)
			}
			at = b.To
		}
		if at != to {
			t.Fatalf("spans end at %d, want %d", at, to)
		}
	}

	bar := barOf(h, total, barWindow{width: 1000})
	if len(bar) > 1000 {
		t.Fatalf("%d spans for a bar 1000 wide", len(bar))
	}
	cover(bar, 0, total)
	if bar[0].State != "failed" || !bar[0].Mixed || bar[0].First != hours.Key(0) {
		t.Errorf("first span %+v: want failed (the most urgent), mixed", bar[0])
	}

	// Zoomed in on 20 hours: exact runs again, the fresh ones among them.
	bar = barOf(h, total, barWindow{from: 49_995, to: 50_015, width: 1000})
	cover(bar, 49_995, 50_015)
	var got []string
	for _, b := range bar {
		got = append(got, fmt.Sprintf("%s %d-%d", b.State, b.From, b.To))
	}
	if want := "missing 49995-49996 failed 49996-49997 missing 49997-49998 failed 49998-49999 missing 49999-50000 failed 50000-50001 fresh 50001-50002"; !strings.HasPrefix(strings.Join(got, " "), want) {
		t.Errorf("window:\n%s\nwant it to start\n%s", strings.Join(got, " "), want)
	}
	for _, b := range bar {
		if b.Mixed {
			t.Errorf("exact span %+v marked mixed", b)
		}
	}
}
