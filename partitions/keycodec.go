package partitions

import "time"

// Partition keys are read and written by the million (a ten-year hourly
// backfill has 87,600 keys per asset, and status reads every one). The
// functions here read and write the canonical key layouts directly:
// time.Parse and Time.Format interpret their layout on every call, which
// made them a third of `weir assets status`. Each fast reader accepts
// exactly the canonical form and reports false for anything else, and the
// caller then falls back to time.Parse for the error message.

// digits reads n ASCII digits of s at i.
func digits(s string, i, n int) (int, bool) {
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// daysFromCivil returns the days from 1970-01-01 to y-m-d in the proleptic
// Gregorian calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// daysIn returns the number of days of month m of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// readDate reads "YYYY-MM-DD" at the start of s: the days since
// 1970-01-01, if it is a valid date in that exact layout.
func readDate(s string) (int64, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s, 0, 4)
	m, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// readDayKey reads a canonical daily or weekly key, "2006-01-02".
func readDayKey(s string) (int64, bool) {
	if len(s) != len(DailyKeyFormat) {
		return 0, false
	}
	return readDate(s)
}

// readHourKey reads a canonical hourly key, "2006-01-02T15:04-07:00", in
// loc: the Unix second it names, if its offset is the one loc has then (a
// key with another offset names the same instant non-canonically).
func readHourKey(s string, loc *time.Location) (int64, bool) {
	if len(s) != len(HourlyKeyFormat) || s[10] != 'T' || s[13] != ':' || s[19] != ':' || (s[16] != '+' && s[16] != '-') {
		return 0, false
	}
	days, ok := readDate(s)
	h, ok1 := digits(s, 11, 2)
	mi, ok2 := digits(s, 14, 2)
	oh, ok3 := digits(s, 17, 2)
	om, ok4 := digits(s, 20, 2)
	if !ok || !ok1 || !ok2 || !ok3 || !ok4 || h > 23 || mi > 59 || om > 59 {
		return 0, false
	}
	off := oh*3600 + om*60
	if s[16] == '-' {
		if off == 0 {
			return 0, false // Format writes a zero offset as +00:00
		}
		off = -off
	}
	u := days*secondsPerDay + int64(h*3600+mi*60) - int64(off)
	if _, zoneOff := time.Unix(u, 0).In(loc).Zone(); zoneOff != off {
		return 0, false
	}
	return u, true
}

// appendDate appends t's date as "2006-01-02".
func appendDate(b []byte, y int, m time.Month, d int) []byte {
	b = append2(append2(b, y/100), y%100)
	b = append2(append(b, '-'), int(m))
	return append2(append(b, '-'), d)
}

// append2 appends v (0-99) as two digits.
func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// formatDay formats t (UTC) as a daily key; Format for years it cannot
// write as four digits.
func formatDay(t time.Time) string {
	y, m, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format(DailyKeyFormat)
	}
	return string(appendDate(make([]byte, 0, len(DailyKeyFormat)), y, m, d))
}

// formatHour formats t as an hourly key in t's location, as
// t.Format(HourlyKeyFormat) does.
func formatHour(t time.Time) string {
	y, m, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format(HourlyKeyFormat)
	}
	b := appendDate(make([]byte, 0, len(HourlyKeyFormat)), y, m, d)
	h, mi, _ := t.Clock()
	b = append2(append(append2(append(b, 'T'), h), ':'), mi)
	_, off := t.Zone()
	zone, sign := off/60, byte('+')
	if zone < 0 {
		zone, sign = -zone, '-'
	}
	b = append2(append(b, sign), zone/60)
	return string(append2(append(b, ':'), zone%60))
}
