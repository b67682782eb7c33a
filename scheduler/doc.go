// Package scheduler runs planned work: Enqueue stores a run and its tasks
// in one transaction, workers (any number, in any processes) lease runnable
// tasks within the runs' throttles and pools' quotas, compute, stage,
// verify and promote them fenced by their lease tokens, heartbeat, retry
// with exponential backoff and full jitter, and reap the leases of dead
// workers. The Executor is a worker for one run in this process. Progress,
// estimates and audit reports of runs are computed here too, for every
// front end (CLI, HTTP API, UI) alike.
//
// Planning is package plan's; writing, auditing and promoting outputs is
// package verify's. The scheduler knows no blob layout.
package scheduler
