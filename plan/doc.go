// Package plan is weir's pure planning: it turns a selection, a partition
// request and a reprocess policy into the smallest set of partitions to
// compute, per asset, as interval sets, checks that every upstream
// partition they read is materialized or planned, and expands a plan into
// tasks (one partition, or a consecutive range up to the asset's
// MaxPartitionsPerRun) with their dependencies in compressed sparse rows.
// It reads the state store only through StatusReader and runs nothing.
package plan
