package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/store"
)

// DynamicDefinitions returns the dynamic partition definitions the assets
// use, by name (also inside multi-dimensional definitions).
func DynamicDefinitions(g *lineage.Graph) map[string][]string {
	out := map[string][]string{}
	for _, a := range g.Assets() {
		for _, name := range partitions.DynamicNames(a.PartitionsDef()) {
			out[name] = append(out[name], a.Key)
		}
	}
	return out
}

// AddDynamicPartitions validates keys and appends the new ones to the
// dynamic definition name; keys already there are left alone. Nothing is
// stored if any key is invalid.
func AddDynamicPartitions(ctx context.Context, s store.Store, name string, keys []string, now time.Time) (added int, err error) {
	if len(keys) == 0 {
		return 0, fmt.Errorf("no keys to add to dynamic partitions %q", name)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if err := partitions.CheckKey(k); err != nil {
			return 0, fmt.Errorf("dynamic partitions %q: %w", name, err)
		}
		if seen[k] {
			return 0, fmt.Errorf("dynamic partitions %q: key %q is given twice", name, k)
		}
		seen[k] = true
	}
	return s.DynamicPartitionAdd(ctx, store.DynamicPartitionAddParams{Name: name, Keys: keys, At: now})
}
