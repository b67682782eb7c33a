package lineage

import (
	"github.com/weir-dev/weir/pipelines"
)

// Graph is the static asset graph of a set of Definitions.
type Graph struct {
	defs  *pipelines.Definitions
	order map[string]int      // topological position
	up    map[string][]string // direct deps
	down  map[string][]string // direct dependents, in topological order
}

// NewGraph builds the graph of defs. Definitions are already validated, so
// this cannot fail.
func NewGraph(defs *pipelines.Definitions) *Graph {
	g := &Graph{defs: defs, order: map[string]int{}, up: map[string][]string{}, down: map[string][]string{}}
	for i, a := range defs.Assets() {
		g.order[a.Key] = i
		for _, d := range a.Deps {
			g.up[a.Key] = append(g.up[a.Key], d.Asset)
			g.down[d.Asset] = append(g.down[d.Asset], a.Key)
		}
	}
	return g
}

// Definitions returns the definitions the graph was built from.
func (g *Graph) Definitions() *pipelines.Definitions { return g.defs }

// Keys returns every asset key in topological order.
func (g *Graph) Keys() []string { return g.defs.Keys() }

// Deps returns the direct upstream assets of key.
func (g *Graph) Deps(key string) []string { return g.up[key] }

// Dependents returns the direct downstream assets of key.
func (g *Graph) Dependents(key string) []string { return g.down[key] }

// Upstream returns key's upstream assets up to depth levels away (depth < 0:
// all), not including key.
func (g *Graph) Upstream(key string, depth int) []string { return g.walk(key, depth, g.up) }

// Downstream returns key's downstream assets up to depth levels away
// (depth < 0: all), not including key.
func (g *Graph) Downstream(key string, depth int) []string { return g.walk(key, depth, g.down) }

func (g *Graph) walk(key string, depth int, next map[string][]string) []string {
	seen := map[string]bool{key: true}
	frontier := []string{key}
	var out []string
	for level := 0; len(frontier) > 0 && (depth < 0 || level < depth); level++ {
		var nf []string
		for _, k := range frontier {
			for _, n := range next[k] {
				if !seen[n] {
					seen[n] = true
					nf = append(nf, n)
					out = append(out, n)
				}
			}
		}
		frontier = nf
	}
	return g.Sort(out)
}

// Sort orders keys topologically, in place, and returns them.
func (g *Graph) Sort(keys []string) []string {
	// insertion sort is fine for graph-sized inputs; keep it allocation-free.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && g.order[keys[j]] < g.order[keys[j-1]]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
