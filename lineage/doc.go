// Package lineage owns the static asset graph: declared dependencies in
// topological order, upstream and downstream walks, and the selection
// syntax that picks assets from it. Runtime lineage (which input versions
// produced which output version) is recorded by the state store
// (materialization inputs) and exported by lineage/openlineage; queries
// over it are not here yet.
package lineage
