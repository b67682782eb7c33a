// Package pipelines is the API data engineers declare assets with: an Asset
// names its key, its dependencies (with partition mappings), its partitions,
// code version, pool, retry policy, timeout, tags, group, checks, and the
// compute function that produces it. Definitions validates a set of assets
// when it is built and is what a user's main hands to weir.
//
// The package declares; it runs nothing.
package pipelines
