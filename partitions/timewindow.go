package partitions

import (
	"fmt"
	"strings"
	"time"
)

// Grain is the length of a time window.
type Grain int

// The grains of time-window partitions.
const (
	Hourly Grain = iota + 1
	Daily
	Weekly
	Monthly
)

func (g Grain) String() string {
	switch g {
	case Hourly:
		return "hourly"
	case Daily:
		return "daily"
	case Weekly:
		return "weekly"
	case Monthly:
		return "monthly"
	}
	return fmt.Sprintf("Grain(%d)", int(g))
}

// Canonical key formats of time-window partitions. Each names the start of
// its window in the definition's time zone. Hourly keys carry the UTC offset,
// so the two 01:00 hours of a day when clocks fall back have different keys.
const (
	HourlyKeyFormat  = "2006-01-02T15:04-07:00" // e.g. 2024-11-03T01:00-04:00
	DailyKeyFormat   = "2006-01-02"             // e.g. 2024-01-31
	WeeklyKeyFormat  = "2006-01-02"             // the week's first day
	MonthlyKeyFormat = "2006-01"                // e.g. 2024-02
)

const secondsPerDay = 86400

// TimeWindowOpts configures time-window partitions.
type TimeWindowOpts struct {
	// Grain is the window length. Required.
	Grain Grain
	// Start is the start of the first window in Location, as a date
	// ("2024-01-01"; "2024-01" also works for monthly) or, for hourly
	// windows, a date and hour ("2024-01-01T06:00"). Required. Weekly starts
	// must fall on WeekStart; monthly starts on the first of a month.
	Start string
	// End, if set, is where partitions stop, in the same format as Start and
	// exclusive: the last window ends at End. Empty means open-ended: a window
	// exists once it is complete.
	End string
	// Location is an IANA time zone name such as "America/New_York".
	// Defaults to "UTC".
	Location string
	// WeekStart is the first day of a weekly window. Defaults to Sunday (the
	// zero time.Weekday).
	WeekStart time.Weekday
}

// TimeWindow partitions time into hourly, daily, weekly or monthly windows in
// a time zone. Daily and coarser windows follow the local calendar, so a day
// is 23 or 25 hours long when clocks change; hourly windows are absolute
// hours, so such a day has 23 or 25 hourly partitions, each with its own key.
type TimeWindow struct {
	grain     Grain
	loc       *time.Location
	weekStart time.Weekday
	// start is, by grain: hourly, the Unix second of the first window;
	// daily and weekly, the first day as days since 1970-01-01; monthly, the
	// first month as year*12 + month-1.
	start int64
	end   int64 // exclusive bound on indexes, or -1 when open-ended
	desc  string
}

// NewTimeWindow validates opts and returns the definition.
func NewTimeWindow(opts TimeWindowOpts) (*TimeWindow, error) {
	if opts.Grain < Hourly || opts.Grain > Monthly {
		return nil, fmt.Errorf("time-window partitions: grain %d is not one of hourly, daily, weekly, monthly", int(opts.Grain))
	}
	tz := opts.Location
	if tz == "" {
		tz = "UTC"
	}
	loc, err := LoadLocation(tz)
	if err != nil {
		return nil, err
	}
	if opts.WeekStart < time.Sunday || opts.WeekStart > time.Saturday {
		return nil, fmt.Errorf("time-window partitions: week start %d is not a weekday (0 Sunday ... 6 Saturday)", int(opts.WeekStart))
	}
	w := &TimeWindow{grain: opts.Grain, loc: loc, weekStart: opts.WeekStart, end: -1}
	if opts.Start == "" {
		return nil, fmt.Errorf("%s partitions: a start is required, e.g. \"2024-01-01\"", opts.Grain)
	}
	w.start, err = w.boundary(opts.Start, "start")
	if err != nil {
		return nil, err
	}
	// start is now known; boundary of End is relative to it.
	w.desc = w.describe(opts.Start, tz)
	if opts.End != "" {
		e, err := w.boundary(opts.End, "end")
		if err != nil {
			return nil, err
		}
		if w.grain == Hourly {
			e = (e - w.start) / 3600
		} else {
			e = w.indexOfUnit(e)
		}
		if e <= 0 {
			return nil, fmt.Errorf("%s partitions: end %q is not after start %q", opts.Grain, opts.End, opts.Start)
		}
		w.end = e
		w.desc += " until " + opts.End
	}
	return w, nil
}

// LoadLocation loads an IANA time zone with an error that says what is
// allowed.
func LoadLocation(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, fmt.Errorf("time zone %q depends on the machine; name an IANA time zone such as \"Europe/Berlin\" or \"UTC\"", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q is not an IANA time zone name such as \"America/New_York\" or \"UTC\"", name)
	}
	return loc, nil
}

