-- 17: why a partition's last attempt failed: '' (its own work failed),
-- 'check' (a blocking check refused its output) or 'upstream' (it was not
-- run: a partition it reads failed). Freshness deadlines say why a late
-- partition is late from it.
-- +goose Up
ALTER TABLE asset_partitions ADD COLUMN fail_cause TEXT NOT NULL DEFAULT '';
