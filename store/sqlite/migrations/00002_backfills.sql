-- 2: backfills: run priority, order, throttles, circuit breaker, audit
-- events; leasing by run.
-- +goose Up
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN task_order TEXT NOT NULL DEFAULT 'oldest-first';
ALTER TABLE runs ADD COLUMN pool TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN max_concurrent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN rate_per_sec REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN rate_tat TEXT;              -- GCRA: when the next start is allowed
ALTER TABLE runs ADD COLUMN breaker_max_failure_rate REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN breaker_min_tasks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN breaker_max_consecutive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN breaker_finished INTEGER NOT NULL DEFAULT 0;     -- since creation or the last resume
ALTER TABLE runs ADD COLUMN breaker_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN breaker_consecutive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN trip_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN last_lease_at TEXT;          -- for aging
ALTER TABLE runs ADD COLUMN plan TEXT NOT NULL DEFAULT '';  -- the caller's plan summary (JSON)
CREATE INDEX runs_active ON runs (id) WHERE status IN ('running', 'paused', 'tripped');
ALTER TABLE tasks ADD COLUMN base_attempts INTEGER NOT NULL DEFAULT 1;
UPDATE tasks SET base_attempts = max_attempts;
DROP INDEX tasks_ready;  -- leasing reads each active run's ready tasks (tasks_ready_run)
CREATE INDEX tasks_run_finished ON tasks (run_id, finished_at) WHERE state = 'succeeded';
CREATE TABLE run_events (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id INTEGER NOT NULL REFERENCES runs (id),
	at     TEXT NOT NULL,
	kind   TEXT NOT NULL,
	actor  TEXT NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX run_events_run ON run_events (run_id, id);
CREATE INDEX materializations_run ON materializations (run_id);
CREATE INDEX check_results_run ON check_results (run_id);
