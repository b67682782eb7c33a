package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
)

// TestStatusMaxAgeServesACacheAndRefreshesItBehind: with StatusMaxAge,
// asset status is read once and answered from memory; once older than
// that, a request still answers at once (the old state, with its as_of)
// and starts one refresh, whose result the next request gets; more than
// twice as old, a request waits for a fresh read.
func TestStatusMaxAgeServesACacheAndRefreshesItBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st, bucket := openState(t)
		days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "UTC"})
		g := lineage.Must(&pipelines.Asset{Key: "a", Partitions: days, Compute: func(ctx context.Context, t *pipelines.Task) error {
			w, err := t.Output.Create(ctx, t.Keys[0], "x")
			if err != nil {
				return err
			}
			w.Write([]byte("x"))
			return w.Close()
		}})
		clk := clock.NewFake(time.Date(2024, 1, 11, 0, 0, 0, 0, time.UTC))
		materialize := func(keys string) {
			t.Helper()
			pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "a", Partitions: keys}, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			tg, _ := pl.Expand()
			if _, err := (&scheduler.Executor{Store: st, Bucket: bucket, Clock: clk}).Run(ctx, tg, scheduler.RunOpts{}); err != nil {
				t.Fatal(err)
			}
		}
		h := (&api.Server{Store: st, Bucket: bucket, Graph: g, Clock: clk, StatusMaxAge: 5 * time.Second}).Handler()
		fresh := func() (int64, time.Time) {
			t.Helper()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/assets/a", nil))
			var got struct {
				Fresh struct{ Count int64 }
				AsOf  time.Time `json:"as_of"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || err != nil {
				t.Fatalf("%d %s %v", rec.Code, rec.Body, err)
			}
			return got.Fresh.Count, got.AsOf
		}
		t0 := clk.Now()
		materialize("2024-01-01...2024-01-03")
		if n, at := fresh(); n != 3 || !at.Equal(t0) { // the first request waits for the first read
			t.Fatalf("first: %d fresh as of %s", n, at)
		}
		materialize("2024-01-04...2024-01-05")
		clk.Advance(5 * time.Second)
		if n, at := fresh(); n != 3 || !at.Equal(t0) {
			t.Fatalf("within the max age: %d fresh as of %s; want the cached 3", n, at)
		}
		clk.Advance(time.Second)
		if n, at := fresh(); n != 3 || !at.Equal(t0) {
			t.Fatalf("older than the max age: %d fresh as of %s; want the cached 3 while it refreshes", n, at)
		}
		synctest.Wait() // the refresh it started ends
		if n, at := fresh(); n != 5 || !at.Equal(t0.Add(6*time.Second)) {
			t.Fatalf("after the refresh: %d fresh as of %s; want 5", n, at)
		}
		materialize("2024-01-06")
		clk.Advance(11 * time.Second)
		if n, at := fresh(); n != 6 || !at.Equal(t0.Add(17*time.Second)) {
			t.Fatalf("more than twice the max age: %d fresh as of %s; want a fresh read, 6", n, at)
		}
	})
}
