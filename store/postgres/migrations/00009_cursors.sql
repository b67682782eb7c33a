-- 9: named cursors: how far a reader of an append-only table got (the
-- schedule daemon's eager automation reads materializations past it).
-- +goose Up
CREATE TABLE cursors (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
