package sensor_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/sensor"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

var days = partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "UTC"})

func noop(ctx context.Context, t *pipelines.Task) error {
	w, err := t.Output.Create(ctx, t.Keys[0], "out.txt")
	if err != nil {
		return err
	}
	return w.Close()
}

func setup(t *testing.T) (store.Store, *lineage.Graph, *clock.Fake) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Compute: noop},
		&pipelines.Asset{Key: "revenue", Partitions: days, Deps: []pipelines.Dep{pipelines.On("orders")}, Compute: noop})
	return st, g, clock.NewFake(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
}

func runsOf(t *testing.T, st store.Store) []string {
	t.Helper()
	runs, err := st.RunList(context.Background(), store.RunListParams{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(runs) - 1; i >= 0; i-- {
		out = append(out, fmt.Sprintf("%s %s %s: %d tasks", runs[i].Kind, runs[i].Selection, runs[i].Partitions, runs[i].TaskCount()))
	}
	return out
}

func TestBlobSensorStartsOneRunPerArrivalOfPartitions(t *testing.T) {
	ctx := context.Background()
	st, g, clk := setup(t)
	b := memblob.OpenBucket(nil)
	defer b.Close()
	b.WriteAll(ctx, "landing/2023-12-31/old.csv", []byte("x"), nil) // before the sensor: never runs
	s := &sensor.Sensor{Name: "landing", Selection: "orders+", Source: &sensor.BlobPrefix{Bucket: b, Prefix: "landing/",
		Pattern: regexp.MustCompile(`^landing/(?P<key>[^/]+)/`)}}
	if err := s.Validate(g); err != nil {
		t.Fatal(err)
	}
	d := &sensor.Daemon{Store: st, Graph: g, Sensors: []*sensor.Sensor{s}, Clock: clk}
	evaluate := func() store.SensorTick {
		t.Helper()
		tick, err := d.EvaluateOne(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return tick
	}
	if tick := evaluate(); tick.RunID != 0 || tick.CursorTo == "" {
		t.Fatalf("first tick: %+v", tick)
	}
	// 30 objects for 10 days arrive: one run covers exactly those days.
	for day := 1; day <= 10; day++ {
		for part := range 3 {
			if err := b.WriteAll(ctx, fmt.Sprintf("landing/2024-01-%02d/part-%d.csv", day, part), []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := evaluate()
	if first.RunID == 0 || first.Arrivals != 30 || first.Partitions != "2024-01-01...2024-01-10" {
		t.Fatalf("tick: %+v", first)
	}
	if tick := evaluate(); tick.RunID != 0 || tick.Arrivals != 0 {
		t.Fatalf("nothing new: %+v", tick)
	}
	// Input for a day whose task is still queued: that task will read it,
	// no second run.
	b.WriteAll(ctx, "landing/2024-01-03/more.csv", []byte("x"), nil)
	if tick := evaluate(); tick.RunID != 0 || tick.Partitions != "2024-01-03" {
		t.Fatalf("arrival for a queued day: %+v", tick)
	}
	if res, err := (&scheduler.Executor{Store: st, Bucket: memblob.OpenBucket(nil)}).Resume(ctx, g, first.RunID); err != nil || res.Status != store.RunSucceeded {
		t.Fatalf("run: %v %v", res, err)
	}
	// One more object for a day, one that names no partition, one for a
	// day that has not ended: the day alone runs again.
	b.WriteAll(ctx, "landing/2024-01-05/late.csv", []byte("x"), nil)
	b.WriteAll(ctx, "landing/readme.txt", []byte("x"), nil)
	b.WriteAll(ctx, "landing/2030-01-01/early.csv", []byte("x"), nil)
	if tick := evaluate(); tick.Partitions != "2024-01-05" {
		t.Fatalf("tick: %+v", tick)
	}
	want := []string{"sensor orders+ 2024-01-01...2024-01-10: 20 tasks", "sensor orders+ 2024-01-05: 2 tasks"}
	if got := runsOf(t, st); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("runs %q, want %q", got, want)
	}
	ticks, _ := st.SensorTickList(ctx, "landing", -1)
	if len(ticks) != 5 {
		t.Fatalf("%d ticks", len(ticks))
	}
}

// failing is a source that fails until told otherwise.
type failing struct{ err error }

func (f *failing) Poll(_ context.Context, cursor string) (sensor.Poll, error) {
	if f.err != nil {
		return sensor.Poll{}, f.err
	}
	return sensor.Poll{Keys: []string{"2024-01-02"}, Arrivals: 1, Cursor: cursor + "+"}, nil
}
func (*failing) String() string { return "failing" }

func TestAFailingSensorRecordsItsErrorsAndMovesNothing(t *testing.T) {
	ctx := context.Background()
	st, g, clk := setup(t)
	src := &failing{}
	s := &sensor.Sensor{Name: "api", Selection: "orders", Source: src, Every: time.Minute}
	var streaks []time.Time
	d := &sensor.Daemon{Store: st, Graph: g, Sensors: []*sensor.Sensor{s}, Clock: clk, Jitter: func() float64 { return 0.5 },
		OnTick: func(tk store.SensorTick, since time.Time) {
			if tk.Error != "" {
				streaks = append(streaks, since)
			}
		}}
	step := func() {
		t.Helper()
		if _, err := d.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	step() // first: cursor "+"
	src.err = errors.New("connection refused")
	step()
	step()
	src.err = nil
	step()
	if c, _ := st.SensorCursor(ctx, "api"); c != "++" {
		t.Fatalf("cursor %q", c)
	}
	ticks, _ := st.SensorTickList(ctx, "api", -1)
	if len(ticks) != 4 || ticks[1].Error != "connection refused" || ticks[1].CursorTo != "+" || ticks[0].RunID == 0 {
		t.Fatalf("ticks %+v", ticks)
	}
	// Both failing ticks report the streak's start: alerts once.
	if len(streaks) != 2 || !streaks[0].Equal(streaks[1]) {
		t.Fatalf("streaks %v", streaks)
	}
}

func TestValidateRefusesBadSensors(t *testing.T) {
	_, g, _ := setup(t)
	for _, tc := range []struct {
		s    sensor.Sensor
		want string
	}{
		{sensor.Sensor{Name: "a b", Selection: "orders", Source: &failing{}}, `sensor name "a b"`},
		{sensor.Sensor{Name: "x", Selection: "nope", Source: &failing{}}, `sensor x: `},
		{sensor.Sensor{Name: "x", Selection: "orders"}, "Source is required"},
		{sensor.Sensor{Name: "x", Selection: "orders", Source: &failing{}, Every: -time.Second}, "must be positive"},
	} {
		if err := tc.s.Validate(g); err == nil || !regexp.MustCompile(regexp.QuoteMeta(tc.want)).MatchString(err.Error()) {
			t.Errorf("%+v: %v, want %s", tc.s, err, tc.want)
		}
	}
	if err := (&sensor.BlobPrefix{Bucket: memblob.OpenBucket(nil), Pattern: regexp.MustCompile(`x`)}).Validate(); err == nil {
		t.Error("a pattern without a key group was accepted")
	}
}
