-- 13: when a task became ready (its last upstream task succeeded), for
-- the age of the oldest ready task (weir_pool_oldest_ready_seconds). NULL
-- for tasks ready from the start: their run's creation is when.
-- +goose Up
ALTER TABLE tasks ADD COLUMN ready_at TEXT;
