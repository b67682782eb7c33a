// Package lineage owns the asset graph: New validates assets as one graph
// (unknown deps, partition mappings, cycles, every problem at once) and
// orders them topologically; the graph answers upstream and downstream
// walks and the selection syntax that picks assets from it. Runtime lineage (which input versions
// produced which output version) is recorded by the state store
// (materialization inputs) and exported by lineage/openlineage; queries
// over it are not here yet.
package lineage
