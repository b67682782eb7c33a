-- 8: leader leases: one holder at a time leads a role (the schedule daemon),
-- until its lease expires unrenewed; the token rises with every new holder.
-- +goose Up
CREATE TABLE leaders (
	role       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	token      BIGINT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