func (w *TimeWindow) describe(start, tz string) string {
	s := fmt.Sprintf("%s from %s in %s", w.grain, start, tz)
	if w.grain == Weekly {
		s = fmt.Sprintf("weekly (from %s) from %s in %s", w.weekStart, start, tz)
	}
	return s
}

// boundary parses a start or end option into the grain's unit (see the
// start field).
func (w *TimeWindow) boundary(s, what string) (int64, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s partitions: %s %q %s", w.grain, what, s, fmt.Sprintf(format, args...))
	}
	switch w.grain {
	case Hourly:
		if len(s) == len("2006-01-02") { // the start of that day
			d, err := time.Parse("2006-01-02", s)
			if err != nil {
				return 0, bad("is not a date (2024-01-01) or an hour (2024-01-01T06:00)")
			}
			return midnight(d.Year(), d.Month(), d.Day(), w.loc).Unix(), nil
		}
		layout := "2006-01-02T15:04"
		t, err := time.ParseInLocation(layout, s, w.loc)
		if err != nil {
			return 0, bad("is not a date (2024-01-01) or an hour (2024-01-01T06:00)")
		}
		if t.Minute() != 0 {
			return 0, bad("is not on the hour")
		}
		if t.Format(layout) != s {
			return 0, bad("does not exist in %s (clocks skip it)", w.loc)
		}
		return t.Unix(), nil
	case Monthly:
		layout := MonthlyKeyFormat
		if len(s) == len("2006-01-02") {
			layout = "2006-01-02"
		}
		t, err := time.Parse(layout, s)
		if err != nil {
			return 0, bad("is not a month (2024-01) or a date (2024-01-01)")
		}
		if t.Day() != 1 {
			return 0, bad("is not the first day of a month")
		}
		return monthNumber(t.Year(), t.Month()), nil
	default:
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return 0, bad("is not a date like 2024-01-01")
		}
		if w.grain == Weekly && t.Weekday() != w.weekStart {
			return 0, bad("is a %s, but weeks start on %s", t.Weekday(), w.weekStart)
		}
		return t.Unix() / secondsPerDay, nil
	}
}

// indexOfUnit turns a day number or month number into an index.
func (w *TimeWindow) indexOfUnit(u int64) int64 {
	switch w.grain {
	case Weekly:
		return floorDiv(u-w.start, 7)
	default:
		return u - w.start
	}
}

func monthNumber(y int, m time.Month) int64 { return int64(y)*12 + int64(m) - 1 }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Grain returns the window length.
func (w *TimeWindow) Grain() Grain { return w.grain }

// Location returns the time zone of the windows.
func (w *TimeWindow) Location() *time.Location { return w.loc }

// String describes the definition.
func (w *TimeWindow) String() string { return w.desc }

// day returns the civil date of day number d.
func day(d int64) time.Time { return time.Unix(d*secondsPerDay, 0).UTC() }

// Window returns the start (inclusive) and end (exclusive) of window i in the
// definition's time zone. It is defined for every i, also before the first
// partition and after the last.
func (w *TimeWindow) Window(i int64) (start, end time.Time) {
	switch w.grain {
	case Hourly:
		s := time.Unix(w.start+i*3600, 0).In(w.loc)
		return s, s.Add(time.Hour)
	case Daily, Weekly:
		n := int64(1)
		if w.grain == Weekly {
			n = 7
		}
		d := day(w.start + i*n)
		return midnight(d.Year(), d.Month(), d.Day(), w.loc), midnight(d.Year(), d.Month(), d.Day()+int(n), w.loc)
	default:
		m := w.start + i
		y, mo := int(floorDiv(m, 12)), time.Month(m-floorDiv(m, 12)*12+1)
		return midnight(y, mo, 1, w.loc), midnight(y, mo+1, 1, w.loc)
	}
}

// midnight returns the first instant of the civil date y-m-d (normalized
// as time.Date does) in loc. Where clocks skip midnight (they move forward
// at 00:00, as in America/Havana) the day starts at the transition, which
// local clocks read as 01:00; where midnight comes twice (clocks move back
// across it, as in Antarctica/Casey in 2019) it starts at the first. For
// such times time.Date may return an instant of the day before, or the
// second midnight.
func midnight(y int, m time.Month, d int, loc *time.Location) time.Time {
	civil := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	startsDay := func(t time.Time) bool {
		return !localDate(t, loc).Before(civil) && localDate(t.Add(-time.Second), loc).Before(civil)
	}
	s := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if startsDay(s) {
		return s
	}
	// The day starts when a clock in the offset in force just before it
	// reads midnight: try the offsets in force around it.
	for k := -5; k <= 5; k++ {
		_, off := civil.Add(time.Duration(k) * 6 * time.Hour).In(loc).Zone()
		if t := civil.Add(-time.Duration(off) * time.Second).In(loc); startsDay(t) {
			return t
		}
	}
	return s // no zone of the tz database gets here
}

