package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-dev/weir/store"
)

// Instrument returns st with the calls of a worker's hot path timed into
// weir_store_call_duration_seconds, by kind (lease, heartbeat, stage,
// finish, promote, reap, enqueue) and status (ok, error): each call is a
// batch of statements in one transaction, so this is the state store's
// latency as the workers feel it. Give the result to the worker.
func (m *Metrics) Instrument(st store.Store) store.Store {
	return &timedStore{Store: st, h: m.storeCalls}
}

type timedStore struct {
	store.Store
	h *prometheus.HistogramVec
}

func (t *timedStore) time(kind string, start time.Time, err error) {
	status := "ok"
	if err != nil {
		status = "error"
	}
	t.h.WithLabelValues(kind, status).Observe(time.Since(start).Seconds())
}

func (t *timedStore) TaskLeaseMany(ctx context.Context, p store.TaskLeaseManyParams) (r *store.LeaseResult, err error) {
	defer func(start time.Time) { t.time("lease", start, err) }(time.Now())
	return t.Store.TaskLeaseMany(ctx, p)
}

func (t *timedStore) TaskHeartbeat(ctx context.Context, p store.TaskHeartbeatParams) (lost []int64, err error) {
	defer func(start time.Time) { t.time("heartbeat", start, err) }(time.Now())
	return t.Store.TaskHeartbeat(ctx, p)
}

func (t *timedStore) TaskStageMany(ctx context.Context, ps []store.TaskStageParams) (r []store.StageResult, err error) {
	defer func(start time.Time) { t.time("stage", start, err) }(time.Now())
	return t.Store.TaskStageMany(ctx, ps)
}

func (t *timedStore) TaskFinishMany(ctx context.Context, ps []store.TaskFinishParams) (r []store.FinishResult, err error) {
	defer func(start time.Time) { t.time("finish", start, err) }(time.Now())
	return t.Store.TaskFinishMany(ctx, ps)
}

func (t *timedStore) MaterializationPromoteMany(ctx context.Context, ps []store.MaterializationPromoteParams) (r []store.FinishResult, err error) {
	defer func(start time.Time) { t.time("promote", start, err) }(time.Now())
	return t.Store.MaterializationPromoteMany(ctx, ps)
}

func (t *timedStore) TaskReapExpired(ctx context.Context, p store.TaskReapExpiredParams) (r []*store.TaskFinishResult, err error) {
	defer func(start time.Time) { t.time("reap", start, err) }(time.Now())
	return t.Store.TaskReapExpired(ctx, p)
}

func (t *timedStore) RunInsert(ctx context.Context, p store.RunInsertParams) (run *store.Run, first int64, err error) {
	defer func(start time.Time) { t.time("enqueue", start, err) }(time.Now())
	return t.Store.RunInsert(ctx, p)
}
