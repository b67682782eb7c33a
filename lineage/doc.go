// Package lineage owns the asset graph: the static graph of declared
// dependencies (topological order, upstream and downstream walks), the
// selection syntax that picks assets from it, and, as runs record them, the
// runtime lineage of which input versions produced which output version.
package lineage
