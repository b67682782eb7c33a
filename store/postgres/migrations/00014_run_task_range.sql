-- 14: a run's tasks have consecutive ids; the run row keeps their range so
-- that reads of one run's tasks in id order (pages of tasks list, runs
-- show --tasks, the backfill report) go by the primary key instead of
-- sorting the run's index entries (1.75 M of them for a ten-year hourly
-- backfill). 0, 0 for a run without tasks.
-- +goose Up
ALTER TABLE runs ADD COLUMN first_task_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN last_task_id BIGINT NOT NULL DEFAULT 0;
UPDATE runs SET first_task_id = coalesce((SELECT min(id) FROM tasks WHERE tasks.run_id = runs.id), 0),
	last_task_id = coalesce((SELECT max(id) FROM tasks WHERE tasks.run_id = runs.id), 0);
