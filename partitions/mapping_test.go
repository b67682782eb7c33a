package partitions

import (
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// bruteTimeWindow is the reference for TimeWindowMapping: window by window,
// every upstream window that overlaps the widened downstream window.
func bruteTimeWindow(m TimeWindowMapping, down, up *TimeWindow, s Subset, now time.Time) Subset {
	var out Subset
	n := up.Len(now)
	for i := range s.All() {
		from, _ := down.Window(i + m.StartOffset)
		_, to := down.Window(i + m.EndOffset)
		for j := int64(0); j < n; j++ {
			us, ue := up.Window(j)
			if us.Before(to) && ue.After(from) {
				out = out.Union(Of(j))
			}
		}
	}
	return out
}

func TestTimeWindowMappingMatchesBruteForce(t *testing.T) {
	now := time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)
	defs := []*TimeWindow{
		MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2024-03-08", Location: "America/New_York"}),
		MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-03-01", Location: "America/New_York"}),
		MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-03-05", Location: "Europe/Berlin"}),
		MustTimeWindow(TimeWindowOpts{Grain: Weekly, Start: "2024-03-03", Location: "UTC"}),
		MustTimeWindow(TimeWindowOpts{Grain: Monthly, Start: "2024-01", Location: "UTC"}),
	}
	rapid.Check(t, func(t *rapid.T) {
		down := defs[rapid.IntRange(0, len(defs)-1).Draw(t, "down")]
		up := defs[rapid.IntRange(0, len(defs)-1).Draw(t, "up")]
		start := rapid.Int64Range(-8, 1).Draw(t, "start")
		m := TimeWindowMapping{StartOffset: start, EndOffset: start + rapid.Int64Range(0, 3).Draw(t, "width")}
		s, _ := genSubset(t, "s")
		s = s.Clip(0, down.Len(now))
		got, err := m.Upstream(down, up, s, now)
		if err != nil {
			t.Fatal(err)
		}
		if want := bruteTimeWindow(m, down, up, s, now); !got.Equal(want) {
			t.Fatalf("%s from %s to %s of %s: got %s, want %s", m, down, up, s, got, want)
		}
		for _, r := range s.Ranges() {
			rr, ok := m.UpstreamRange(down, up, r, now)
			if want := bruteTimeWindow(m, down, up, Span(r.Lo, r.Hi), now); !ok || !Span(rr.Lo, rr.Hi).Equal(want) {
				t.Fatalf("UpstreamRange(%v) = %v %v, want %s", r, rr, ok, want)
			}
		}
	})
}

func TestTrailingWindowClipsAtStart(t *testing.T) {
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	daily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01", Location: "Europe/Berlin"})
	got, _ := Trailing(7).Upstream(daily, daily, Of(0, 9), now)
	if want := "2024-01-01,2024-01-04...2024-01-10"; Format(daily, got) != want {
		t.Fatalf("got %s, want %s", Format(daily, got), want)
	}
}

func TestKeyMappingsMatchBruteForce(t *testing.T) {
	now := time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	daily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01"})
	regions := MustStatic("eu", "us", "apac")
	markets := MustStatic("de", "fr", "us", "jp")
	multi, _ := NewMulti(Dim{"date", daily}, Dim{"region", regions})
	table := map[string][]string{"eu": {"de", "fr"}, "us": {"us"}, "apac": {"jp"}}
	cases := []struct {
		name     string
		m        Mapping
		down, up Definition
		ref      func(downKey string) []string // the upstream keys of one downstream key
	}{
		{"static map", StaticMapping(table), regions, markets, func(k string) []string { return table[k] }},
		{"multi to date", DimensionMapping{Dim: "date"}, multi, daily, func(k string) []string {
			d, _, _ := strings.Cut(k, "|")
			return []string{d}
		}},
		{"multi to region", DimensionMapping{Dim: "region"}, multi, regions, func(k string) []string {
			_, r, _ := strings.Cut(k, "|")
			return []string{r}
		}},
		{"date to multi", DimensionMapping{Dim: "date"}, daily, multi, func(k string) []string {
			return []string{k + "|eu", k + "|us", k + "|apac"}
		}},
		{"multi to multi trailing", DimensionMapping{Dim: "date", Inner: Trailing(2)}, multi, multi, func(k string) []string {
			d, r, _ := strings.Cut(k, "|")
			i, _ := daily.Index(d)
			out := []string{k}
			if i > 0 {
				out = append(out, daily.Key(i-1)+"|"+r)
			}
			return out
		}},
		{"all", AllPartitions(), regions, daily, func(string) []string { return Keys(daily, All(daily, now)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m.Check(tc.down, tc.up); err != nil {
				t.Fatal(err)
			}
			rapid.Check(t, func(rt *rapid.T) {
				s, _ := genSubset(rt, "s")
				s = s.Clip(0, tc.down.Len(now))
				got, err := tc.m.Upstream(tc.down, tc.up, s, now)
				if err != nil {
					rt.Fatal(err)
				}
				var want []string
				for i := range s.All() {
					want = append(want, tc.ref(tc.down.Key(i))...)
				}
				ws, err := FromKeys(tc.up, want, now)
				if err != nil {
					rt.Fatal(err)
				}
				if !got.Equal(ws) {
					rt.Fatalf("%s of %s: got %s, want %s", tc.m, Format(tc.down, s), Format(tc.up, got), Format(tc.up, ws))
				}
			})
		})
	}
}

func TestDefaultMapping(t *testing.T) {
	daily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01"})
	hourly := MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2024-01-01"})
	regions := MustStatic("eu", "us")
	for _, tc := range []struct {
		down, up Definition
		want     string
	}{
		{daily, daily, "identity"},
		{daily, hourly, "time window"},
		{daily, Unpartitioned(), "all partitions"},
		{Unpartitioned(), daily, "all partitions"},
		{daily, regions, "error"},
	} {
		m, err := DefaultMapping(tc.down, tc.up)
		got := "error"
		if err == nil {
			got = m.String()
		}
		if got != tc.want {
			t.Errorf("DefaultMapping(%s, %s) = %s (%v), want %s", tc.down, tc.up, got, err, tc.want)
		}
	}
}
