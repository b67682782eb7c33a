package sqlite

// migrations are applied in order; each runs once, in its own transaction,
// and is recorded in schema_migrations. Append, never edit.
var migrations = []string{
	// 1: runs, tasks, attempts, materializations, lineage, partition status,
	// dynamic partitions.
	`
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
`,
	// 2: backfills: run priority, order, throttles, circuit breaker, audit
	// events; leasing by run.
	`
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN task_order TEXT NOT NULL DEFAULT 'oldest-first';
ALTER TABLE runs ADD COLUMN pool TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN max_concurrent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN rate_per_sec REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN rate_tat TEXT;              -- GCRA: when the next start is allowed
ALTER TABLE runs ADD COLUMN breaker_max_failure_rate REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN breaker_min_tasks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN breaker_max_consecutive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN breaker_finished INTEGER NOT NULL DEFAULT 0;     -- since creation or the last resume
ALTER TABLE runs ADD COLUMN breaker_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN breaker_consecutive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN trip_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN last_lease_at TEXT;          -- for aging
ALTER TABLE runs ADD COLUMN plan TEXT NOT NULL DEFAULT '';  -- the caller's plan summary (JSON)
CREATE INDEX runs_active ON runs (id) WHERE status IN ('running', 'paused', 'tripped');
ALTER TABLE tasks ADD COLUMN base_attempts INTEGER NOT NULL DEFAULT 1;
UPDATE tasks SET base_attempts = max_attempts;
DROP INDEX tasks_ready;  -- leasing reads each active run's ready tasks (tasks_ready_run)
CREATE INDEX tasks_run_finished ON tasks (run_id, finished_at) WHERE state = 'succeeded';
CREATE TABLE run_events (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id INTEGER NOT NULL REFERENCES runs (id),
	at     TEXT NOT NULL,
	kind   TEXT NOT NULL,
	actor  TEXT NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX run_events_run ON run_events (run_id, id);
CREATE INDEX materializations_run ON materializations (run_id);
CREATE INDEX check_results_run ON check_results (run_id);
`,
	// 3: verification as its own phase of a task: what the compute phase
	// staged, and each attempt's phase.
	`
ALTER TABLE tasks ADD COLUMN phase TEXT NOT NULL DEFAULT 'compute';
ALTER TABLE tasks ADD COLUMN staged TEXT NOT NULL DEFAULT '';
ALTER TABLE task_attempts ADD COLUMN phase TEXT NOT NULL DEFAULT 'compute';
`,
	// 4: the runs whose tasks a run's tasks wait for (ranges, "4,7-9").
	`
ALTER TABLE runs ADD COLUMN waits_for TEXT NOT NULL DEFAULT '';
`,
}
