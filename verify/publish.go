package verify

import (
	"context"
	"encoding/json"
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

// Publish writes the pointer of a version the state store has promoted.
// Call it only after the promotion transaction committed; the store stays
// the source of truth, and publishing again is harmless.
func Publish(ctx context.Context, b *blob.Bucket, p Pointer) error {
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
