-- 7: schedules and their ticks. A tick is recorded under (schedule,
-- scheduled time) in the transaction that stores the run it fires, or as
-- skipped with the reason: the primary key is what makes a tick fire at most
-- once, whatever restarts or daemons come and go.
-- +goose Up
CREATE TABLE schedules (
	name       TEXT PRIMARY KEY,
	paused     INTEGER NOT NULL DEFAULT 0,
	since      TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE schedule_ticks (
	schedule     TEXT NOT NULL,
	scheduled_at TEXT NOT NULL,
	fired_at     TEXT NOT NULL,
	run_id       BIGINT NOT NULL DEFAULT 0,
	skipped      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (schedule, scheduled_at)
) WITHOUT ROWID;
