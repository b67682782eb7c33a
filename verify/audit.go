package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
		errs = append(errs, &PointerError{err})
	case ptr.Version != version || ptr.ManifestSHA256 != manifestSHA256:
		errs = append(errs, &PointerError{fmt.Errorf("pointer %s names version %s, but the state store's current version is %s", PointerKey(asset, partition), ptr.Version, version)})
	}
	return m, errors.Join(errs...)
}

// PointerError is a problem with a partition's pointer alone: the version's
// files may be intact (RepairPointer rewrites it).
type PointerError struct{ Err error }

func (e *PointerError) Error() string { return e.Err.Error() }
func (e *PointerError) Unwrap() error { return e.Err }

// DataProblems returns the problems of an Audit error that are the
// version's own (its manifest or files), leaving out pointer problems; ""
// when there are none.
func DataProblems(err error) string {
	if err == nil {
		return ""
	}
	var parts []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	} else {
		parts = []error{err}
	}
	var out []string
	for _, e := range parts {
		var pe *PointerError
		if !errors.As(e, &pe) {
			out = append(out, e.Error())
		}
	}
	return strings.Join(out, "; ")
}
