package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"gocloud.dev/blob"
)

// PartitionVersion is a partition's promoted version as the state store
// records it.
type PartitionVersion struct {
	Key            string
	Version        string
	ManifestSHA256 string
}

// Input reads promoted versions of an upstream asset's partitions. It
// implements pipelines.Input: manifests are checked against the store's
// checksum, files against the manifest as they are read.
type Input struct {
	bucket   *blob.Bucket
	asset    string
	versions []PartitionVersion
	byKey    map[string]PartitionVersion

	mu        sync.Mutex
	manifests map[string]*Manifest
	corrupt   error // the first integrity failure met
}

// NewInput returns a reader of the given versions of asset.
func NewInput(b *blob.Bucket, asset string, versions []PartitionVersion) *Input {
	in := &Input{bucket: b, asset: asset, versions: versions, byKey: map[string]PartitionVersion{}, manifests: map[string]*Manifest{}}
	for _, v := range versions {
		in.byKey[v.Key] = v
	}
	return in
}

// Asset returns the upstream asset's key.
func (in *Input) Asset() string { return in.asset }

// Keys returns the partitions the reader may read, in order.
func (in *Input) Keys() []string {
	keys := make([]string, len(in.versions))
	for i, v := range in.versions {
		keys[i] = v.Key
	}
	return keys
}

// Versions returns the versions the reader reads.
func (in *Input) Versions() []PartitionVersion { return slices.Clone(in.versions) }

// Version returns the version of partition key, "" if not read.
func (in *Input) Version(key string) string { return in.byKey[key].Version }

func (in *Input) manifest(ctx context.Context, key string) (*Manifest, error) {
	in.mu.Lock()
	m, ok := in.manifests[key]
	in.mu.Unlock()
	if ok {
		return m, nil
	}
	v, ok := in.byKey[key]
	if !ok {
		return nil, fmt.Errorf("partition %q of %s is not an input of this task (inputs: %q)", key, in.asset, in.Keys())
	}
	m, err := ReadManifest(ctx, in.bucket, in.asset, key, v.Version, v.ManifestSHA256)
	if err != nil {
		return nil, in.note(err)
	}
	in.mu.Lock()
	in.manifests[key] = m
	in.mu.Unlock()
	return m, nil
}

// Files returns the file names of partition key.
func (in *Input) Files(ctx context.Context, key string) ([]string, error) {
	m, err := in.manifest(ctx, key)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(m.Files))
	for i, f := range m.Files {
		names[i] = f.Name
	}
	return names, nil
}

// Open opens file name of partition key; reading to EOF checks it.
func (in *Input) Open(ctx context.Context, key, name string) (io.ReadCloser, error) {
	m, err := in.manifest(ctx, key)
	if err != nil {
		return nil, err
	}
	f, err := m.File(name)
	if err != nil {
		return nil, err
	}
	r, err := openChecked(ctx, in.bucket, VersionPrefix(in.asset, key, m.Version)+name, f)
	if err != nil {
		return nil, in.note(err)
	}
	r.onMismatch = func(err error) { in.note(err) }
	return r, nil
}

// Corrupt returns the first checksum mismatch or missing file this reader
// met, nil if none. Corrupt input is permanent: a caller decides so from
// here, since a compute function (or the library it handed the reader to,
// DuckDB say) may not pass the error on with its type.
func (in *Input) Corrupt() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.corrupt
}

// note records err if it is an integrity failure, and returns it.
func (in *Input) note(err error) error {
	var ce *ChecksumError
	if errors.As(err, &ce) || errors.Is(err, ErrMissing) {
		in.mu.Lock()
		if in.corrupt == nil {
			in.corrupt = err
		}
		in.mu.Unlock()
	}
	return err
}
