-- 15: the alert outbox. An event is recorded once per sink under its dedup
-- key (the unique index), then delivered, retried with backoff, by the
-- daemon that leads: alerts survive restarts and failover and are sent
-- once per event. Runs are found by when they finished, for the alerts of
-- runs that ended.
-- +goose Up
CREATE TABLE alerts (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	sink         TEXT NOT NULL,
	dedup_key    TEXT NOT NULL,
	kind         TEXT NOT NULL,
	severity     TEXT NOT NULL,
	asset        TEXT NOT NULL DEFAULT '',
	partitions   TEXT NOT NULL DEFAULT '',
	run_id       BIGINT NOT NULL DEFAULT 0,
	message      TEXT NOT NULL,
	at           TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      TEXT NOT NULL,
	delivered_at TEXT,
	last_error   TEXT NOT NULL DEFAULT '',
	UNIQUE (sink, dedup_key)
);
CREATE INDEX alerts_due ON alerts (next_at) WHERE delivered_at IS NULL;
CREATE INDEX runs_finished_at ON runs (finished_at) WHERE finished_at IS NOT NULL;
