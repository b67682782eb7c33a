// Package bucket opens object storage from a URL through gocloud.dev/blob:
// file:// (a relative directory is taken from the working directory and
// created) and mem:// are built in; s3://, gs:// and azblob:// open when the
// binary imports their gocloud drivers, as cmd/weir does:
//
//	import _ "gocloud.dev/blob/s3blob"
//
// so a library user's binary carries only the cloud SDKs it uses.
package bucket

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/memblob"  // mem://

	"github.com/weir-dev/weir/internal/urlredact"
)

// KnownSchemes are the schemes weir documents; Schemes says which of them
// this binary can open.
var KnownSchemes = []string{"file", "mem", "s3", "gs", "azblob"}

// Schemes returns the schemes this binary opens: file and mem, and those of
// KnownSchemes whose gocloud driver it imports.
func Schemes() []string {
	var out []string
	for _, s := range KnownSchemes {
		if s == "file" || blob.DefaultURLMux().ValidBucketScheme(s) {
			out = append(out, s)
		}
	}
	return out
}

// Open opens the bucket at rawURL: file://DIR (a relative DIR is taken from
// the working directory and created if missing), mem://, and s3://BUCKET,
// gs://BUCKET or azblob://CONTAINER when the binary imports their drivers.
// Query options pass through to gocloud.dev/blob's URL openers (for S3:
// region, endpoint, use_path_style, disable_https; credentials come from
// the environment, as with the cloud providers' own tools).
func Open(ctx context.Context, rawURL string) (*blob.Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w %q: not a URL like file://.weir/blobs (schemes: %s)", ErrBadURL, urlredact.URL(rawURL), schemeList())
	}
	if u.Scheme == "file" {
		return openFile(ctx, u)
	}
	if !blob.DefaultURLMux().ValidBucketScheme(u.Scheme) {
		why := "is not supported"
		if slices.Contains(KnownSchemes, u.Scheme) {
			why = `needs its driver in this binary (import _ "gocloud.dev/blob/` + map[string]string{"s3": "s3blob", "gs": "gcsblob", "azblob": "azureblob"}[u.Scheme] + `")`
		}
		return nil, fmt.Errorf("%w %q: scheme %q %s (schemes: %s)", ErrBadURL, urlredact.URL(rawURL), u.Scheme, why, schemeList())
	}
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil { // opening contacts nothing: the URL's options are wrong
		return nil, fmt.Errorf("%w %s: %w", ErrBadURL, urlredact.URL(rawURL), err)
	}
	return b, nil
}

// ErrBadURL is wrapped by errors about a blob URL itself (its syntax, an
// unknown scheme, options its driver refuses), as opposed to a bucket that
// could not be reached.
var ErrBadURL = errors.New("bad blob URL")

func schemeList() string { return strings.Join(Schemes(), "://, ") + "://" }

// openFile resolves a relative file:// URL (gocloud wants absolute paths)
// and creates the directory.
func openFile(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	dir := u.Host + u.Path // file://.weir/blobs parses as host ".weir", path "/blobs"
	if dir == "" {
		return nil, fmt.Errorf("%w %q: names no directory; use file://DIR, e.g. file://.weir/blobs", ErrBadURL, u.Redacted())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob URL %q: %w", u.Redacted(), err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("blob URL %q: create directory: %w", u.Redacted(), err)
	}
	q := u.Query()
	if q.Get("metadata") == "" {
		q.Set("metadata", "skip") // no .attrs sidecar files next to the data
	}
	if q.Get("no_tmp_dir") == "" {
		// Each write goes to a temporary file renamed into place; made in
		// $TMPDIR (fileblob's default), the rename fails with "invalid
		// cross-device link" wherever /tmp is its own file system (a tmpfs,
		// a container's volume). Next to the object it always works.
		q.Set("no_tmp_dir", "true")
	}
	fu := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	b, err := blob.OpenBucket(ctx, fu.String())
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", u.Redacted(), err)
	}
	return b, nil
}
