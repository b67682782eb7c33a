-- 18: status finds an asset's unfinished tasks as stretches of consecutive
-- ids by index seeks. SQLite's indexes end with the rowid (the task's id)
-- already, so tasks_asset_active and tasks_run_state serve as they are;
-- PostgreSQL's gain the id. The version is kept in step with PostgreSQL's.
-- +goose Up
SELECT 1;
