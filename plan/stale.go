package plan

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
)

// StaleReader is what staleness reads: the status, and which upstream
// assets changed under current versions whose inputs changed.
type StaleReader interface {
	StatusReader
	PartitionInputsChanged(ctx context.Context, asset string) (map[string][]string, error)
	PartitionPromotedAt(ctx context.Context, asset, key string) (time.Time, error)
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
// now, or when a partition it reads is stale (transitively). It reads each
// asset's status once (ReadStatus: the kept summary and the partitions
// changed since; the store keeps what makes a version stale on each
// partition's row), and the changed inputs only of partitions marked so.
func Staleness(ctx context.Context, r StaleReader, g *lineage.Graph, now time.Time) (map[string]*Stale, error) {
	stale, _, err := staleness(ctx, r, g, now, nil)
	return stale, err
}

// staleness is Staleness, also returning the status it read of each asset.
//
// only, if set, limits it to those assets, which must include every
// ancestor of each (see ancestors).
func staleness(ctx context.Context, r StaleReader, g *lineage.Graph, now time.Time, only map[string]bool) (map[string]*Stale, map[string]AssetStatus, error) {
	out := map[string]*Stale{}
	var assets []*pipelines.Asset
	for _, a := range g.Assets() {
		if only == nil || only[a.Key] {
			assets = append(assets, a)
		}
	}
	statuses, err := readStatuses(ctx, r, assets)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range assets { // upstream first
		st := statuses[a.Key]
		def := st.Def
		s := &Stale{}
		add := func(why string, sub partitions.Subset) {
			if sub = sub.Intersect(st.Materialized); !sub.IsEmpty() {
				s.Reasons = append(s.Reasons, StaleReason{Why: why, Partitions: sub})
				s.All = s.All.Union(sub)
			}
		}
		codes := make([]string, 0, len(st.ByCode))
		for code := range st.ByCode {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		for _, code := range codes {
			if code != a.CodeVersion {
				add(fmt.Sprintf("code version %s -> %s", orNone(code), orNone(a.CodeVersion)), st.ByCode[code])
			}
		}
		add("verification failed (altered or missing files; weir verify -v says which)", st.VerifyFailed)
		if !st.InputStale.IsEmpty() {
			changed, err := r.PartitionInputsChanged(ctx, a.Key)
			if err != nil {
				return nil, nil, err
			}
			for _, up := range sortedKeys(changed) {
				add(fmt.Sprintf("upstream %s changed", up), subsetOf(def, changed[up]))
			}
		}
		for _, dep := range a.Deps {
			up := out[dep.Asset]
			if up == nil || up.All.IsEmpty() {
				continue
			}
			down, err := partitions.Downstream(g.Mapping(a.Key, dep.Asset), def, statuses[dep.Asset].Def, up.All, now)
			if err != nil {
				return nil, nil, fmt.Errorf("asset %q: dep %q: %w", a.Key, dep.Asset, err)
			}
			add(fmt.Sprintf("upstream %s is stale", dep.Asset), down)
		}
		out[a.Key] = s
	}
	return out, statuses, nil
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

// ancestors returns keys and every asset upstream of them: what their
// staleness depends on.
func ancestors(g *lineage.Graph, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, key := range keys {
		up, err := g.Select("+" + key)
		if err != nil {
			return nil, err
		}
		for _, k := range up {
			out[k] = true
		}
	}
	return out, nil
}

// statusReaders is how many assets' statuses are read at once: a
// PostgreSQL store answers them on as many connections (twenty assets of
// 2,500 partitions each took 20 × 6 ms one after the other); SQLite's one
// connection takes them in turn, as before.
const statusReaders = 4

// readStatuses binds the definitions of assets and reads their statuses,
// a few at a time, and keeps the summaries they made in one write.
func readStatuses(ctx context.Context, r StatusReader, assets []*pipelines.Asset) (map[string]AssetStatus, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		statuses = make(map[string]AssetStatus, len(assets))
		first    error
		wg       sync.WaitGroup
		kept     summaries
	)
	next := make(chan *pipelines.Asset)
	for range min(statusReaders, len(assets)) {
		wg.Go(func() {
			for a := range next {
				def, err := BindDefinition(ctx, r, a)
				var st AssetStatus
				if err == nil {
					st, err = kept.read(ctx, r, a.Key, def)
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				statuses[a.Key] = st
				mu.Unlock()
			}
		})
	}
	for _, a := range assets {
		if ctx.Err() != nil {
			break
		}
		next <- a
	}
	close(next)
	wg.Wait()
	if first == nil {
		kept.put(ctx, r)
	}
	return statuses, first
}
