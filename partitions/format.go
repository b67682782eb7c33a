package partitions

import (
	"fmt"
	"strings"
	"time"
)

// RangeSep separates the first and last key of a range in the compact form.
const RangeSep = rangeSep

// Format prints s in the compact form: ranges of consecutive partitions as
// "first...last" (both included), single partitions as their key, joined by
// ",": "2024-01-01...2024-01-31,2024-03-01".
func Format(def Definition, s Subset) string {
	var b strings.Builder
	for i, r := range s.ranges {
		if i > 0 {
			b.WriteString(listSep)
		}
		b.WriteString(def.Key(r.Lo))
		if r.Hi-r.Lo > 1 {
			b.WriteString(rangeSep)
			b.WriteString(def.Key(r.Hi - 1))
		}
	}
	return b.String()
}

// FormatRange prints the range r of def as Format does.
func FormatRange(def Definition, r Range) string { return Format(def, Span(r.Lo, r.Hi)) }

// Parse reads the compact form that Format prints, resolving every key at
// now. A reversed range is an error.
func Parse(def Definition, s string, now time.Time) (Subset, error) {
	if strings.TrimSpace(s) == "" {
		return Subset{}, fmt.Errorf("empty partition list; want keys or ranges such as %q", ExampleRange(def, now))
	}
	var b Builder
	for _, part := range strings.Split(s, listSep) {
		first, last, isRange := strings.Cut(part, rangeSep)
		lo, err := Resolve(def, first, now)
		if err != nil {
			return Subset{}, err
		}
		hi := lo
		if isRange {
			if hi, err = Resolve(def, last, now); err != nil {
				return Subset{}, err
			}
			if hi < lo {
				return Subset{}, fmt.Errorf("partition range %q is reversed: %q comes after %q; write %s%s%s", part, first, last, last, rangeSep, first)
			}
		}
		b.AddRange(Range{lo, hi + 1})
	}
	return b.Subset(), nil
}

// ExampleRange returns a range of def's latest (up to 7) partitions at now,
// in the compact form, for help and error messages.
func ExampleRange(def Definition, now time.Time) string {
	n := def.Len(now)
	switch {
	case n == 0:
		return "FIRST" + rangeSep + "LAST"
	case n == 1:
		return def.Key(0)
	}
	return def.Key(max(0, n-7)) + rangeSep + def.Key(n-1)
}

// Summary is a set of partitions as people read it: how many, and their
// compact form ("2024-01-01...2024-01-31,2024-03-01"; "-" for none is the
// reader's choice).
type Summary struct {
	Count  int64  `json:"count"`
	Ranges string `json:"ranges"`
}

// Summarize returns s's summary in def's keys.
func Summarize(def Definition, s Subset) Summary {
	return Summary{Count: s.Len(), Ranges: Format(def, s)}
}
