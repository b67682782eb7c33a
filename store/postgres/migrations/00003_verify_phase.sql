-- 3: verification as its own phase of a task: what the compute phase
-- staged, and each attempt's phase.
-- +goose Up
ALTER TABLE tasks ADD COLUMN phase TEXT NOT NULL DEFAULT 'compute';
ALTER TABLE tasks ADD COLUMN staged TEXT NOT NULL DEFAULT '';
ALTER TABLE task_attempts ADD COLUMN phase TEXT NOT NULL DEFAULT 'compute';
