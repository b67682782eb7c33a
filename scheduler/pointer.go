package scheduler

import (
	"context"
	"fmt"

	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/verify"
)

// CurrentPointer returns the pointer a partition should have according to
// the state store: its current version, for verify.Publish to converge on.
func CurrentPointer(st store.Store, asset, partition string) verify.CurrentFunc {
	return func(ctx context.Context) (verify.Pointer, bool, error) {
		cur, err := st.PartitionCurrentList(ctx, asset, []string{partition})
		if err != nil || len(cur) == 0 {
			return verify.Pointer{}, false, err
		}
		mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Asset: asset, PartitionKey: partition, Limit: -1})
		if err != nil {
			return verify.Pointer{}, false, err
		}
		for _, m := range mats {
			if m.ID == cur[0].MaterializationID {
				return verify.Pointer{Asset: asset, Partition: partition, Version: m.Version, ManifestSHA256: m.ManifestSHA256,
					PromotedAt: m.PromotedAt.UTC()}, true, nil
			}
		}
		return verify.Pointer{}, false, fmt.Errorf("%s %s: current materialization %d is not in the state store", asset, partition, cur[0].MaterializationID)
	}
}
