-- 11: a task's materializations and check results are found by (run, task):
-- the OpenLineage emitter reads them as each task ends, and a run can hold
-- millions of tasks. The run index gains the task column (no new index).
-- +goose Up
DROP INDEX materializations_run;
CREATE INDEX materializations_run ON materializations (run_id, task_id);
DROP INDEX check_results_run;
CREATE INDEX check_results_run ON check_results (run_id, task_id);
