package openlineage_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/lineage/openlineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// TestEmitterWhileTheEndpointIsDown: the run's tasks send their events
// to an endpoint that answers 503 for a while. The run is not slowed or
// failed (events only queue); the emitter retries with backoff on its
// clock, and every event arrives once the endpoint is back.
func TestEmitterWhileTheEndpointIsDown(t *testing.T) {
	var down atomic.Int32
	down.Store(3) // the first three posts fail
	arrived := make(chan openlineage.RunEvent, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Add(-1) >= 0 {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		var ev openlineage.RunEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Error(err)
		}
		arrived <- ev
	}))
	defer srv.Close()

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	runClock := clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	emitClock := clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	em := &openlineage.Emitter{Store: st, Namespace: "mem://", Sink: &openlineage.HTTPSink{URL: srv.URL}, Clock: emitClock}
	g := lineage.Must(nightly.Assets()...)
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "raw_orders", Partitions: "2024-01-01...2024-01-02"}, runClock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	// The run goes first, with the emitter not running at all: its hooks
	// only queue, so nothing waits for the endpoint.
	res, err := (&scheduler.Executor{Store: st, Bucket: bucket, Clock: runClock, OnEvent: func(ev scheduler.Event) {
		switch ev.Kind {
		case scheduler.EventStarted:
			em.TaskStarted(ev.RunID, ev.TaskID)
		case scheduler.EventSucceeded, scheduler.EventFailed:
			em.TaskEnded(ev.RunID, ev.TaskID)
		}
	}}).Run(ctx, tg, scheduler.RunOpts{})
	if err != nil || res.Status != store.RunSucceeded {
		t.Fatalf("run %v %v", res, err)
	}
	// Now the emitter: three 503s, each followed by a backoff on its clock.
	ectx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { em.Run(ectx, time.Second); close(done) }()
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		emitClock.BlockUntil(1, nil) // the emitter waits after a 503
		emitClock.Advance(wait)
	}
	kinds := map[string]int{}
	for range 4 { // the 2 tasks' START and COMPLETE
		kinds[(<-arrived).EventType]++
	}
	stop()
	<-done
	if em.Sent() != 4 || em.Dropped() != 0 || len(arrived) != 0 {
		t.Fatalf("sent %d, dropped %d, %d more arrived", em.Sent(), em.Dropped(), len(arrived))
	}
	if kinds["START"] != 2 || kinds["COMPLETE"] != 2 {
		t.Fatalf("events %v", kinds)
	}
}

// TestEmitterNeverBlocks: a full queue drops and counts, without blocking.
func TestEmitterNeverBlocks(t *testing.T) {
	em := &openlineage.Emitter{Capacity: 1}
	em.TaskStarted(1, 1)
	em.TaskEnded(1, 1) // the queue is full: dropped
	if em.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", em.Dropped())
	}
}

// TestEmitterStopsAtOnceWhenTheEndpointIsGone: events still queued when
// the process stops are tried once; an endpoint that is gone (closed)
// does not hold the process, and what was not sent is counted.
func TestEmitterStopsAtOnceWhenTheEndpointIsGone(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runClock := clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	em := &openlineage.Emitter{Store: st, Namespace: "mem://", Sink: &openlineage.HTTPSink{URL: srv.URL}, Clock: clock.NewFake(runClock.Now())}
	g := lineage.Must(nightly.Assets()...)
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "raw_orders", Partitions: "2024-01-01...2024-01-03"}, runClock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&scheduler.Executor{Store: st, Bucket: memblob.OpenBucket(nil), Clock: runClock, OnEvent: func(ev scheduler.Event) {
		if ev.Kind == scheduler.EventSucceeded {
			em.TaskEnded(ev.RunID, ev.TaskID)
		}
	}}).Run(ctx, tg, scheduler.RunOpts{})
	if err != nil || res.Status != store.RunSucceeded {
		t.Fatalf("run %v %v", res, err)
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel() // the process is stopping before the emitter sent anything
	em.Run(stopped, time.Hour)
	if em.Sent() != 0 || em.Dropped() != 3 {
		t.Fatalf("sent %d, dropped %d; want 0 and the 3 tasks' COMPLETE", em.Sent(), em.Dropped())
	}
}
