package partitions

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestStaticDynamicMulti(t *testing.T) {
	now := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	regions := MustStatic("eu", "us", "apac")
	if _, err := NewStatic("eu", "eu"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate static key: %v", err)
	}
	if _, err := NewStatic("a/b"); err == nil {
		t.Errorf("static key with slash accepted")
	}
	dyn, _ := NewDynamic("customers")
	bound, err := Bind(dyn, func(string) ([]string, error) { return []string{"acme", "globex"}, nil })
	if err != nil || bound.Len(now) != 2 || bound.Key(1) != "globex" {
		t.Fatalf("Bind: %v %v", bound, err)
	}
	if _, err := bound.Index("initech"); err == nil || !strings.Contains(err.Error(), "is not among the 2 keys added so far") {
		t.Errorf("unknown dynamic key: %v", err)
	}
	daily := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01"})
	m, err := NewMulti(Dim{"date", daily}, Dim{"region", regions})
	if err != nil {
		t.Fatal(err)
	}
	if m.Len(now) != 27 {
		t.Fatalf("Len = %d", m.Len(now))
	}
	i, err := Resolve(m, "2024-01-02|apac", now)
	if err != nil || i != 5 || m.Key(5) != "2024-01-02|apac" {
		t.Fatalf("Resolve multi = %d %v", i, err)
	}
	if _, err := NewMulti(Dim{"region", regions}, Dim{"date", daily}); err == nil || !strings.Contains(err.Error(), "must be static") {
		t.Errorf("time inner dimension accepted: %v", err)
	}
	for _, k := range []string{"2024-01-02", "2024-01-02|mars"} {
		if _, err := Resolve(m, k, now); err == nil {
			t.Errorf("Resolve(%q) accepted", k)
		}
	}
}

func TestDynamicNames(t *testing.T) {
	customers, err := NewDynamic("customers")
	if err != nil {
		t.Fatal(err)
	}
	multi, err := NewMulti(Dim{Name: "customer", Def: customers}, Dim{Name: "region", Def: MustStatic("eu", "us")})
	if err != nil {
		t.Fatal(err)
	}
	days := MustTimeWindow(TimeWindowOpts{Grain: Daily, Start: "2024-01-01"})
	for _, tc := range []struct {
		def  Definition
		want string
	}{{customers, "[customers]"}, {multi, "[customers]"}, {days, "[]"}, {MustStatic("a"), "[]"}} {
		if got := fmt.Sprint(DynamicNames(tc.def)); got != tc.want {
			t.Errorf("DynamicNames(%s) = %s, want %s", tc.def, got, tc.want)
		}
	}
	if _, ok := Definition(days).(Windowed); !ok {
		t.Error("time windows are not Windowed")
	}
}
