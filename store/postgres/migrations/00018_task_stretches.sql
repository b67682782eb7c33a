-- 18: status finds an asset's unfinished tasks as stretches of consecutive
-- ids by index seeks (the first unfinished task of an asset after an id,
-- the first finished task of a run after an id), not by reading a row per
-- pending task: both indexes carry the id. (SQLite's indexes end with the
-- rowid, the id, already.)
-- +goose Up
CREATE INDEX tasks_asset_active_id ON tasks (asset, id) WHERE state IN ('pending', 'running');
DROP INDEX tasks_asset_active;
ALTER INDEX tasks_asset_active_id RENAME TO tasks_asset_active;
CREATE INDEX tasks_run_state_id ON tasks (run_id, state, id);
DROP INDEX tasks_run_state;
ALTER INDEX tasks_run_state_id RENAME TO tasks_run_state;
