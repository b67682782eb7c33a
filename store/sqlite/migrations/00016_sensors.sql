-- 16: sensors. A sensor's cursor advances in the transaction that stores
-- the run its new input starts (or, with nothing to run, with its tick):
-- compare-and-set on the cursor it read, so an arrival starts one run
-- whatever restarts or daemons come and go. Every evaluation is a tick:
-- what it found, the run, or the error.
-- +goose Up
CREATE TABLE sensors (
	name       TEXT PRIMARY KEY,
	cursor     TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE sensor_ticks (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	sensor       TEXT NOT NULL,
	evaluated_at TEXT NOT NULL,
	cursor_from  TEXT NOT NULL,
	cursor_to    TEXT NOT NULL,
	arrivals     BIGINT NOT NULL DEFAULT 0,
	partitions   TEXT NOT NULL DEFAULT '',
	run_id       BIGINT NOT NULL DEFAULT 0,
	error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sensor_ticks_sensor ON sensor_ticks (sensor, id);
