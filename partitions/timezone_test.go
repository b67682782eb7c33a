package partitions

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

// tzZones lists the zones of the system's tz database (the "Z" lines of
// tzdata.zi); links are aliases of these.
func tzZones(t *testing.T) []string {
	f, err := os.Open("/usr/share/zoneinfo/tzdata.zi")
	if err != nil {
		t.Skipf("no tz database source to list zones from: %v", err)
	}
	defer f.Close()
	var zones []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "Z "); ok {
			zones = append(zones, strings.Fields(name)[0])
		}
	}
	if err := sc.Err(); err != nil || len(zones) < 300 {
		t.Fatalf("read %d zones from tzdata.zi: %v", len(zones), err)
	}
	return zones
}

// oracleDayStart finds the first instant whose local date in loc is on or
// after the civil date day, by bisection over Unix seconds. It only asks
// the tz database what date an instant has (local dates never go back,
// even where clocks fall back across midnight), so it shares nothing with
// TimeWindow's own computation.
func oracleDayStart(day time.Time, loc *time.Location) int64 {
	civil := day.Unix()
	onOrAfter := func(u int64) bool {
		y, m, d := time.Unix(u, 0).In(loc).Date()
		return !time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Before(day)
	}
	lo, hi := civil-30*3600, civil+30*3600 // offsets are within ±26h
	for lo < hi {
		mid := lo + (hi-lo)/2
		if onOrAfter(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// TestTimeWindowsInEveryZone checks daily windows and the hourly<->daily
// mapping against the oracle over every day of 2019-2025 in every zone
// that had daylight saving time or an offset that is not whole hours:
// each day starts at its first instant (also where midnight does not
// exist), each hour belongs to exactly the day its start falls in, and
// each day to exactly the hours that start in it.
func TestTimeWindowsInEveryZone(t *testing.T) {
	first, last := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if testing.Short() {
		first = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	days := int64(last.Sub(first) / (24 * time.Hour))
	checked := 0
	for _, zone := range tzZones(t) {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatalf("zone %s: %v", zone, err)
		}
		if !interesting(loc, first, last) {
			continue
		}
		checked++
		daily, err := NewTimeWindow(TimeWindowOpts{Grain: Daily, Start: first.Format("2006-01-02"), Location: zone})
		if err != nil {
			t.Fatalf("%s: %v", zone, err)
		}
		hourly, err := NewTimeWindow(TimeWindowOpts{Grain: Hourly, Start: first.Format("2006-01-02"), Location: zone})
		if err != nil {
			t.Fatalf("%s: a definition starting on %s: %v", zone, first.Format("2006-01-02"), err)
		}
		hourStart := oracleDayStart(first, loc)
		if s, _ := hourly.Window(0); s.Unix() != hourStart {
			t.Fatalf("%s: hourly partitions from %s start at %s, want %s", zone, first.Format("2006-01-02"), s, time.Unix(hourStart, 0).In(loc))
		}
		end := last.Add(48 * time.Hour)
		ceilHour := func(u int64) int64 { return floorDiv(u-hourStart+3599, 3600) }
		next := oracleDayStart(first, loc)
		for i := range days {
			start, stop := next, oracleDayStart(first.AddDate(0, 0, int(i)+1), loc)
			next = stop
			s, e := daily.Window(i)
			if s.Unix() != start || e.Unix() != stop {
				t.Fatalf("%s day %s: window [%s, %s), want [%s, %s)", zone, daily.Key(i), s, e, time.Unix(start, 0).In(loc), time.Unix(stop, 0).In(loc))
			}
			if c0, c1 := daily.Containing(s), daily.Containing(e.Add(-time.Second)); c0 != i || c1 != i {
				t.Fatalf("%s day %s: its first and last second are in days %d and %d, want %d", zone, daily.Key(i), c0, c1, i)
			}
			// The day reads the hours that start in it.
			got, err := TimeWindowMapping{}.Upstream(daily, hourly, Of(i), end)
			if err != nil {
				t.Fatal(err)
			}
			want := Span(ceilHour(start), ceilHour(stop))
			if !got.Equal(want) {
				t.Fatalf("%s day %s reads hours %s (%s), want %s (%s)", zone, daily.Key(i), got, Keys(hourly, got), want, Keys(hourly, want))
			}
			// Its first and last hour read this day only.
			for _, h := range []int64{ceilHour(start), ceilHour(stop) - 1} {
				got, err := TimeWindowMapping{}.Upstream(hourly, daily, Of(h), end)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(Of(i)) {
					t.Fatalf("%s hour %s reads days %v, want only %s", zone, hourly.Key(h), Keys(daily, got), daily.Key(i))
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d zones with daylight saving time or a part-hour offset", checked)
	}
	t.Logf("%d zones, %d days each", checked, days)
}

// interesting reports whether loc changed its offset, or had an offset
// that is not whole hours, between first and last.
func interesting(loc *time.Location, first, last time.Time) bool {
	_, off0 := first.In(loc).Zone()
	for t := first; t.Before(last); t = t.Add(7 * 24 * time.Hour) {
		_, off := t.In(loc).Zone()
		if off != off0 || off%3600 != 0 {
			return true
		}
	}
	return false
}
