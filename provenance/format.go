package provenance

import (
	"fmt"
	"io"
	"strings"

	"github.com/weir-dev/weir/lineage"
)

// AssetTree returns the asset graph around key as a tree of assets (no
// partitions, no versions): its dependencies (upstream) or dependents,
// depth levels away (depth < 0: all).
func AssetTree(g *lineage.Graph, key string, upstream bool, depth int) (*Node, error) {
	if _, err := g.Asset(key); err != nil {
		return nil, err
	}
	var grow func(k string, depth int) *Node
	grow = func(k string, depth int) *Node {
		n := &Node{Asset: k, Children: []*Node{}}
		var next []string
		if upstream {
			a, _ := g.Asset(k)
			for _, d := range a.Deps {
				next = append(next, d.Asset)
			}
		} else {
			next = g.Dependents(k)
		}
		if depth == 0 {
			n.Truncated = len(next) > 0
			return n
		}
		for _, c := range next {
			n.Children = append(n.Children, grow(c, depth-1))
		}
		return n
	}
	return grow(key, depth), nil
}

// label names a node: "asset", or "asset partition version".
func (n *Node) label() string {
	if n.Partition == "" && n.Version == "" {
		return n.Asset
	}
	return n.Asset + " " + n.Partition + " " + n.Version
}

// WriteText writes the tree indented, a node a line.
func WriteText(w io.Writer, root *Node) error {
	var walk func(n *Node, depth int) error
	walk = func(n *Node, depth int) error {
		line := strings.Repeat("  ", depth) + n.label()
		var notes []string
		if n.Version != "" {
			if n.CodeVersion != "" {
				notes = append(notes, "code "+n.CodeVersion)
			}
			if n.RunID != 0 {
				notes = append(notes, fmt.Sprintf("run %d", n.RunID))
			}
			if !n.Current {
				notes = append(notes, "not current")
			}
		}
		if n.Unknown {
			notes = append(notes, "not in the store")
		}
		if n.Truncated {
			notes = append(notes, "more below: raise --depth")
		}
		if len(notes) > 0 {
			line += " (" + strings.Join(notes, ", ") + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
		for _, c := range n.Children {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root, 0)
}

// edges returns the tree's nodes and its edges in the direction data
// flows (input to reader), each once, in the order met.
func edges(root *Node, upstream bool) (nodes []*Node, flows [][2]string) {
	seenNode, seenEdge := map[string]bool{}, map[[2]string]bool{}
	var walk func(n *Node)
	walk = func(n *Node) {
		if !seenNode[n.label()] {
			seenNode[n.label()] = true
			nodes = append(nodes, n)
		}
		for _, c := range n.Children {
			e := [2]string{n.label(), c.label()} // reader to input (upstream)
			if upstream {
				e = [2]string{c.label(), n.label()}
			}
			if !seenEdge[e] {
				seenEdge[e] = true
				flows = append(flows, e)
			}
			walk(c)
		}
	}
	walk(root)
	return nodes, flows
}

// WriteDot writes the tree as a Graphviz digraph whose edges go the way
// data flows. upstream says the tree is an Upstream one (children are
// inputs).
func WriteDot(w io.Writer, root *Node, upstream bool) error {
	nodes, flows := edges(root, upstream)
	var b strings.Builder
	b.WriteString("digraph lineage {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "  %q;\n", n.label())
	}
	for _, e := range flows {
		fmt.Fprintf(&b, "  %q -> %q;\n", e[0], e[1])
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid writes the tree as a Mermaid flowchart whose edges go the
// way data flows.
func WriteMermaid(w io.Writer, root *Node, upstream bool) error {
	nodes, flows := edges(root, upstream)
	id := map[string]string{}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, n := range nodes {
		id[n.label()] = fmt.Sprintf("n%d", i)
		fmt.Fprintf(&b, "  n%d[\"%s\"]\n", i, strings.ReplaceAll(n.label(), `"`, "#quot;"))
	}
	for _, e := range flows {
		fmt.Fprintf(&b, "  %s --> %s\n", id[e[0]], id[e[1]])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
