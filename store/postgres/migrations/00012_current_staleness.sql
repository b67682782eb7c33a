-- 12: what makes a current version stale is kept on its asset_partitions
-- row, so `weir assets status` and `--reprocess stale` read one row per
-- partition instead of joining every input ever recorded (10 M rows at
-- 20 assets x 87,600 hours): the code version that made it, and
-- input_stale, set when a partition it read has had another version
-- promoted since (kept up by each promotion, in its transaction).
-- +goose Up
ALTER TABLE asset_partitions ADD COLUMN code_version TEXT NOT NULL DEFAULT '';
ALTER TABLE asset_partitions ADD COLUMN input_stale BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE asset_partitions SET code_version = (SELECT m.code_version FROM materializations m WHERE m.id = asset_partitions.materialization_id)
	WHERE materialization_id IS NOT NULL;
UPDATE asset_partitions SET input_stale = TRUE WHERE materialization_id IN (
	SELECT mi.materialization_id FROM materialization_inputs mi
	JOIN asset_partitions up ON up.asset = mi.upstream_asset AND up.partition_key = mi.upstream_partition
	WHERE up.version != mi.upstream_version);
CREATE INDEX asset_partitions_input_stale ON asset_partitions (asset) WHERE input_stale;
