// Package scheduler decides what runs and runs it. The planner turns a
// selection, a partition request and a reprocess policy into the smallest set
// of partitions to compute, per asset, as interval sets, and checks that
// every upstream partition they read is materialized or planned. A plan
// expands into tasks (one partition, or a consecutive range up to the
// asset's MaxPartitionsPerRun) with their dependencies. The executor stores a
// run and its tasks, then runs them on a pool of goroutines: downstream tasks
// start as soon as their upstream tasks are promoted, failed attempts retry
// with exponential backoff and full jitter, and a task's timeout is its
// context's deadline.
//
// The scheduler knows no blob layout: writing, auditing and promoting
// outputs is package verify's.
package scheduler
