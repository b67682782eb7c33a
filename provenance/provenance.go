// Package provenance answers, from the runtime lineage the state store
// records, what a partition's current version was computed from (the exact
// upstream versions, transitively, down to the sources) and which current
// versions read it (its impact), as trees, and writes them as text, JSON,
// Graphviz dot or Mermaid.
package provenance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weir-dev/weir/store"
)

// Node is one version of one partition in a lineage tree.
type Node struct {
	Asset       string    `json:"asset"`
	Partition   string    `json:"partition"`
	Version     string    `json:"version"`
	CodeVersion string    `json:"code_version"`
	RunID       int64     `json:"run_id"`
	PromotedAt  time.Time `json:"promoted_at"`
	// Current says the version is its partition's current one.
	Current bool `json:"current"`
	// Unknown says the store has no materialization of the version (its
	// record was removed, or it was made outside weir).
	Unknown bool `json:"unknown,omitempty"`
	// Children are the versions it read (Upstream) or the current versions
	// that read it (Downstream).
	Children []*Node `json:"children"`
	// Truncated says the tree stops here at its depth, with more below.
	Truncated bool `json:"truncated,omitempty"`
}

// ErrNotMaterialized: the partition has no current version to start from.
var ErrNotMaterialized = errors.New("no current version")

// current returns the node of a partition's current version.
func current(ctx context.Context, cat store.Catalog, asset, partition string) (*Node, int64, error) {
	cur, err := cat.PartitionCurrentList(ctx, asset, []string{partition})
	if err != nil {
		return nil, 0, err
	}
	if len(cur) == 0 {
		return nil, 0, fmt.Errorf("%s %s: %w (materialize it first)", asset, partition, ErrNotMaterialized)
	}
	n, id, err := version(ctx, cat, store.Input{Asset: asset, PartitionKey: partition, Version: cur[0].Version})
	if n != nil {
		n.Current = true
	}
	return n, id, err
}

// version returns the node of one version, and its materialization id (0
// when unknown).
func version(ctx context.Context, cat store.Catalog, in store.Input) (*Node, int64, error) {
	n := &Node{Asset: in.Asset, Partition: in.PartitionKey, Version: in.Version, Children: []*Node{}}
	mats, err := cat.MaterializationList(ctx, store.MaterializationListParams{Asset: in.Asset, PartitionKey: in.PartitionKey, Limit: -1})
	if err != nil {
		return nil, 0, err
	}
	for _, m := range mats {
		if m.Version == in.Version {
			n.CodeVersion, n.RunID, n.PromotedAt = m.CodeVersion, m.RunID, m.PromotedAt.UTC()
			cur, err := cat.PartitionCurrentList(ctx, in.Asset, []string{in.PartitionKey})
			if err != nil {
				return nil, 0, err
			}
			n.Current = len(cur) > 0 && cur[0].Version == in.Version
			return n, m.ID, nil
		}
	}
	n.Unknown = true
	return n, 0, nil
}

// Upstream returns the tree of what the current version of a partition
// read, depth levels down (depth < 0: to the sources).
func Upstream(ctx context.Context, cat store.Catalog, asset, partition string, depth int) (*Node, error) {
	root, id, err := current(ctx, cat, asset, partition)
	if err != nil {
		return nil, err
	}
	return root, upstream(ctx, cat, root, id, depth)
}

func upstream(ctx context.Context, cat store.Catalog, n *Node, id int64, depth int) error {
	if id == 0 {
		return nil
	}
	ins, err := cat.MaterializationInputs(ctx, id)
	if err != nil {
		return err
	}
	if depth == 0 {
		n.Truncated = len(ins) > 0
		return nil
	}
	for _, in := range ins {
		child, cid, err := version(ctx, cat, in)
		if err != nil {
			return err
		}
		if err := upstream(ctx, cat, child, cid, depth-1); err != nil {
			return err
		}
		n.Children = append(n.Children, child)
	}
	return nil
}

// Downstream returns the tree of the current versions that read the
// current version of a partition, depth levels up (depth < 0: all).
func Downstream(ctx context.Context, cat store.Catalog, asset, partition string, depth int) (*Node, error) {
	root, _, err := current(ctx, cat, asset, partition)
	if err != nil {
		return nil, err
	}
	return root, downstream(ctx, cat, root, depth)
}

func downstream(ctx context.Context, cat store.Catalog, n *Node, depth int) error {
	readers, err := cat.CurrentReaders(ctx, store.Input{Asset: n.Asset, PartitionKey: n.Partition, Version: n.Version})
	if err != nil {
		return err
	}
	if depth == 0 {
		n.Truncated = len(readers) > 0
		return nil
	}
	for _, m := range readers {
		child := &Node{Asset: m.Asset, Partition: m.PartitionKey, Version: m.Version, CodeVersion: m.CodeVersion, RunID: m.RunID,
			PromotedAt: m.PromotedAt.UTC(), Current: true, Children: []*Node{}}
		if err := downstream(ctx, cat, child, depth-1); err != nil {
			return err
		}
		n.Children = append(n.Children, child)
	}
	return nil
}
