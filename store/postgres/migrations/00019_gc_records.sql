-- 19: garbage collection reads the store instead of listing the bucket.
-- Each compute attempt gets its version id when it is leased (tasks.version,
-- kept through the verify phase; task_attempts.version), before it writes
-- an object, so every version prefix in the bucket is named by a row first.
-- A promoted version is marked superseded when another version of its
-- partition is promoted; both kinds are marked collected once gc deleted
-- their objects. The partial indexes hold only what gc may still delete,
-- so it reads what is garbage, not everything there is. An attempt that
-- ended without promoting is marked unpromoted as it ends: an index on its
-- state would make every attempt's end a non-HOT update on PostgreSQL.
-- +goose Up
ALTER TABLE tasks ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE task_attempts ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE task_attempts ADD COLUMN unpromoted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE task_attempts ADD COLUMN collected BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE materializations ADD COLUMN superseded BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE materializations ADD COLUMN collected BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE materializations SET superseded = TRUE WHERE NOT EXISTS (SELECT 1 FROM asset_partitions ap
	WHERE ap.asset = materializations.asset AND ap.partition_key = materializations.partition_key AND ap.materialization_id = materializations.id);
CREATE INDEX materializations_superseded ON materializations (asset, partition_key, id) WHERE superseded AND NOT collected;
CREATE INDEX task_attempts_unpromoted ON task_attempts (task_id, attempt) WHERE unpromoted AND NOT collected;
CREATE INDEX tasks_staged ON tasks (asset, id) WHERE phase = 'verify' AND state IN ('pending', 'running');
