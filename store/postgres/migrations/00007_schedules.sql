-- 7: schedules and their ticks. A tick is recorded under (schedule,
-- scheduled time) in the transaction that stores the run it fires, or as
-- skipped with the reason: the primary key is what makes a tick fire at most
-- once, whatever restarts or daemons come and go.
-- +goose Up
CREATE TABLE schedules (
	name       TEXT PRIMARY KEY,
	paused     BOOLEAN NOT NULL DEFAULT FALSE,
	since      TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE schedule_ticks (
	schedule     TEXT NOT NULL,
	scheduled_at TIMESTAMPTZ NOT NULL,
	fired_at     TIMESTAMPTZ NOT NULL,
	run_id       BIGINT NOT NULL DEFAULT 0,
	skipped      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (schedule, scheduled_at)
);
