-- 4: the runs whose tasks a run's tasks wait for (ranges, "4,7-9").
-- +goose Up
ALTER TABLE runs ADD COLUMN waits_for TEXT NOT NULL DEFAULT '';
