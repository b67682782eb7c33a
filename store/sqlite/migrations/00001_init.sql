-- 1: runs, tasks, attempts, materializations, lineage, partition status,
-- dynamic partitions.
-- +goose Up
CREATE TABLE runs (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	kind        TEXT NOT NULL,
	selection   TEXT NOT NULL,
	assets      TEXT NOT NULL,  -- JSON array of asset keys
	partitions  TEXT NOT NULL,
	reprocess   TEXT NOT NULL,
	status      TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	finished_at TEXT,
	error       TEXT NOT NULL DEFAULT ''
);
CREATE TABLE tasks (
	id              INTEGER PRIMARY KEY,
	run_id          INTEGER NOT NULL REFERENCES runs (id),
	asset           TEXT NOT NULL,
	partition_first TEXT NOT NULL,
	partition_last  TEXT NOT NULL,
	partition_count INTEGER NOT NULL,
	state           TEXT NOT NULL,
	attempt         INTEGER NOT NULL DEFAULT 0,
	max_attempts    INTEGER NOT NULL,
	pool            TEXT NOT NULL,
	priority        INTEGER NOT NULL DEFAULT 0,
	rank            INTEGER NOT NULL DEFAULT 0,
	waiting         INTEGER NOT NULL DEFAULT 0, -- upstream tasks not yet succeeded
	dependents      TEXT NOT NULL DEFAULT '',   -- task ids, "12-20,31"
	not_before      TEXT,
	lease_token     INTEGER NOT NULL DEFAULT 0,
	lease_expires_at TEXT,
	worker          TEXT NOT NULL DEFAULT '',
	started_at      TEXT,
	finished_at     TEXT,
	error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tasks_run_state ON tasks (run_id, state);
CREATE INDEX tasks_ready ON tasks (priority DESC, rank, id) WHERE state = 'pending' AND waiting = 0;
CREATE INDEX tasks_ready_run ON tasks (run_id, priority DESC, rank, id) WHERE state = 'pending' AND waiting = 0;
CREATE INDEX tasks_running ON tasks (lease_expires_at) WHERE state = 'running';
CREATE INDEX tasks_pool_running ON tasks (pool) WHERE state = 'running';
CREATE INDEX tasks_asset_active ON tasks (asset) WHERE state IN ('pending', 'running');
CREATE TABLE pools (
	name        TEXT PRIMARY KEY,
	max_running INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE task_attempts (
	task_id     INTEGER NOT NULL REFERENCES tasks (id),
	attempt     INTEGER NOT NULL,
	worker      TEXT NOT NULL,
	state       TEXT NOT NULL,
	started_at  TEXT NOT NULL,
	finished_at TEXT,
	error       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (task_id, attempt)
) WITHOUT ROWID;
CREATE TABLE materializations (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	asset           TEXT NOT NULL,
	partition_key   TEXT NOT NULL,
	version         TEXT NOT NULL,
	run_id          INTEGER NOT NULL,
	task_id         INTEGER NOT NULL,
	attempt         INTEGER NOT NULL,
	code_version    TEXT NOT NULL,
	manifest_sha256 TEXT NOT NULL,
	files           INTEGER NOT NULL,
	bytes           INTEGER NOT NULL,
	started_at      TEXT NOT NULL,
	promoted_at     TEXT NOT NULL,
	UNIQUE (asset, partition_key, version)
);
CREATE INDEX materializations_asset ON materializations (asset, partition_key, id);
CREATE TABLE materialization_inputs (
	materialization_id INTEGER NOT NULL REFERENCES materializations (id),
	upstream_asset     TEXT NOT NULL,
	upstream_partition TEXT NOT NULL,
	upstream_version   TEXT NOT NULL
);
CREATE INDEX materialization_inputs_mat ON materialization_inputs (materialization_id);
CREATE INDEX materialization_inputs_upstream ON materialization_inputs (upstream_asset, upstream_partition, upstream_version);
CREATE TABLE asset_partitions (
	asset              TEXT NOT NULL,
	partition_key      TEXT NOT NULL,
	materialization_id INTEGER REFERENCES materializations (id),
	version            TEXT NOT NULL DEFAULT '',
	manifest_sha256    TEXT NOT NULL DEFAULT '',
	failed             INTEGER NOT NULL DEFAULT 0,
	failed_run_id      INTEGER NOT NULL DEFAULT 0,
	error              TEXT NOT NULL DEFAULT '',
	updated_at         TEXT NOT NULL,
	PRIMARY KEY (asset, partition_key)
) WITHOUT ROWID;
CREATE TABLE check_results (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	asset      TEXT NOT NULL,
	partitions TEXT NOT NULL,
	run_id     BIGINT NOT NULL,
	task_id    BIGINT NOT NULL,
	attempt    INTEGER NOT NULL,
	name       TEXT NOT NULL,
	warn       INTEGER NOT NULL,
	passed     INTEGER NOT NULL,
	value      TEXT NOT NULL,
	error      TEXT NOT NULL,
	checked_at TEXT NOT NULL
);
CREATE INDEX check_results_asset ON check_results (asset, id);
CREATE TABLE dynamic_partitions (
	name     TEXT NOT NULL,
	key      TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	added_at TEXT NOT NULL,
	PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX dynamic_partitions_seq ON dynamic_partitions (name, seq);
