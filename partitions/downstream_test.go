package partitions

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestDownstreamInvertsUpstream: d is downstream of U exactly when the
// partitions d reads meet U, for time windows (trailing, hourly to daily
// and back) and key mappings.
func TestDownstreamInvertsUpstream(t *testing.T) {
	now := time.Date(2024, 3, 20, 0, 0, 0, 0, time.UTC)
	hourly := MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2024-03-08", Location: "America/New_York"})
	daily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-03-01", Location: "America/New_York"})
	regions := MustStatic("eu", "us", "apac")
	toHours, _ := DefaultMapping(daily, hourly)
	toDays, _ := DefaultMapping(hourly, daily)
	// Upstream starting after downstream: the first days read nothing.
	lateDaily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-03-05", Location: "America/New_York"})
	// A half-hour offset: hours are not aligned with local midnight.
	kolkataHourly := MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2024-03-08", Location: "Asia/Kolkata"})
	utcDaily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-03-01", Location: "UTC"})
	kolkataToDays, _ := DefaultMapping(kolkataHourly, utcDaily)
	daysToKolkata, _ := DefaultMapping(utcDaily, kolkataHourly)
	weekly := MustTimeWindow(TimeWindowOpts{Grain: Weekly, Start: "2024-02-25", Location: "America/New_York"})
	cases := []struct {
		m        Mapping
		down, up Definition
	}{
		{Identity(), daily, daily},
		{Trailing(7), daily, daily},
		{Trailing(24), hourly, hourly},
		{Offset(-1), daily, daily},
		{Offset(2), daily, daily},
		{toHours, daily, hourly},
		{toDays, hourly, daily},
		{Identity(), daily, lateDaily},
		{Trailing(3), daily, lateDaily},
		{Identity(), lateDaily, daily},
		{kolkataToDays, kolkataHourly, utcDaily},
		{daysToKolkata, utcDaily, kolkataHourly},
		{Identity(), weekly, daily},
		{Identity(), daily, weekly},
		{AllPartitions(), daily, regions},
	}
	rapid.Check(t, func(t *rapid.T) {
		c := cases[rapid.IntRange(0, len(cases)-1).Draw(t, "case")]
		u, _ := genSubset(t, "upstream")
		u = u.Clip(0, c.up.Len(now))
		got, err := Downstream(c.m, c.down, c.up, u, now)
		if err != nil {
			t.Fatal(err)
		}
		for d := int64(0); d < c.down.Len(now); d++ {
			need, err := c.m.Upstream(c.down, c.up, Of(d), now)
			if err != nil {
				t.Fatal(err)
			}
			if want := !need.Intersect(u).IsEmpty(); got.Contains(d) != want {
				t.Fatalf("%s from %s to %s: partition %d reads %s; upstream %s; in result %v", c.m, c.down, c.up, d, need, u, got.Contains(d))
			}
		}
	})
}
