-- 20: an asset's status is read from a summary a reader kept (its
-- partition states as interval sets, opaque to the store) and the
-- asset_partitions rows that changed since, instead of one row per
-- partition (1.75 M rows, seconds, at 20 assets x 87,600 hours).
--
-- Every write of an asset_partitions row sets changed to its transaction's
-- id. A reader takes the oldest transaction still running
-- (pg_snapshot_xmin) as its mark before it reads; every row committed
-- later has changed >= that mark, so reading changed >= mark next time
-- misses nothing (and re-reads a few rows, which is harmless). The
-- default covers inserts that name no mark. Transaction ids do not carry
-- over a dump restored into another database: a summary holds the
-- database's oid (epoch) and one of another database is not used.
-- +goose Up
ALTER TABLE asset_partitions ADD COLUMN changed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE asset_partitions ALTER COLUMN changed SET DEFAULT pg_current_xact_id()::text::bigint;
CREATE INDEX asset_partitions_changed ON asset_partitions (asset, changed);
CREATE TABLE asset_status_summaries (
	asset      TEXT PRIMARY KEY,
	definition TEXT NOT NULL,
	mark       BIGINT NOT NULL,
	epoch      BIGINT NOT NULL,
	body       BYTEA NOT NULL
);