// localDate returns t's civil date in loc, as midnight UTC.
func localDate(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// firstStarting returns the index of the first window that starts at or
// after t.
func (w *TimeWindow) firstStarting(t time.Time) int64 {
	i := w.Containing(t)
	if s, _ := w.Window(i); s.Before(t) {
		i++
	}
	return i
}

// Containing returns the index of the window that contains t (possibly
// negative, or past the end).
func (w *TimeWindow) Containing(t time.Time) int64 {
	if w.grain == Hourly {
		return floorDiv(t.Unix()-w.start, 3600)
	}
	lt := t.In(w.loc)
	if w.grain == Monthly {
		return monthNumber(lt.Year(), lt.Month()) - w.start
	}
	d := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
	return w.indexOfUnit(d)
}

// Overlapping returns the indexes of the windows that overlap [from, to).
func (w *TimeWindow) Overlapping(from, to time.Time) Range {
	if !to.After(from) {
		return Range{}
	}
	return Range{w.Containing(from), w.Containing(to.Add(-time.Nanosecond)) + 1}
}

// Len returns the number of complete windows at now, capped by the end.
func (w *TimeWindow) Len(now time.Time) int64 {
	n := max(w.Containing(now), 0)
	if w.end >= 0 {
		n = min(n, w.end)
	}
	return n
}

// Key returns the canonical key of window i.
func (w *TimeWindow) Key(i int64) string {
	switch w.grain {
	case Hourly:
		s, _ := w.Window(i)
		return formatHour(s)
	case Daily:
		return formatDay(day(w.start + i))
	case Weekly:
		return formatDay(day(w.start + 7*i))
	default:
		m := w.start + i
		return fmt.Sprintf("%04d-%02d", floorDiv(m, 12), m-floorDiv(m, 12)*12+1)
	}
}

// Index parses a canonical key.
func (w *TimeWindow) Index(key string) (int64, error) {
	// The canonical layouts are read directly; anything else, including
	// a key that only names a partition non-canonically, takes the slow
	// path, which says what is wrong with it.
	var i int64
	switch w.grain {
	case Hourly:
		u, ok := readHourKey(key, w.loc)
		if !ok || (u-w.start)%3600 != 0 {
			return w.slowIndex(key)
		}
		i = (u - w.start) / 3600
	case Daily, Weekly:
		d, ok := readDayKey(key)
		if !ok || (w.grain == Weekly && (d-w.start)%7 != 0) {
			return w.slowIndex(key)
		}
		i = w.indexOfUnit(d)
	default:
		return w.slowIndex(key)
	}
	if i < 0 || (w.end >= 0 && i >= w.end) {
		return w.slowIndex(key)
	}
	return i, nil
}

// slowIndex parses key with time.Parse and explains why it is not a
// partition of w, if it is not.
func (w *TimeWindow) slowIndex(key string) (int64, error) {
	bad := func(reason string) (int64, error) {
		return 0, &KeyError{Key: key, Def: w.desc, Reason: reason}
	}
	var i int64
	switch w.grain {
	case Hourly:
		t, err := time.Parse(HourlyKeyFormat, key)
		if err != nil {
			return bad("is not an hour like " + w.Key(0))
		}
		d := t.Unix() - w.start
		if d%3600 != 0 {
			return bad("is not on the hour")
		}
		i = d / 3600
	case Monthly:
		t, err := time.Parse(MonthlyKeyFormat, key)
		if err != nil {
			return bad("is not a month like " + w.Key(0))
		}
		i = monthNumber(t.Year(), t.Month()) - w.start
	default:
		t, err := time.Parse(DailyKeyFormat, key)
		if err != nil {
			return bad("is not a day like " + w.Key(0) + ": " + dateProblem(key))
		}
		d := t.Unix()/secondsPerDay - w.start
		if w.grain == Weekly && d%7 != 0 {
			return bad(fmt.Sprintf("is a %s, not the first day of a week (%s)", t.Weekday(), w.weekStart))
		}
		i = w.indexOfUnit(t.Unix() / secondsPerDay)
	}
	if i < 0 {
		return bad("is before the first partition " + w.Key(0))
	}
	if w.end >= 0 && i >= w.end {
		return bad("is after the last partition " + w.Key(w.end-1))
	}
	if canon := w.Key(i); canon != key {
		return bad(fmt.Sprintf("is not canonical; the same partition is %q", canon))
	}
	return i, nil
}

// dateProblem explains why a YYYY-MM-DD string is not a date.
func dateProblem(s string) string {
	_, err := time.Parse(DailyKeyFormat, s)
	if pe, ok := err.(*time.ParseError); ok && pe.Message != "" {
		return strings.TrimPrefix(pe.Message, ": ")
	}
	return "want YYYY-MM-DD"
}
