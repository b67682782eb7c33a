package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
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
// store's current version after writing, reads the pointer back, and
// writes the store's version again until the two agree. Every write is
// followed by such a check by the same writer, so once promotions stop the
// last check leaves the pointer naming the store's current version. Object
// stores offer no compare-and-swap that gocloud.dev/blob exposes (only
// IfNotExist), hence the read-back.
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
		if !ok {
			return nil
		}
		got, err := ReadPointer(ctx, b, p.Asset, p.Partition)
		if err != nil && !errors.Is(err, ErrMissing) {
			return err
		}
		if got != nil && got.Version == cur.Version && got.ManifestSHA256 == cur.ManifestSHA256 {
			return nil
		}
		want = cur
	}
	return fmt.Errorf("publish %s: the current version kept changing over %d rounds", PointerKey(p.Asset, p.Partition), maxPublishRounds)
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
