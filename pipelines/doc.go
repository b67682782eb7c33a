// Package pipelines is the API data engineers declare assets with: an Asset
// names its key, its dependencies (with partition mappings), its partitions,
// code version, pool, retry policy, timeout, tags, group, checks, and the
// compute function that produces it. Asset.Validate checks an asset on its
// own; lineage.New validates assets as a graph (deps, mappings, cycles). A
// user's main hands its assets to weircli.Main.
//
// The package declares; it runs nothing.
package pipelines
