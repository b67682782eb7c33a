-- 5: the workers registry: who leases tasks, from which host and process,
-- and when each last heartbeated.
-- +goose Up
CREATE TABLE workers (
	id            TEXT PRIMARY KEY,
	host          TEXT NOT NULL,
	pid           INTEGER NOT NULL,
	pools         TEXT NOT NULL DEFAULT '',
	concurrency   INTEGER NOT NULL,
	lease_seconds DOUBLE PRECISION NOT NULL,
	started_at    TIMESTAMPTZ NOT NULL,
	heartbeat_at  TIMESTAMPTZ NOT NULL,
	stopped_at    TIMESTAMPTZ
);
CREATE INDEX tasks_worker_running ON tasks (worker) WHERE state = 'running';
