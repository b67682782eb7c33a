-- 10: what `weir verify` last found wrong with a partition's current version
-- (altered or missing files); '' when it verified. A new promotion clears it.
-- A partition whose current version failed verification is stale.
-- +goose Up
ALTER TABLE asset_partitions ADD COLUMN verify_error TEXT NOT NULL DEFAULT '';
