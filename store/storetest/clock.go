package storetest

import (
	"testing"
	"time"

	"github.com/weir-dev/weir/store"
)

// DatabaseClock checks a store that measures leases and throttles on the
// database's clock (store drivers shared by hosts): the times callers pass
// may be off by an hour either way and change nothing. s must be fresh;
// clockQuery reads the database's clock.
func DatabaseClock(t *testing.T, s store.Store, clockQuery string) {
	dbNow := func() time.Time {
		var now time.Time
		if err := rawDB(t, s).QueryRowContext(ctx, clockQuery).Scan(&now); err != nil {
			t.Fatal(err)
		}
		return now
	}
	// within checks that a lease set between before and after expires a
	// minute after the database's now.
	within := func(what string, expires, before, after time.Time) {
		t.Helper()
		if expires.Before(before.Add(time.Minute)) || expires.After(after.Add(time.Minute)) {
			t.Fatalf("%s: lease expires at %s, want a minute after the database's now, between %s and %s", what, expires, before.Add(time.Minute), after.Add(time.Minute))
		}
	}
	behind, ahead := dbNow().Add(-time.Hour), dbNow().Add(time.Hour)
	run, _ := insertRun(t, s, store.RunInsertParams{Throttle: store.Throttle{RatePerSec: 0.5}}, task{}, task{})

	// A host an hour behind leases; its lease runs a minute from the
	// database's now, not from its own.
	before := dbNow()
	got := lease(t, s, store.TaskLeaseManyParams{Now: behind, LeaseFor: time.Minute, RunID: run.ID, Limit: 2})
	if len(got) != 1 {
		t.Fatalf("first lease: %d tasks, want 1 (rate 0.5/s)", len(got))
	}
	within("lease from a host an hour behind", got[0].LeaseExpiresAt, before, dbNow())
	// A host an hour ahead: the lease is live, and the rate still spaces
	// starts 2 s apart on the database's clock.
	reaped, err := s.TaskReapExpired(ctx, store.TaskReapExpiredParams{Now: ahead})
	if err != nil || len(reaped) != 0 {
		t.Fatalf("a host an hour ahead reaped %d live leases (%v)", len(reaped), err)
	}
	res, err := s.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "w2", Now: ahead, LeaseFor: time.Minute, RunID: run.ID, Limit: 1})
	if err != nil || len(res.Tasks) != 0 || res.ThrottledFor <= 0 || res.ThrottledFor > 2*time.Second {
		t.Fatalf("a host an hour ahead leased %d tasks (throttled for %s, %v); want none for up to 2 s", len(res.Tasks), res.ThrottledFor, err)
	}
	// Heartbeats from the host behind extend the lease from the
	// database's now too.
	before = dbNow()
	lost, err := s.TaskHeartbeat(ctx, store.TaskHeartbeatParams{Leases: []store.Lease{{TaskID: got[0].ID, Token: got[0].LeaseToken}}, Now: behind, LeaseFor: time.Minute})
	if err != nil || len(lost) != 0 {
		t.Fatalf("heartbeat: lost %v, %v", lost, err)
	}
	after := dbNow()
	tk, _, _ := s.TaskGet(ctx, got[0].ID)
	within("heartbeat from a host an hour behind", tk.LeaseExpiresAt, before, after)
}
