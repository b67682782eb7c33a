package verify

import (
	"context"
	"errors"
	"fmt"

	"gocloud.dev/blob"
)

// Audit re-verifies a published version: its manifest against the checksum
// the state store recorded, every file it lists against its size and SHA-256
// (streamed, memory flat), and the partition's pointer against the version.
// It returns the manifest and every problem found, joined; a nil error means
// the version is intact and published.
func Audit(ctx context.Context, b *blob.Bucket, asset, partition, version, manifestSHA256 string) (*Manifest, error) {
	m, err := ReadManifest(ctx, b, asset, partition, version, manifestSHA256)
	if err != nil {
		return nil, err
	}
	var errs []error
	prefix := VersionPrefix(asset, partition, version)
	for _, f := range m.Files {
		if err := checkFile(ctx, b, prefix+f.Name, f); err != nil {
			errs = append(errs, err)
		}
	}
	ptr, err := ReadPointer(ctx, b, asset, partition)
	switch {
	case err != nil:
		errs = append(errs, err)
	case ptr.Version != version || ptr.ManifestSHA256 != manifestSHA256:
		errs = append(errs, fmt.Errorf("pointer %s names version %s, but the state store's current version is %s", PointerKey(asset, partition), ptr.Version, version))
	}
	return m, errors.Join(errs...)
}
