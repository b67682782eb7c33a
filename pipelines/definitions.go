package pipelines

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/weir-dev/weir/partitions"
)

// Definitions is a validated set of assets, in topological order (every
// asset after its deps; ties in declaration order).
type Definitions struct {
	assets   []*Asset
	byKey    map[string]*Asset
	mappings map[[2]string]partitions.Mapping
}

// CycleError reports a dependency cycle. Path starts and ends with the same
// asset: [a b c a] means a depends on b, b on c, c on a.
type CycleError struct {
	Path []string
}

func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Path, " -> ")
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CheckName reports asset keys, tags, groups and pools that weir cannot use
// in selections and object-storage paths.
func CheckName(what, name string) error {
	if !keyPattern.MatchString(name) || strings.Contains(name, "..") || len(name) > 128 {
		return fmt.Errorf("%s %q is not a valid name: use letters, digits, '_', '-' and '.', starting with a letter or digit, at most 128 bytes", what, name)
	}
	return nil
}

// NewDefinitions validates assets and returns them as Definitions. It
// reports every problem it finds, joined: invalid or duplicate keys, missing
// compute functions, unknown deps, partition definitions that need a mapping,
// mappings that do not fit, and dependency cycles (as *CycleError).
func NewDefinitions(assets ...*Asset) (*Definitions, error) {
	d := &Definitions{byKey: map[string]*Asset{}, mappings: map[[2]string]partitions.Mapping{}}
	var errs []error
	for i, a := range assets {
		if a == nil {
			errs = append(errs, fmt.Errorf("asset #%d is nil", i+1))
			continue
		}
		if err := CheckName("asset key", a.Key); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := d.byKey[a.Key]; dup {
			errs = append(errs, fmt.Errorf("asset %q is declared twice", a.Key))
			continue
		}
		d.byKey[a.Key] = a
	}
	var valid []*Asset
	for _, a := range assets {
		if a != nil && d.byKey[a.Key] == a {
			valid = append(valid, a)
			errs = append(errs, d.checkAsset(a)...)
		}
	}
	order, err := topoOrder(valid, d.byKey)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d.assets = order
	return d, nil
}

// MustDefinitions is NewDefinitions that panics, for examples and tests.
func MustDefinitions(assets ...*Asset) *Definitions {
	d, err := NewDefinitions(assets...)
	if err != nil {
		panic(err)
	}
	return d
}

func (d *Definitions) checkAsset(a *Asset) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("asset %q: "+format, append([]any{a.Key}, args...)...))
	}
	if a.Compute == nil {
		bad("no Compute function")
	}
	if a.MaxPartitionsPerRun < 0 {
		bad("MaxPartitionsPerRun %d is negative", a.MaxPartitionsPerRun)
	}
	if a.Timeout < 0 {
		bad("Timeout %s is negative", a.Timeout)
	}
	if a.Retry.MaxAttempts < 0 || a.Retry.InitialBackoff < 0 || a.Retry.MaxBackoff < 0 {
		bad("retry policy %+v has a negative value", a.Retry)
	}
	if a.Pool != "" {
		if err := CheckName("pool", a.Pool); err != nil {
			bad("%v", err)
		}
	}
	if a.Group != "" {
		if err := CheckName("group", a.Group); err != nil {
			bad("%v", err)
		}
	}
	for _, t := range a.Tags {
		if err := CheckName("tag", t); err != nil {
			bad("%v", err)
		}
	}
	checks := map[string]bool{}
	for _, c := range a.Checks {
		if c.Name == "" || c.Func == nil {
			bad("every check needs a Name and a Func")
		} else if checks[c.Name] {
			bad("check %q is declared twice", c.Name)
		}
		checks[c.Name] = true
	}
	seen := map[string]bool{}
	for _, dep := range a.Deps {
		up, ok := d.byKey[dep.Asset]
		switch {
		case dep.Asset == a.Key:
			bad("depends on itself")
			continue
		case !ok:
			bad("depends on unknown asset %q%s", dep.Asset, suggest(dep.Asset, d.byKey))
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
		d.mappings[[2]string{a.Key, dep.Asset}] = m
	}
	return errs
}

// topoOrder sorts assets so deps come first, keeping declaration order
// among independent assets, or returns a *CycleError.
func topoOrder(assets []*Asset, byKey map[string]*Asset) ([]*Asset, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []*Asset
	var stack []string
	var visit func(a *Asset) error
	visit = func(a *Asset) error {
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
func (d *Definitions) Assets() []*Asset { return slices.Clone(d.assets) }

// Keys returns the asset keys in topological order.
func (d *Definitions) Keys() []string {
	keys := make([]string, len(d.assets))
	for i, a := range d.assets {
		keys[i] = a.Key
	}
	return keys
}

// Asset returns the asset with key, or an error that suggests the closest
// keys.
func (d *Definitions) Asset(key string) (*Asset, error) {
	if a, ok := d.byKey[key]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("unknown asset %q%s", key, suggest(key, d.byKey))
}

// Mapping returns the partition mapping of asset's dependency on dep, with
// the default resolved.
func (d *Definitions) Mapping(asset, dep string) partitions.Mapping {
	return d.mappings[[2]string{asset, dep}]
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
