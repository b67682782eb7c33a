package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustSchedule(t *testing.T, cronExpr, zone string) *Schedule {
	t.Helper()
	s := &Schedule{Name: "s", Selection: "*", Cron: cronExpr, Zone: zone}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDaylightSavingFiresOncePerDay(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		cron string
		day  time.Time // the DST day
		want string    // the tick that day, in New York
	}{
		// 02:30 does not exist on 2024-03-10: the clock jumps from 02:00
		// EST to 03:00 EDT, when the tick fires.
		{"30 2 * * *", time.Date(2024, 3, 10, 0, 0, 0, 0, ny), "2024-03-10T03:00:00-04:00"},
		// 01:30 exists twice on 2024-11-03 (EDT, then EST): the first.
		{"30 1 * * *", time.Date(2024, 11, 3, 0, 0, 0, 0, ny), "2024-11-03T01:30:00-04:00"},
		{"0 2 * * *", time.Date(2024, 3, 10, 0, 0, 0, 0, ny), "2024-03-10T03:00:00-04:00"},
		{"0 2 * * *", time.Date(2024, 11, 3, 0, 0, 0, 0, ny), "2024-11-03T02:00:00-05:00"},
	} {
		s := mustSchedule(t, tc.cron, "America/New_York")
		// A fortnight around the change: one tick a day, every day.
		from := tc.day.AddDate(0, 0, -7)
		ticks := s.Ticks(from, tc.day.AddDate(0, 0, 7))
		if len(ticks) != 14 {
			t.Fatalf("%s around %s: %d ticks in 14 days: %v", tc.cron, tc.day.Format(time.DateOnly), len(ticks), ticks)
		}
		for i, tk := range ticks {
			if got, want := tk.In(ny).Format(time.DateOnly), from.AddDate(0, 0, i).Format(time.DateOnly); got != want {
				t.Errorf("%s: tick %d on %s, want %s", tc.cron, i, got, want)
			}
		}
		if got := ticks[7].In(ny).Format(time.RFC3339); got != tc.want {
			t.Errorf("%s on %s: fired at %s, want %s", tc.cron, tc.day.Format(time.DateOnly), got, tc.want)
		}
	}
}

func TestHourlyAcrossDaylightSaving(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	s := mustSchedule(t, "@hourly", "America/New_York")
	for _, tc := range []struct {
		day  time.Time
		want int
	}{
		{time.Date(2024, 3, 10, 0, 0, 0, 0, ny), 23}, // 02:00 does not exist
		{time.Date(2024, 11, 3, 0, 0, 0, 0, ny), 24}, // 01:00 fires once, at its first occurrence
		{time.Date(2024, 11, 4, 0, 0, 0, 0, ny), 24},
	} {
		// Ticks in (midnight, next midnight]: the next midnight counts,
		// this one does not.
		if got := len(s.Ticks(tc.day, tc.day.AddDate(0, 0, 1))); got != tc.want {
			t.Errorf("@hourly on %s: %d ticks, want %d", tc.day.Format(time.DateOnly), got, tc.want)
		}
	}
}

func TestNextIsStrictlyAfterAndInstantsAreOrdered(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu"} {
		s := mustSchedule(t, "*/30 * * * *", zone)
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		prev := start
		for range 2 * 24 * 366 {
			next := s.Next(prev)
			if !next.After(prev) {
				t.Fatalf("%s: Next(%s) = %s, not after it", zone, prev, next)
			}
			if next.Sub(prev) > 2*time.Hour {
				t.Fatalf("%s: %s to %s: a gap of %s", zone, prev, next, next.Sub(prev))
			}
			prev = next
		}
	}
}

func TestValidateNamesTheValue(t *testing.T) {
	for _, tc := range []struct {
		s    Schedule
		want string
	}{
		{Schedule{Name: "n", Selection: "*", Cron: "0 25 * * *", Zone: "UTC"}, `cron "0 25 * * *"`},
		{Schedule{Name: "n", Selection: "*", Cron: "0 2 * *", Zone: "UTC"}, `cron "0 2 * *"`},
		{Schedule{Name: "n", Selection: "*", Cron: "@every 5m", Zone: "UTC"}, `cron "@every 5m"`},
		{Schedule{Name: "n", Selection: "*", Cron: "@daily", Zone: "Mars/Olympus"}, `zone "Mars/Olympus"`},
		{Schedule{Name: "n", Selection: "*", Cron: "@daily"}, "no zone"},
		{Schedule{Name: "n/x", Selection: "*", Cron: "@daily", Zone: "UTC"}, `name "n/x"`},
		{Schedule{Name: "n", Cron: "@daily", Zone: "UTC"}, "no selection"},
		{Schedule{Name: "n", Selection: "*", Cron: "@daily", Zone: "UTC", Catchup: "some"}, `catch-up "some"`},
	} {
		err := tc.s.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want it to name %s", tc.s, err, tc.want)
		}
	}
}
