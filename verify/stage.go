package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"sync"

	"gocloud.dev/blob"
)

// Stage is the output of one task attempt: one new version of each of the
// task's partitions, written under the version's own prefix. It implements
// pipelines.Output for the compute function and pipelines.Staged for checks.
// It is safe for concurrent use.
type Stage struct {
	bucket  *blob.Bucket
	asset   string
	version string
	keys    []string

	mu    sync.Mutex
	files map[string]map[string]File // partition -> name -> file
	open  map[string]bool            // partition "/" name of unclosed writers
}

// NewStage returns the stage of one attempt that produces keys of asset as
// version.
func NewStage(b *blob.Bucket, asset, version string, keys []string) *Stage {
	return &Stage{bucket: b, asset: asset, version: version, keys: slices.Clone(keys),
		files: map[string]map[string]File{}, open: map[string]bool{}}
}

// Version returns the version id the stage writes.
func (s *Stage) Version() string { return s.version }

// Keys returns the partitions the stage produces.
func (s *Stage) Keys() []string { return slices.Clone(s.keys) }

// Create starts a file of partition key. Its SHA-256 is computed as the
// bytes stream out; closing the writer records it.
func (s *Stage) Create(ctx context.Context, key, name string) (io.WriteCloser, error) {
	if !slices.Contains(s.keys, key) {
		return nil, fmt.Errorf("create %q: partition %q is not one this task produces (%q)", name, key, s.keys)
	}
	if err := CheckFileName(name); err != nil {
		return nil, err
	}
	id := key + "/" + name
	s.mu.Lock()
	_, done := s.files[key][name]
	if done || s.open[id] {
		s.mu.Unlock()
		return nil, fmt.Errorf("create %q of partition %s: the file was already created by this attempt", name, key)
	}
	s.open[id] = true
	s.mu.Unlock()
	w, err := s.bucket.NewWriter(ctx, VersionPrefix(s.asset, key, s.version)+name, nil)
	if err != nil {
		s.mu.Lock()
		delete(s.open, id)
		s.mu.Unlock()
		return nil, fmt.Errorf("create %s: %w", VersionPrefix(s.asset, key, s.version)+name, err)
	}
	return &hashingWriter{stage: s, key: key, name: name, w: w, h: sha256.New()}, nil
}

type hashingWriter struct {
	stage     *Stage
	key, name string
	w         *blob.Writer
	h         hash.Hash
	n         int64
	closed    bool
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

func (hw *hashingWriter) Close() error {
	if hw.closed {
		return nil
	}
	hw.closed = true
	err := hw.w.Close()
	s := hw.stage
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, hw.key+"/"+hw.name)
	if err != nil {
		return fmt.Errorf("write %s%s: %w", VersionPrefix(s.asset, hw.key, s.version), hw.name, err)
	}
	if s.files[hw.key] == nil {
		s.files[hw.key] = map[string]File{}
	}
	s.files[hw.key][hw.name] = File{Name: hw.name, Size: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil))}
	return nil
}

// Files returns the names of the files closed so far for partition key.
func (s *Stage) Files(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.files[key]))
	for n := range s.files[key] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens a closed file of partition key, checked against the checksum
// recorded when it was written.
func (s *Stage) Open(ctx context.Context, key, name string) (io.ReadCloser, error) {
	s.mu.Lock()
	f, ok := s.files[key][name]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("partition %s of %s staged no file %q (it has %q)", key, s.asset, name, s.Files(key))
	}
	return openChecked(ctx, s.bucket, VersionPrefix(s.asset, key, s.version)+name, f)
}

// Sealed is one audited partition of a stage, ready to promote.
type Sealed struct {
	Key            string
	Manifest       *Manifest
	ManifestSHA256 string
}

// Commit ends the compute side of an attempt: every partition wrote at
// least one file and closed every writer; each partition's manifest, with
// the sizes and SHA-256 recorded while the bytes streamed out (and, for
// Parquet files, the row count and Arrow schema from the footer), is written
// next to its files. Nothing is re-read: Verify does that, as its own step.
func (s *Stage) Commit(ctx context.Context) ([]Sealed, error) {
	return s.commit(ctx, false)
}

// Seal is Commit and Verify in one call: each file's bytes, read back from
// the bucket, must have the size and SHA-256 recorded while writing before
// the manifest is written. Nothing is published: see Publish.
func (s *Stage) Seal(ctx context.Context) ([]Sealed, error) {
	return s.commit(ctx, true)
}

