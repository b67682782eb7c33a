package verify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/store"
)

// StoredVersion is a version prefix found in the bucket.
type StoredVersion struct {
	Asset     string `json:"asset"`
	Partition string `json:"partition"`
	Version   string `json:"version"`
	Files     int    `json:"files"`
	Bytes     int64  `json:"bytes"`
}

// ListVersions lists the version prefixes of asset in the bucket, in
// key order, from one flat listing of the asset's prefix: a listing per
// partition and version made gc's dry run take minutes on a file:// root
// of 50,000 partitions.
func ListVersions(ctx context.Context, b *blob.Bucket, asset string) ([]StoredVersion, error) {
	var out []StoredVersion
	err := eachObject(ctx, b, asset+"/", func(o *blob.ListObject) error {
		// asset/partition/version/name...; the pointer
		// (asset/partition/_current.json) is no version.
		partition, rest, ok := strings.Cut(strings.TrimPrefix(o.Key, asset+"/"), "/")
		if !ok {
			return nil
		}
		version, _, ok := strings.Cut(rest, "/")
		if !ok {
			return nil
		}
		if n := len(out); n == 0 || out[n-1].Partition != partition || out[n-1].Version != version {
			out = append(out, StoredVersion{Asset: asset, Partition: partition, Version: version})
		}
		out[len(out)-1].Files++
		out[len(out)-1].Bytes += o.Size
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteVersion deletes every object of a version prefix.
func DeleteVersion(ctx context.Context, b *blob.Bucket, v StoredVersion) error {
	return eachObject(ctx, b, VersionPrefix(v.Asset, v.Partition, v.Version), func(o *blob.ListObject) error {
		if err := b.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("delete %s: %w", o.Key, err)
		}
		return nil
	})
}

func eachObject(ctx context.Context, b *blob.Bucket, prefix string, fn func(*blob.ListObject) error) error {
	// Large pages: fileblob walks the directory tree from the start for
	// every page (1,000 objects by default); cloud drivers cap the size
	// at what their API allows.
	token := blob.FirstPageToken
	for {
		page, next, err := b.ListPage(ctx, token, 10000, &blob.ListOptions{Prefix: prefix})
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page {
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(next) == 0 {
			return nil
		}
		token = next
	}
}

// GCOpts says which versions of an asset garbage collection may delete.
type GCOpts struct {
	// Now is the time versions' ages are measured at. Required.
	Now time.Time
	// OlderThan keeps every version created less than this before Now (a
	// running attempt may still be writing it).
	OlderThan time.Duration
	// KeepVersions is how many promoted versions of a partition are kept,
	// the current one included. Defaults to 3.
	KeepVersions int
	// InUse are versions kept whatever their age: staged by tasks whose
	// verify phase has not promoted them yet.
	InUse map[string]bool
	// Partitions, if set, limits collection to the partitions it accepts.
	Partitions func(key string) bool
	// Keys names the partitions from first to last (n of them) of the
	// asset: RecordedGarbage needs it for versions of tasks over several
	// partitions.
	Keys func(first, last string, n int64) ([]string, error)
}

// Garbage is a stored version that garbage collection deletes, and why.
type Garbage struct {
	StoredVersion
	Why string `json:"why"`
	// Record is the store's record of the version, when it was found
	// from the store (RecordedGarbage): mark it collected
	// (store.Catalog.VersionsCollected) once its objects are deleted.
	Record *store.GarbageCandidate `json:"-"`
}

// RecordedGarbage lists which of one asset's versions the store's records
// name as candidates (store.Catalog.GarbageCandidates: promoted versions
// another version of their partition replaced, and versions of attempts
// that ended without being promoted) may be deleted under o, instead of a
// listing of the bucket; each version's prefix is listed for its files and
// bytes. Its cost follows the garbage, not the bucket. The same rules as
// FindGarbage hold (age, rank, provenance, the partition filter); InUse is
// not needed (the store leaves out versions their task still awaits).
// Candidates whose objects are gone already (deleted by an earlier sweep)
// come back in gone, to be marked collected.
//
// The store has no record of versions of attempts leased before it recorded
// versions (schema version 19), or of objects written by hand. FindGarbage,
// a listing of the bucket, finds those.
func RecordedGarbage(ctx context.Context, st store.Catalog, b *blob.Bucket, cands []store.GarbageCandidate, o GCOpts) (garbage []Garbage, gone []store.GarbageCandidate, err error) {
	keep := o.KeepVersions
	if keep <= 0 {
		keep = 3
	}
	cutoff := o.Now.Add(-o.OlderThan)
	for i := range cands {
		c := &cands[i]
		asset := c.Asset
		if asset != cands[0].Asset {
			return nil, nil, fmt.Errorf("garbage candidates of %s and %s: RecordedGarbage takes one asset's", cands[0].Asset, asset)
		}
		made, ok := store.VersionTime(c.Version)
		if !ok || !made.Before(cutoff) {
			continue
		}
		why := "never promoted"
		if c.MaterializationID != 0 {
			if c.Rank < keep {
				continue
			}
			readers, err := st.CurrentReaders(ctx, store.Input{Asset: asset, PartitionKey: c.PartitionFirst, Version: c.Version})
			if err != nil {
				return nil, nil, err
			}
			if len(readers) > 0 {
				continue // a current version read it: its provenance
			}
			why = fmt.Sprintf("promoted, older than the newest %d", keep)
		}
		keys := []string{c.PartitionFirst}
		if c.PartitionCount > 1 {
			if o.Keys == nil {
				return nil, nil, fmt.Errorf("version %s of %s covers partitions %s...%s: GCOpts.Keys is needed to name them", c.Version, asset, c.PartitionFirst, c.PartitionLast)
			}
			if keys, err = o.Keys(c.PartitionFirst, c.PartitionLast, c.PartitionCount); err != nil {
				return nil, nil, err
			}
		}
		found := false
		for _, k := range keys {
			if o.Partitions != nil && !o.Partitions(k) {
				continue
			}
			v := StoredVersion{Asset: asset, Partition: k, Version: c.Version}
			if err := eachObject(ctx, b, VersionPrefix(asset, k, c.Version), func(obj *blob.ListObject) error {
				v.Files++
				v.Bytes += obj.Size
				return nil
			}); err != nil {
				return nil, nil, err
			}
			if v.Files > 0 {
				found = true
				garbage = append(garbage, Garbage{StoredVersion: v, Why: why, Record: c})
			}
		}
		if !found && o.Partitions == nil {
			gone = append(gone, *c)
		}
	}
	return garbage, gone, nil
}

// FindGarbage lists the versions of asset in b that may be deleted under
// o, from a listing of the asset's objects in the bucket (a sweep: its
// cost follows the bucket; RecordedGarbage reads the store instead):
// attempts never promoted, and promoted versions beyond the newest
// KeepVersions of their partition, when older than OlderThan. A
// partition's current version is never garbage, nor a version that a
// current version (of any asset) records as read: retention keeps the
// provenance of what is current. Delete them with DeleteVersion.
func FindGarbage(ctx context.Context, st store.Catalog, b *blob.Bucket, asset string, o GCOpts) ([]Garbage, error) {
	keep := o.KeepVersions
	if keep <= 0 {
		keep = 3
	}
	status, err := st.PartitionStatusList(ctx, asset)
	if err != nil {
		return nil, err
	}
	current := map[string]string{}
	for _, s := range status {
		current[s.PartitionKey] = s.Version
	}
	mats, err := st.MaterializationList(ctx, store.MaterializationListParams{Asset: asset, Limit: -1})
	if err != nil {
		return nil, err
	}
	promoted := map[string]int{} // partition/version -> rank among the partition's promoted versions, newest 0
	seen := map[string]int{}
	for _, m := range mats { // newest first
		promoted[m.PartitionKey+"/"+m.Version] = seen[m.PartitionKey]
		seen[m.PartitionKey]++
	}
	// Versions that current versions (of any asset) record as read: their
	// provenance, kept whatever their age or rank.
	read, err := st.InputsOfCurrent(ctx, asset)
	if err != nil {
		return nil, err
	}
	provenance := make(map[string]bool, len(read))
	for _, in := range read {
		provenance[in.PartitionKey+"/"+in.Version] = true
	}
	stored, err := ListVersions(ctx, b, asset)
	if err != nil {
		return nil, err
	}
	cutoff := o.Now.Add(-o.OlderThan)
	var out []Garbage
	for _, v := range stored {
		made, ok := store.VersionTime(v.Version)
		if !ok || (o.Partitions != nil && !o.Partitions(v.Partition)) || v.Version == current[v.Partition] || o.InUse[v.Version] || !made.Before(cutoff) {
			continue
		}
		rank, wasPromoted := promoted[v.Partition+"/"+v.Version]
		switch {
		case provenance[v.Partition+"/"+v.Version]:
			// A current version read it: keep.
		case !wasPromoted:
			out = append(out, Garbage{StoredVersion: v, Why: "never promoted"})
		case rank >= keep:
			out = append(out, Garbage{StoredVersion: v, Why: fmt.Sprintf("promoted, older than the newest %d", keep)})
		}
	}
	return out, nil
}
