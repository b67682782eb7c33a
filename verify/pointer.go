package verify

import (
	"context"
	"fmt"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/store"
)

// CurrentPointer returns the pointer a partition should have according to
// the state store: its current version, for verify.Publish to converge on.
func CurrentPointer(st store.Catalog, asset, partition string) CurrentFunc {
	return func(ctx context.Context) (Pointer, bool, error) {
		cur, err := st.PartitionCurrentList(ctx, asset, []string{partition})
		if err != nil || len(cur) == 0 {
			return Pointer{}, false, err
		}
		// The current version is nearly always among the newest few; the
		// whole history is read only when it is not.
		for _, limit := range []int{3, -1} {
			mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Asset: asset, PartitionKey: partition, Limit: limit})
			if err != nil {
				return Pointer{}, false, err
			}
			for _, m := range mats {
				if m.ID == cur[0].MaterializationID {
					return Pointer{Asset: asset, Partition: partition, Version: m.Version, ManifestSHA256: m.ManifestSHA256,
						PromotedAt: m.PromotedAt.UTC()}, true, nil
				}
			}
		}
		return Pointer{}, false, fmt.Errorf("%s %s: current materialization %d is not in the state store", asset, partition, cur[0].MaterializationID)
	}
}

// RepairPointer rewrites a partition's pointer from the state store when
// its current version's manifest and files verify and only the pointer is
// missing or stale (a process killed between promotion and pointer write).
// Altered files are never papered over: it reports whether it wrote a
// pointer, and writes none for a version that does not verify.
func RepairPointer(ctx context.Context, st store.Catalog, b *blob.Bucket, asset string, ps store.PartitionStatus) (bool, error) {
	if _, err := Verify(ctx, b, asset, ps.Version, []PartitionVersion{{Key: ps.PartitionKey, Version: ps.Version, ManifestSHA256: ps.ManifestSHA256}}); err != nil {
		return false, nil
	}
	ptr, err := ReadPointer(ctx, b, asset, ps.PartitionKey)
	if err == nil && ptr.Version == ps.Version && ptr.ManifestSHA256 == ps.ManifestSHA256 {
		return false, nil
	}
	current := CurrentPointer(st, asset, ps.PartitionKey)
	want, ok, err := current(ctx)
	if err != nil || !ok {
		return false, err
	}
	return true, Publish(ctx, b, want, current)
}
