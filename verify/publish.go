package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/weir-dev/weir/store"
)

// Pointer is the content of a partition's _current.json: the promoted
// version, for readers outside weir. A single-object PUT is atomic on every
// backend, so a reader sees the old pointer or the new one, never a mix.
type Pointer struct {
	Asset          string    `json:"asset"`
	Partition      string    `json:"partition"`
	Version        string    `json:"version"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	PromotedAt     time.Time `json:"promoted_at"`
}

// CurrentFunc returns the pointer the state store says a partition should
// have now: its current version. ok is false when it has none.
type CurrentFunc func(ctx context.Context) (p Pointer, ok bool, err error)

// maxPublishRounds bounds Publish's repair loop: each round follows a
// promotion that committed while this writer was publishing.
const maxPublishRounds = 5

// Publish writes the pointer of a version the state store has promoted.
// Call it only after the promotion transaction committed; the store stays
// the source of truth, and publishing again is harmless.
//
// A writer can stall between its promotion's commit and its pointer write
// while a newer version is promoted and published; its late write would
// name the older version. So, when current is not nil, Publish re-reads the
// store's current version after writing: if it is the version just
// written, any later promotion's writer writes after this check, so this
// writer is done. Otherwise it reads the pointer back and writes the
// store's version again until the two agree. Every write is followed by
// such a check by the same writer, so once promotions stop the last check
// leaves the pointer naming the store's current version. Object stores
// offer no compare-and-swap that gocloud.dev/blob exposes (only
// IfNotExist), hence the checks.
func Publish(ctx context.Context, b *blob.Bucket, p Pointer, current CurrentFunc) error {
	want := p
	for range maxPublishRounds {
		if err := writePointer(ctx, b, want); err != nil {
			return err
		}
		if current == nil {
			return nil
		}
		cur, ok, err := current(ctx)
		if err != nil {
			return fmt.Errorf("publish %s: read the current version back: %w", PointerKey(p.Asset, p.Partition), err)
		}
		if !ok || sameVersion(cur, want) {
			return nil
		}
		got, err := ReadPointer(ctx, b, p.Asset, p.Partition)
		if err != nil && !errors.Is(err, ErrMissing) {
			return err
		}
		if got != nil && sameVersion(*got, cur) {
			return nil
		}
		want = cur
	}
	return fmt.Errorf("publish %s: the current version kept changing over %d rounds", PointerKey(p.Asset, p.Partition), maxPublishRounds)
}

func sameVersion(a, b Pointer) bool {
	return a.Version == b.Version && a.ManifestSHA256 == b.ManifestSHA256
}

// publishers bounds PublishMany's writes in flight.
const publishers = 16

// PublishMany publishes the pointers of many promoted partitions, as Publish
// does each, with fewer round trips: it writes them (up to 16 at once), reads
// their current versions back from cat with one query per asset, and goes
// on with Publish's checks for the few whose current version moved on
// meanwhile. errs[i] is ptrs[i]'s.
func PublishMany(ctx context.Context, b *blob.Bucket, cat store.Catalog, ptrs []Pointer) (errs []error) {
	errs = make([]error, len(ptrs))
	sem := make(chan struct{}, publishers)
	var wg sync.WaitGroup
	for i, p := range ptrs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = writePointer(ctx, b, p)
		})
	}
	wg.Wait()
	byAsset := map[string][]int{}
	var assets []string
	for i, p := range ptrs {
		if errs[i] != nil {
			continue
		}
		if _, ok := byAsset[p.Asset]; !ok {
			assets = append(assets, p.Asset)
		}
		byAsset[p.Asset] = append(byAsset[p.Asset], i)
	}
	for _, asset := range assets {
		idx := byAsset[asset]
		keys := make([]string, len(idx))
		for j, i := range idx {
			keys[j] = ptrs[i].Partition
		}
		cur, err := cat.PartitionCurrentList(ctx, asset, keys)
		if err != nil {
			for _, i := range idx {
				errs[i] = fmt.Errorf("publish %s: read the current version back: %w", PointerKey(asset, ptrs[i].Partition), err)
			}
			continue
		}
		now := make(map[string]store.PartitionStatus, len(cur))
		for _, c := range cur {
			now[c.PartitionKey] = c
		}
		for _, i := range idx {
			p := ptrs[i]
			if c, ok := now[p.Partition]; ok && c.Version == p.Version && c.ManifestSHA256 == p.ManifestSHA256 {
				continue
			}
			// Another promotion committed since: converge as Publish does.
			errs[i] = Publish(ctx, b, p, CurrentPointer(cat, asset, p.Partition))
		}
	}
	return errs
}

func writePointer(ctx context.Context, b *blob.Bucket, p Pointer) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	key := PointerKey(p.Asset, p.Partition)
	if err := b.WriteAll(ctx, key, append(data, '\n'), &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	return nil
}

// ReadPointer reads a partition's pointer.
func ReadPointer(ctx context.Context, b *blob.Bucket, asset, partition string) (*Pointer, error) {
	key := PointerKey(asset, partition)
	data, err := b.ReadAll(ctx, key)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("pointer %s: %w", key, ErrMissing)
		}
		return nil, fmt.Errorf("read pointer %s: %w", key, err)
	}
	var p Pointer
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("pointer %s is not a weir pointer: %w", key, err)
	}
	return &p, nil
}
