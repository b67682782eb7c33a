package partitions

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestHourlyAcrossDSTInNewYork(t *testing.T) {
	hourly := MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2024-01-01", Location: "America/New_York"})
	daily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01", Location: "America/New_York"})
	now := mustTime(t, "2025-01-01T00:00:00Z")
	for _, tc := range []struct {
		day   string
		hours int64
	}{
		{"2024-03-09", 24},
		{"2024-03-10", 23}, // spring forward: 02:00 does not exist
		{"2024-11-03", 25}, // fall back: 01:00 happens twice
		{"2024-11-04", 24},
	} {
		t.Run(tc.day, func(t *testing.T) {
			d, err := Resolve(daily, tc.day, now)
			if err != nil {
				t.Fatal(err)
			}
			hours, err := TimeWindowMapping{}.Upstream(daily, hourly, Of(d), now)
			if err != nil {
				t.Fatal(err)
			}
			if hours.Len() != tc.hours {
				t.Fatalf("day %s has %d hourly partitions, want %d: %s", tc.day, hours.Len(), tc.hours, Format(hourly, hours))
			}
			seen := map[string]bool{}
			for i := range hours.All() {
				k := hourly.Key(i)
				if seen[k] {
					t.Fatalf("duplicate key %s", k)
				}
				seen[k] = true
				if j, err := hourly.Index(k); err != nil || j != i {
					t.Fatalf("Index(%q) = %d, %v; want %d", k, j, err, i)
				}
				if !strings.HasPrefix(k, tc.day) {
					t.Fatalf("hour %s is not on %s", k, tc.day)
				}
				// hourly -> daily maps every hour back to its day.
				back, err := TimeWindowMapping{}.Upstream(hourly, daily, Of(i), now)
				if err != nil || !back.Equal(Of(d)) {
					t.Fatalf("hour %s maps to %s (%v), want day %s", k, Format(daily, back), err, tc.day)
				}
			}
		})
	}
	// The two 01:00 hours of 2024-11-03 have distinct keys.
	for _, k := range []string{"2024-11-03T01:00-04:00", "2024-11-03T01:00-05:00"} {
		if _, err := Resolve(hourly, k, now); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	// 02:00 on 2024-03-10 does not exist; the same instant written with the
	// old offset is not canonical.
	_, err := Resolve(hourly, "2024-03-10T02:00-05:00", now)
	if err == nil || !strings.Contains(err.Error(), `"2024-03-10T03:00-04:00"`) {
		t.Errorf("non-canonical hour: got %v", err)
	}
}

func TestTimeWindowKeysRoundTrip(t *testing.T) {
	now := mustTime(t, "2300-01-01T00:00:00Z")
	for _, opts := range []TimeWindowOpts{
		{Grain: Hourly, Start: "2023-12-31T22:00", Location: "Europe/Berlin"},
		{Grain: Hourly, Start: "2024-01-01", Location: "Australia/Lord_Howe"},
		{Grain: Daily, Start: "2024-01-01", Location: "America/Sao_Paulo"},
		{Grain: Weekly, Start: "2024-01-01", WeekStart: time.Monday, Location: "Asia/Kolkata"},
		{Grain: Monthly, Start: "2023-11", Location: "UTC"},
	} {
		def := MustTimeWindow(opts)
		prevEnd := time.Time{}
		for i := int64(0); i < 3000; i += 1 {
			k := def.Key(i)
			j, err := Resolve(def, k, now)
			if err != nil || j != i {
				t.Fatalf("%s: Resolve(Key(%d)=%q) = %d, %v", def, i, k, j, err)
			}
			s, e := def.Window(i)
			if !prevEnd.IsZero() && !s.Equal(prevEnd) {
				t.Fatalf("%s: window %d starts %s, previous ended %s", def, i, s, prevEnd)
			}
			if def.Containing(s) != i || def.Containing(e.Add(-time.Nanosecond)) != i {
				t.Fatalf("%s: Containing disagrees with Window for %d", def, i)
			}
			prevEnd = e
		}
	}
}

func TestBadKeysAndOptions(t *testing.T) {
	daily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01", Location: "Europe/Berlin"})
	now := mustTime(t, "2024-06-01T12:00:00Z")
	for _, tc := range []struct{ key, want string }{
		{"2024-02-30", `partition key "2024-02-30" is not a day like 2024-01-01: day out of range`},
		{"../../etc", `partition key "../../etc" contains a path separator`},
		{"a\x00b", "NUL"},
		{"2023-12-31", "is before the first partition 2024-01-01"},
		{"2024-06-01", `is after the last partition "2024-05-31"`},
		{"2024-1-1", "is not a day"},
		{"", "is empty"},
	} {
		_, err := Resolve(daily, tc.key, now)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Resolve(%q) = %v, want error containing %q", tc.key, err, tc.want)
		}
	}
	if _, err := Parse(daily, "2024-01-10...2024-01-01", now); err == nil || !strings.Contains(err.Error(), "reversed") {
		t.Errorf("reversed range: %v", err)
	}
	for _, tc := range []struct {
		opts TimeWindowOpts
		want string
	}{
		{TimeWindowOpts{Grain: Daily, Start: "2024-01-01", Location: "Mars/Olympus"}, `time zone "Mars/Olympus" is not an IANA time zone`},
		{TimeWindowOpts{Grain: Daily, Start: "2024-13-01"}, `start "2024-13-01" is not a date`},
		{TimeWindowOpts{Grain: Weekly, Start: "2024-01-02", WeekStart: time.Monday}, "is a Tuesday, but weeks start on Monday"},
		{TimeWindowOpts{Grain: Hourly, Start: "2024-03-10T02:00", Location: "America/New_York"}, "does not exist"},
		{TimeWindowOpts{Grain: Daily, Start: "2024-01-02", End: "2024-01-01"}, "is not after start"},
		{TimeWindowOpts{Start: "2024-01-01"}, "grain 0"},
	} {
		if _, err := NewTimeWindow(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewTimeWindow(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestOpenEndedGrowsWithNow(t *testing.T) {
	daily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01", Location: "America/New_York"})
	// 2024-01-03 04:59Z is 2024-01-02 23:59 in New York: one complete day.
	if n := daily.Len(mustTime(t, "2024-01-03T04:59:00Z")); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
	if n := daily.Len(mustTime(t, "2024-01-03T05:00:00Z")); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	if n := daily.Len(mustTime(t, "2020-01-01T00:00:00Z")); n != 0 {
		t.Fatalf("Len before start = %d", n)
	}
}
