package plan

import (
	"context"
	"fmt"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
)

// Health is an asset's partitions by state, as `weir assets status`, the
// HTTP API and the UI show them. Every partition that exists is in exactly
// one of Fresh, Stale and Missing; Failed (the last attempt failed) and
// Running (a task is pending or running) overlap them.
type Health struct {
	Asset string
	Def   partitions.Definition
	// Fresh partitions have a current version that reflects the asset's
	// code and its inputs' current versions; Stale ones have a current
	// version that does not (Why says why); Missing ones have none.
	Fresh, Stale, Missing partitions.Subset
	Failed, Running       partitions.Subset
	Why                   []StaleReason
	// Blocked are the Failed partitions whose output a blocking check
	// refused.
	Blocked partitions.Subset
	// Waiting are the partitions of which a partition they read has no
	// current version: they cannot run until it has one.
	Waiting partitions.Subset
	// Promoted is when the current version of an unpartitioned asset was
	// promoted (zero if it has none, and for partitioned assets): what a
	// "no older than" freshness deadline measures.
	Promoted time.Time
}

// AssetHealth returns the health of the assets keys of g at now, in the
// order given. Staleness is computed over the assets and all their
// ancestors (a partition is stale when one it reads is), in interval
// form: a few queries per asset, however many partitions.
func AssetHealth(ctx context.Context, r StaleReader, g *lineage.Graph, keys []string, now time.Time) ([]Health, error) {
	only, err := ancestors(g, keys)
	if err != nil {
		return nil, err
	}
	stale, statuses, err := staleness(ctx, r, g, now, only)
	if err != nil {
		return nil, err
	}
	defs := make(map[string]partitions.Definition, len(keys))
	for _, key := range keys {
		status, ok := statuses[key]
		if !ok {
			return nil, fmt.Errorf("unknown asset %q", key)
		}
		defs[key] = status.Def
	}
	running, err := Running(ctx, r, defs)
	if err != nil {
		return nil, err
	}
	out := make([]Health, 0, len(keys))
	for _, key := range keys {
		status := statuses[key]
		def := status.Def
		s := stale[key]
		exists := partitions.Span(0, def.Len(now))
		h := Health{Asset: key, Def: def, Fresh: status.Materialized.Difference(s.All), Stale: s.All,
			Missing: exists.Difference(status.Materialized), Failed: status.Failed, Running: running[key], Why: s.Reasons, Blocked: status.Blocked}
		a, _ := g.Asset(key)
		for _, dep := range a.Deps {
			up, ok := statuses[dep.Asset]
			if !ok {
				continue
			}
			missing := partitions.Span(0, up.Def.Len(now)).Difference(up.Materialized)
			if missing.IsEmpty() {
				continue
			}
			down, err := partitions.Downstream(g.Mapping(key, dep.Asset), def, up.Def, missing, now)
			if err != nil {
				return nil, fmt.Errorf("asset %q: dep %q: %w", key, dep.Asset, err)
			}
			h.Waiting = h.Waiting.Union(down.Intersect(exists))
		}
		if partitions.IsUnpartitioned(def) && !status.Materialized.IsEmpty() {
			if h.Promoted, err = r.PartitionPromotedAt(ctx, key, def.Key(0)); err != nil {
				return nil, err
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// Running returns the partitions of each asset of defs that unfinished
// tasks cover, from the stretches of consecutive tasks the store finds by
// index seeks (store.Store.TaskActiveRuns), so that status beside a
// backfill of millions of pending tasks reads a few rows. For an asset of
// which a run's stretches cover fewer partitions than their ends span (the
// run left partitions out between its tasks) or name a key def does not
// have, it reads the asset's unfinished tasks one by one (InFlight).
func Running(ctx context.Context, r StatusReader, defs map[string]partitions.Definition) (map[string]partitions.Subset, error) {
	flights, err := readFlights(ctx, r, defs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]partitions.Subset, len(flights))
	for k, f := range flights {
		out[k] = f.inFlight
	}
	return out, nil
}
