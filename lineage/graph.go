package lineage

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
)

// Graph is the validated asset graph: the assets in topological order
// (every asset after its deps; ties in declaration order), their
// dependencies with resolved partition mappings, and walks over them.
type Graph struct {
	assets   []*pipelines.Asset
	byKey    map[string]*pipelines.Asset
	mappings map[[2]string]partitions.Mapping
	order    map[string]int      // topological position
	up       map[string][]string // direct deps
	down     map[string][]string // direct dependents, in topological order
}

// CycleError reports a dependency cycle. Path starts and ends with the same
// asset: [a b c a] means a depends on b, b on c, c on a.
type CycleError struct {
	Path []string
}

func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Path, " -> ")
}

// New validates assets as one graph and returns it. It reports every
// problem it finds, joined: invalid or duplicate keys, assets invalid on
// their own (pipelines.Asset.Validate), unknown deps, partition
// definitions that need a mapping, mappings that do not fit, and
// dependency cycles (as *CycleError).
func New(assets ...*pipelines.Asset) (*Graph, error) {
	g := &Graph{byKey: map[string]*pipelines.Asset{}, mappings: map[[2]string]partitions.Mapping{}, order: map[string]int{},
		up: map[string][]string{}, down: map[string][]string{}}
	byKey := g.byKey
	var errs []error
	for i, a := range assets {
		if a == nil {
			errs = append(errs, fmt.Errorf("asset #%d is nil", i+1))
			continue
		}
		if err := pipelines.CheckName("asset key", a.Key); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := byKey[a.Key]; dup {
			errs = append(errs, fmt.Errorf("asset %q is declared twice", a.Key))
			continue
		}
		byKey[a.Key] = a
	}
	var valid []*pipelines.Asset
	for _, a := range assets {
		if a != nil && byKey[a.Key] == a {
			valid = append(valid, a)
			if err := a.Validate(); err != nil {
				errs = append(errs, err)
			}
			errs = append(errs, g.checkDeps(a)...)
		}
	}
	order, err := topoOrder(valid, byKey)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g.assets = order
	for i, a := range order {
		g.order[a.Key] = i
		for _, d := range a.Deps {
			g.up[a.Key] = append(g.up[a.Key], d.Asset)
			g.down[d.Asset] = append(g.down[d.Asset], a.Key)
		}
	}
	return g, nil
}

// Must is New that panics, for package-level declarations, examples and
// tests.
func Must(assets ...*pipelines.Asset) *Graph {
	g, err := New(assets...)
	if err != nil {
		panic(err)
	}
	return g
}

// checkDeps checks a's dependencies against the other assets and resolves
// their partition mappings.
func (g *Graph) checkDeps(a *pipelines.Asset) []error {
	byKey := g.byKey
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("asset %q: "+format, append([]any{a.Key}, args...)...))
	}
	seen := map[string]bool{}
	for _, dep := range a.Deps {
		up, ok := byKey[dep.Asset]
		switch {
		case dep.Asset == a.Key:
			bad("depends on itself")
			continue
		case !ok:
			bad("depends on unknown asset %q%s", dep.Asset, suggest(dep.Asset, byKey))
			continue
		case seen[dep.Asset]:
			bad("lists dep %q twice", dep.Asset)
			continue
		}
		seen[dep.Asset] = true
		m := dep.Mapping
		if m == nil {
			var err error
			if m, err = partitions.DefaultMapping(a.PartitionsDef(), up.PartitionsDef()); err != nil {
				bad("dep %q: %v", dep.Asset, err)
				continue
			}
		} else if err := m.Check(a.PartitionsDef(), up.PartitionsDef()); err != nil {
			bad("dep %q: %v", dep.Asset, err)
			continue
		}
		g.mappings[[2]string{a.Key, dep.Asset}] = m
	}

	return errs
}

// topoOrder sorts assets so deps come first, keeping declaration order
// among independent assets, or returns a *CycleError.
func topoOrder(assets []*pipelines.Asset, byKey map[string]*pipelines.Asset) ([]*pipelines.Asset, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []*pipelines.Asset
	var stack []string
	var visit func(a *pipelines.Asset) error
	visit = func(a *pipelines.Asset) error {
		switch state[a.Key] {
		case done:
			return nil
		case visiting:
			i := slices.Index(stack, a.Key)
			return &CycleError{Path: append(slices.Clone(stack[i:]), a.Key)}
		}
		state[a.Key] = visiting
		stack = append(stack, a.Key)
		for _, dep := range a.Deps {
			if up, ok := byKey[dep.Asset]; ok && up != a {
				if err := visit(up); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[a.Key] = done
		order = append(order, a)
		return nil
	}
	for _, a := range assets {
		if err := visit(a); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Assets returns the assets in topological order.
func (g *Graph) Assets() []*pipelines.Asset { return slices.Clone(g.assets) }

// Keys returns every asset key in topological order.
func (g *Graph) Keys() []string {
	keys := make([]string, len(g.assets))
	for i, a := range g.assets {
		keys[i] = a.Key
	}
	return keys
}

// Asset returns the asset with key, or an error that suggests the closest
// keys.
func (g *Graph) Asset(key string) (*pipelines.Asset, error) {
	if a, ok := g.byKey[key]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("unknown asset %q%s", key, suggest(key, g.byKey))
}

// Mapping returns the partition mapping of asset's dependency on dep, with
// the default resolved.
func (g *Graph) Mapping(asset, dep string) partitions.Mapping {
	return g.mappings[[2]string{asset, dep}]
}

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

// suggest returns ` (did you mean "x"?)` for the closest keys, or "".
func suggest[V any](key string, known map[string]V) string {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	if best := Closest(key, names, 3); len(best) > 0 {
		return fmt.Sprintf(" (did you mean %s?)", quoteJoin(best))
	}
	if len(names) > 0 && len(names) <= 12 {
		slices.Sort(names)
		return fmt.Sprintf(" (known: %s)", strings.Join(names, ", "))
	}
	return ""
}

func quoteJoin(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, " or ")
}

// Closest returns up to n names nearest to key by edit distance, nearest
// first, leaving out names too far away to be a typo.
func Closest(key string, names []string, n int) []string {
	type cand struct {
		name string
		dist int
	}
	var cs []cand
	for _, name := range names {
		dist := editDistance(strings.ToLower(key), strings.ToLower(name))
		if strings.Contains(name, key) || strings.Contains(key, name) {
			dist = min(dist, 1)
		}
		if dist <= max(2, len(key)/3) {
			cs = append(cs, cand{name, dist})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
