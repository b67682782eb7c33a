-- 6: each run's task counts (per asset and state) and pace (compute starts
-- and successes per second), kept as tasks change state, so a run's status
-- and progress read a few rows instead of scanning its tasks (a backfill of
-- millions). Each transaction adds its changes to one of 16 slots, chosen
-- at random, so concurrent workers rarely wait for each other's row;
-- readers sum the slots.
-- +goose Up
CREATE TABLE run_counts (
	run_id     BIGINT NOT NULL,
	asset      TEXT NOT NULL,
	state      TEXT NOT NULL,
	slot       INTEGER NOT NULL,
	tasks      BIGINT NOT NULL,
	partitions BIGINT NOT NULL,
	PRIMARY KEY (run_id, asset, state, slot)
) WITHOUT ROWID;
INSERT INTO run_counts (run_id, asset, state, slot, tasks, partitions)
	SELECT run_id, asset, state, 0, count(*), sum(partition_count) FROM tasks GROUP BY run_id, asset, state;
CREATE TABLE run_pace (
	run_id   BIGINT NOT NULL,
	second   BIGINT NOT NULL,
	slot     INTEGER NOT NULL,
	started  BIGINT NOT NULL,
	finished BIGINT NOT NULL,
	PRIMARY KEY (run_id, second, slot)
) WITHOUT ROWID;
