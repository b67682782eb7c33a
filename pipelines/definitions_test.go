package pipelines

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/weir-dev/weir/partitions"
)

func noop(context.Context, *Task) error { return nil }

func TestDefinitionsValidation(t *testing.T) {
	daily := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
	regions := partitions.MustStatic("eu", "us")
	for _, tc := range []struct {
		name   string
		assets []*Asset
		want   []string
	}{
		{"cycle names its path", []*Asset{
			{Key: "a", Deps: []Dep{On("c")}, Compute: noop},
			{Key: "b", Deps: []Dep{On("a")}, Compute: noop},
			{Key: "c", Deps: []Dep{On("b")}, Compute: noop},
		}, []string{"dependency cycle: a -> c -> b -> a"}},
		{"unknown dep suggests", []*Asset{
			{Key: "orders", Compute: noop},
			{Key: "revenue", Deps: []Dep{On("order")}, Compute: noop},
		}, []string{`asset "revenue": depends on unknown asset "order" (did you mean "orders"?)`}},
		{"duplicate key and bad name", []*Asset{
			{Key: "a", Compute: noop}, {Key: "a", Compute: noop}, {Key: "../x", Compute: noop},
		}, []string{`asset "a" is declared twice`, `asset key "../x" is not a valid name`}},
		{"incompatible partitions", []*Asset{
			{Key: "by_region", Partitions: regions, Compute: noop},
			{Key: "by_day", Partitions: daily, Deps: []Dep{On("by_region")}, Compute: noop},
		}, []string{`asset "by_day": dep "by_region": partitions "daily from 2024-01-01 in UTC" and "static [eu us]" differ`}},
		{"mapping that does not fit", []*Asset{
			{Key: "by_region", Partitions: regions, Compute: noop},
			{Key: "by_day", Partitions: daily, Deps: []Dep{OnMapped("by_region", partitions.Trailing(7))}, Compute: noop},
		}, []string{"both sides must be time-window partitions"}},
		{"every problem reported", []*Asset{
			{Key: "a"}, {Key: "b", Deps: []Dep{On("zzz")}},
		}, []string{`asset "a": no Compute function`, `asset "b": no Compute function`, `unknown asset "zzz"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDefinitions(tc.assets...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	_, err := NewDefinitions(&Asset{Key: "a", Deps: []Dep{On("a")}, Compute: noop})
	if err == nil || !strings.Contains(err.Error(), "depends on itself") {
		t.Errorf("self dep: %v", err)
	}
	var ce *CycleError
	_, err = NewDefinitions(&Asset{Key: "x", Deps: []Dep{On("y")}, Compute: noop}, &Asset{Key: "y", Deps: []Dep{On("x")}, Compute: noop})
	if !errors.As(err, &ce) || len(ce.Path) != 3 {
		t.Errorf("CycleError: %v", err)
	}
}

func TestTopologicalOrder(t *testing.T) {
	d := MustDefinitions(
		&Asset{Key: "c", Deps: []Dep{On("b")}, Compute: noop},
		&Asset{Key: "b", Deps: []Dep{On("a")}, Compute: noop},
		&Asset{Key: "a", Compute: noop},
		&Asset{Key: "z", Compute: noop},
	)
	if got := strings.Join(d.Keys(), " "); got != "a b c z" {
		t.Fatalf("order %s", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	p := RetryPolicy{InitialBackoff: 100, MaxBackoff: 1000}
	for n, want := range map[int]int64{1: 100, 2: 200, 3: 400, 4: 800, 5: 1000, 64: 1000} {
		if got := p.Backoff(n, 0.999999); int64(got) != want-1 && int64(got) != want {
			t.Errorf("Backoff(%d) ceiling = %d, want %d", n, got, want)
		}
		if got := p.Backoff(n, 0); got != 0 {
			t.Errorf("Backoff(%d, 0) = %d", n, got)
		}
	}
}
