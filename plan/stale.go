package plan

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/store"
)

// StaleReader is what staleness reads: the status, and why current
// versions are stale in themselves.
type StaleReader interface {
	StatusReader
	PartitionStaleness(ctx context.Context, asset, codeVersion string) (*store.StaleFacts, error)
}

// Stale is the stale partitions of an asset, and why.
type Stale struct {
	// All is every stale partition: one with a current version that no
	// longer reflects its code or its inputs.
	All partitions.Subset
	// Reasons are why, each with its partitions (they may overlap).
	Reasons []StaleReason
}

// StaleReason is one reason partitions are stale.
type StaleReason struct {
	// Why is "code version 1 -> 2", "upstream raw_orders changed" (a
	// partition it read has a newer current version), "verification
	// failed ..." or "upstream cleaned_orders is stale".
	Why        string
	Partitions partitions.Subset
}

// Staleness computes every asset's stale partitions, in interval form: a
// partition is stale when the code version that made its current version
// is not the asset's, when a partition it read has another current version
// now, or when a partition it reads is stale (transitively). It reads the
// store once per asset.
func Staleness(ctx context.Context, r StaleReader, g *lineage.Graph, now time.Time) (map[string]*Stale, error) {
	out := map[string]*Stale{}
	defs := map[string]partitions.Definition{}
	for _, a := range g.Assets() { // upstream first
		def, err := BindDefinition(ctx, r, a)
		if err != nil {
			return nil, err
		}
		defs[a.Key] = def
		st, err := ReadStatus(ctx, r, a.Key, def)
		if err != nil {
			return nil, err
		}
		facts, err := r.PartitionStaleness(ctx, a.Key, a.CodeVersion)
		if err != nil {
			return nil, err
		}
		s := &Stale{}
		add := func(why string, sub partitions.Subset) {
			if sub = sub.Intersect(st.Materialized); !sub.IsEmpty() {
				s.Reasons = append(s.Reasons, StaleReason{Why: why, Partitions: sub})
				s.All = s.All.Union(sub)
			}
		}
		for _, code := range sortedKeys(facts.CodeChanged) {
			add(fmt.Sprintf("code version %s -> %s", orNone(code), orNone(a.CodeVersion)), subsetOf(def, facts.CodeChanged[code]))
		}
		if len(facts.VerifyFailed) > 0 {
			keys := make([]string, 0, len(facts.VerifyFailed))
			for k := range facts.VerifyFailed {
				keys = append(keys, k)
			}
			add("verification failed (altered or missing files; weir verify -v says which)", subsetOf(def, keys))
		}
		for _, up := range sortedKeys(facts.InputChanged) {
			add(fmt.Sprintf("upstream %s changed", up), subsetOf(def, facts.InputChanged[up]))
		}
		for _, dep := range a.Deps {
			up := out[dep.Asset]
			if up == nil || up.All.IsEmpty() {
				continue
			}
			down, err := partitions.Downstream(g.Mapping(a.Key, dep.Asset), def, defs[dep.Asset], up.All, now)
			if err != nil {
				return nil, fmt.Errorf("asset %q: dep %q: %w", a.Key, dep.Asset, err)
			}
			add(fmt.Sprintf("upstream %s is stale", dep.Asset), down)
		}
		out[a.Key] = s
	}
	return out, nil
}

func subsetOf(def partitions.Definition, keys []string) partitions.Subset {
	var b partitions.Builder
	for _, k := range keys {
		if i, err := def.Index(k); err == nil {
			b.Add(i)
		}
	}
	return b.Subset()
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}
