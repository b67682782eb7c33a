package partitions

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestFastKeysAgreeWithTimeFormatAndParse checks the direct key reader and
// writers against time.Format and time.Parse (slowIndex): every key a
// definition writes is the one Format writes, and for keys near the
// canonical ones (a digit, the offset or a separator changed) Index gives
// the same index, or an error, as the slow path does.
func TestFastKeysAgreeWithTimeFormatAndParse(t *testing.T) {
	defs := []*TimeWindow{
		MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2015-01-01", Location: "America/New_York"}),
		MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2015-01-01", Location: "Australia/Lord_Howe"}),
		MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2015-01-01", Location: "Asia/Kolkata"}),
		MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "1899-12-31", Location: "Europe/Amsterdam"}), // offsets with seconds
		MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2020-01-01", End: "2021-01-01"}),
		MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "1999-02-27", Location: "America/Sao_Paulo"}),
		MustTimeWindow(TimeWindowOpts{Grain: Weekly, Start: "2024-01-01", WeekStart: time.Monday}),
	}
	utc := defs[4]
	for _, k := range []string{"2020-01-01T00:00-00:00", "2020-01-01T00:00Z", "2020-02-30T00:00+00:00", "2020-01-01T24:00+00:00", "2020-01-01T00:30+00:00"} {
		if i, err := utc.Index(k); err == nil {
			t.Errorf("%s: Index(%q) = %d, want an error (not canonical)", utc, k, i)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		w := defs[rapid.IntRange(0, len(defs)-1).Draw(t, "def")]
		i := rapid.Int64Range(-50, 200_000).Draw(t, "i")
		var want string
		if w.grain == Hourly {
			s, _ := w.Window(i)
			want = s.Format(HourlyKeyFormat)
		} else {
			n := int64(1)
			if w.grain == Weekly {
				n = 7
			}
			want = day(w.start + n*i).Format(DailyKeyFormat)
		}
		key := w.Key(i)
		if key != want {
			t.Fatalf("%s: Key(%d) = %q, Format writes %q", w, i, key, want)
		}
		b := []byte(key)
		if rapid.Bool().Draw(t, "mutate") {
			pos := rapid.IntRange(0, len(b)-1).Draw(t, "pos")
			b[pos] = rapid.SampledFrom([]byte("0123456789+-:TZ x")).Draw(t, "to")
		}
		k := string(b)
		got, gotErr := w.Index(k)
		slow, slowErr := w.slowIndex(k)
		if (gotErr == nil) != (slowErr == nil) || got != slow {
			t.Fatalf("%s: Index(%q) = %d, %v; time.Parse says %d, %v", w, k, got, gotErr, slow, slowErr)
		}
	})
}

func BenchmarkHourlyIndex(b *testing.B) {
	w := MustTimeWindow(TimeWindowOpts{Grain: Hourly, Start: "2015-01-01", Location: "America/New_York"})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = w.Key(int64(i) * 61)
	}
	for b.Loop() {
		for _, k := range keys {
			if _, err := w.Index(k); err != nil {
				b.Fatal(err)
			}
		}
	}
}
