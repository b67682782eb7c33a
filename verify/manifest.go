package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// File is one file of a version: its name relative to the version prefix,
// size in bytes and SHA-256 in hex.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Rows and Schema describe Parquet files (*.parquet): the row count and
	// the Arrow schema, read from the footer.
	Rows   *int64 `json:"rows,omitempty"`
	Schema string `json:"schema,omitempty"`
}

// Manifest lists the files of one version of one partition.
type Manifest struct {
	Asset     string `json:"asset"`
	Partition string `json:"partition"`
	Version   string `json:"version"`
	Files     []File `json:"files"`
}

// Bytes returns the total size of the files.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// File returns the entry named name.
func (m *Manifest) File(name string) (File, error) {
	i := sort.Search(len(m.Files), func(i int) bool { return m.Files[i].Name >= name })
	if i < len(m.Files) && m.Files[i].Name == name {
		return m.Files[i], nil
	}
	names := make([]string, len(m.Files))
	for i, f := range m.Files {
		names[i] = f.Name
	}
	return File{}, fmt.Errorf("%s partition %s version %s has no file %q (it has %q)", m.Asset, m.Partition, m.Version, name, names)
}

// encode returns the manifest's canonical bytes and their SHA-256.
func (m *Manifest) encode() ([]byte, string, error) {
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, "", err
	}
	b = append(b, '\n')
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

// ChecksumError reports bytes that are not the bytes that were recorded.
type ChecksumError struct {
	Path       string // key in the bucket
	WantSHA256 string
	GotSHA256  string
	WantSize   int64
	GotSize    int64
}

func (e *ChecksumError) Error() string {
	if e.WantSize != e.GotSize {
		return fmt.Sprintf("checksum mismatch: %s is %d bytes, recorded %d (sha256 %s, recorded %s)", e.Path, e.GotSize, e.WantSize, e.GotSHA256, e.WantSHA256)
	}
	return fmt.Sprintf("checksum mismatch: %s has sha256 %s, recorded %s", e.Path, e.GotSHA256, e.WantSHA256)
}

// ErrMissing is wrapped when a file, manifest or pointer is not in the
// bucket.
var ErrMissing = errors.New("missing from object storage")

// ReadManifest reads the manifest of a version and checks its bytes against
// wantSHA256, the checksum the state store recorded at promotion.
func ReadManifest(ctx context.Context, b *blob.Bucket, asset, partition, version, wantSHA256 string) (*Manifest, error) {
	key := VersionPrefix(asset, partition, version) + ManifestName
	data, err := b.ReadAll(ctx, key)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("manifest %s: %w", key, ErrMissing)
		}
		return nil, fmt.Errorf("read manifest %s: %w", key, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); wantSHA256 != "" && got != wantSHA256 {
		return nil, &ChecksumError{Path: key, WantSHA256: wantSHA256, GotSHA256: got, WantSize: int64(len(data)), GotSize: int64(len(data))}
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest %s is not a weir manifest: %w", key, err)
	}
	if m.Asset != asset || m.Partition != partition || m.Version != version {
		return nil, fmt.Errorf("manifest %s describes %s/%s/%s, not this version", key, m.Asset, m.Partition, m.Version)
	}
	return &m, nil
}

// checkedReader hashes what it reads and, at EOF, fails unless size and
// SHA-256 match the manifest.
type checkedReader struct {
	r    io.ReadCloser
	path string
	want File
	h    hashState
	n    int64
	// onMismatch, if set, is told of a mismatch at EOF.
	onMismatch func(error)
}

type hashState interface {
	io.Writer
	Sum([]byte) []byte
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err == io.EOF {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.want.SHA256 || c.n != c.want.Size {
			err := &ChecksumError{Path: c.path, WantSHA256: c.want.SHA256, GotSHA256: got, WantSize: c.want.Size, GotSize: c.n}
			if c.onMismatch != nil {
				c.onMismatch(err)
			}
			return n, err
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.r.Close() }

// openChecked opens key for reading with the size and checksum of f
// checked at EOF.
func openChecked(ctx context.Context, b *blob.Bucket, key string, f File) (*checkedReader, error) {
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("%s: %w", key, ErrMissing)
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return &checkedReader{r: r, path: key, want: f, h: sha256.New()}, nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// checkFile re-reads key, streamed, and compares its size and SHA-256 with
// want: a mismatch is a *ChecksumError; a failed read is returned as it is.
func checkFile(ctx context.Context, b *blob.Bucket, key string, want File) error {
	size, sum, err := hashObject(ctx, b, key)
	if err != nil {
		return err
	}
	if size != want.Size || sum != want.SHA256 {
		return &ChecksumError{Path: key, WantSHA256: want.SHA256, GotSHA256: sum, WantSize: want.Size, GotSize: size}
	}
	return nil
}

// hashObject streams key and returns its size and SHA-256.
func hashObject(ctx context.Context, b *blob.Bucket, key string) (int64, string, error) {
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return 0, "", fmt.Errorf("%s: %w", key, ErrMissing)
		}
		return 0, "", fmt.Errorf("open %s: %w", key, err)
	}
	defer r.Close()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	// Hide the reader's WriteTo: it would allocate its own buffer per file.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, *buf)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", key, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
