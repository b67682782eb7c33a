// Package partitions owns weir's partition algebra: partition definitions (time
// windows with a time zone, static key lists, dynamic keys, two-dimensional
// products), their canonical keys, compact partition subsets kept as interval
// sets of partition indexes, and mappings from a downstream partition subset to
// the upstream partitions it reads.
//
// Every definition orders its partitions, so a set of partitions is a set of
// indexes, stored as sorted, disjoint half-open ranges ([Subset]). Ten years of
// hourly partitions is one range. Mappings work on whole subsets, never one key
// at a time (except for small static key maps).
//
// The package imports no other weir package.
package partitions