func (s *Stage) commit(ctx context.Context, reread bool) ([]Sealed, error) {
	s.mu.Lock()
	if len(s.open) > 0 {
		var open []string
		for id := range s.open {
			open = append(open, id)
		}
		sort.Strings(open)
		s.mu.Unlock()
		return nil, fmt.Errorf("%s: compute returned with files still open (not closed): %q", s.asset, open)
	}
	s.mu.Unlock()
	out := make([]Sealed, 0, len(s.keys))
	for _, key := range s.keys {
		names := s.Files(key)
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: compute wrote no file for partition %s", s.asset, key)
		}
		m := &Manifest{Asset: s.asset, Partition: key, Version: s.version}
		prefix := VersionPrefix(s.asset, key, s.version)
		for _, name := range names {
			s.mu.Lock()
			want := s.files[key][name]
			s.mu.Unlock()
			if reread {
				var ce *ChecksumError
				switch err := checkFile(ctx, s.bucket, prefix+name, want); {
				case errors.As(err, &ce):
					return nil, err
				case err != nil:
					return nil, fmt.Errorf("verify staged file: %w", err)
				}
			}
			if audit := fileAuditor(name); audit != nil {
				rows, schema, err := audit(ctx, s.bucket, prefix+name)
				if err != nil {
					return nil, fmt.Errorf("audit: %w", err)
				}
				want.Rows, want.Schema = &rows, schema
			}
			m.Files = append(m.Files, want)
		}
		data, sum, err := m.encode()
		if err != nil {
			return nil, err
		}
		if err := s.bucket.WriteAll(ctx, prefix+ManifestName, data, &blob.WriterOptions{ContentType: "application/json"}); err != nil {
			return nil, fmt.Errorf("write manifest %s: %w", prefix+ManifestName, err)
		}
		out = append(out, Sealed{Key: key, Manifest: m, ManifestSHA256: sum})
	}
	return out, nil
}

// Verify re-reads a staged (or published) version from the bucket: its
// manifest against manifestSHA256, then every file it lists against its
// size and SHA-256, streamed (memory stays flat whatever the size). A
// mismatch is a *ChecksumError naming the file and both checksums. It
// returns the version's files for checks to read (checked again as they
// are read).
func Verify(ctx context.Context, b *blob.Bucket, asset, version string, parts []PartitionVersion) (*Version, error) {
	v := &Version{bucket: b, asset: asset, manifests: map[string]*Manifest{}}
	var errs []error
	for _, p := range parts {
		m, err := ReadManifest(ctx, b, asset, p.Key, version, p.ManifestSHA256)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, p.Key)
		v.manifests[p.Key] = m
		prefix := VersionPrefix(asset, p.Key, version)
		for _, f := range m.Files {
			var ce *ChecksumError
			switch err := checkFile(ctx, b, prefix+f.Name, f); {
			case errors.As(err, &ce):
				errs = append(errs, err)
			case err != nil:
				return nil, fmt.Errorf("verify %s: %w", prefix+f.Name, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return v, nil
}

// Version is a verified version of some partitions of an asset, read
// through its manifests: what checks read (it implements
// pipelines.Staged).
type Version struct {
	bucket    *blob.Bucket
	asset     string
	keys      []string
	manifests map[string]*Manifest
}

// Keys returns the partitions.
func (v *Version) Keys() []string { return slices.Clone(v.keys) }

// Manifest returns partition key's manifest.
func (v *Version) Manifest(key string) *Manifest { return v.manifests[key] }

// Files returns the file names of partition key.
func (v *Version) Files(key string) []string {
	m := v.manifests[key]
	if m == nil {
		return nil
	}
	names := make([]string, len(m.Files))
	for i, f := range m.Files {
		names[i] = f.Name
	}
	return names
}

// Open opens a file of partition key; reading to EOF checks it again.
func (v *Version) Open(ctx context.Context, key, name string) (io.ReadCloser, error) {
	m := v.manifests[key]
	if m == nil {
		return nil, fmt.Errorf("partition %q is not part of this version of %s (partitions: %q)", key, v.asset, v.keys)
	}
	f, err := m.File(name)
	if err != nil {
		return nil, err
	}
	return openChecked(ctx, v.bucket, VersionPrefix(v.asset, key, m.Version)+name, f)
}
