-- 20: an asset's status is read from a summary a reader kept (its
-- partition states as interval sets, opaque to the store) and the
-- asset_partitions rows that changed since, instead of one row per
-- partition (1.75 M rows, seconds, at 20 assets x 87,600 hours).
--
-- Every write of an asset_partitions row sets changed to one more than the
-- largest there is (writers are serialized, so marks grow in commit
-- order); a reader takes that next mark before it reads, and reads
-- changed >= mark next time. The index on changed alone finds the largest;
-- the one on (asset, changed) an asset's changes.
-- +goose Up
ALTER TABLE asset_partitions ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX asset_partitions_changed ON asset_partitions (asset, changed);
CREATE INDEX asset_partitions_last_change ON asset_partitions (changed);
CREATE TABLE asset_status_summaries (
	asset      TEXT PRIMARY KEY,
	definition TEXT NOT NULL,
	mark       INTEGER NOT NULL,
	epoch      INTEGER NOT NULL,
	body       BLOB NOT NULL
);
