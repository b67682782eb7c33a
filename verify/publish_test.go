package verify

import (
	"context"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/store"
)

// catalog is the part of the state store PublishMany reads: each
// partition's current version.
type catalog struct {
	store.Catalog
	current map[string]store.Materialization // by partition
	reads   int
}

func (c *catalog) PartitionCurrentList(_ context.Context, asset string, keys []string) ([]store.PartitionStatus, error) {
	c.reads++
	var out []store.PartitionStatus
	for _, k := range keys {
		if m, ok := c.current[k]; ok {
			out = append(out, store.PartitionStatus{PartitionKey: k, Version: m.Version, MaterializationID: m.ID, ManifestSHA256: m.ManifestSHA256})
		}
	}
	return out, nil
}

func (c *catalog) MaterializationList(_ context.Context, p store.MaterializationListParams) ([]*store.Materialization, error) {
	m := c.current[p.PartitionKey]
	return []*store.Materialization{&m}, nil
}

// TestPublishManyConvergesOnTheStore: of three partitions published
// together, one was promoted again by someone else before this writer's
// pointer landed: its pointer ends naming the store's version; the others
// name what was published, checked with one read of the store.
func TestPublishManyConvergesOnTheStore(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	at := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	cat := &catalog{current: map[string]store.Materialization{
		"d1": {ID: 1, Asset: "a", PartitionKey: "d1", Version: "v1", ManifestSHA256: "m1"},
		"d2": {ID: 9, Asset: "a", PartitionKey: "d2", Version: "v9", ManifestSHA256: "m9", PromotedAt: at}, // newer
		"d3": {ID: 3, Asset: "a", PartitionKey: "d3", Version: "v1", ManifestSHA256: "m3"},
	}}
	var ptrs []Pointer
	for _, k := range []string{"d1", "d2", "d3"} {
		ptrs = append(ptrs, Pointer{Asset: "a", Partition: k, Version: "v1", ManifestSHA256: "m" + k[1:], PromotedAt: at})
	}
	for i, err := range PublishMany(ctx, b, cat, ptrs) {
		if err != nil {
			t.Fatalf("%s: %v", ptrs[i].Partition, err)
		}
	}
	for k, want := range map[string]string{"d1": "v1", "d2": "v9", "d3": "v1"} {
		p, err := ReadPointer(ctx, b, "a", k)
		if err != nil || p.Version != want {
			t.Errorf("pointer of %s: %+v %v; want %s", k, p, err, want)
		}
	}
	// One read for the batch, then Publish's two checks for d2 (its write
	// of v1 found v9 current; its write of v9 found v9).
	if cat.reads != 3 {
		t.Errorf("%d reads of the store, want 3", cat.reads)
	}
}
