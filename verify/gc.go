package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// VersionTime reads the creation time a version id starts with.
func VersionTime(version string) (time.Time, bool) {
	stamp, _, ok := strings.Cut(version, "-")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405.000Z", stamp)
	return t, err == nil
}

// StoredVersion is a version prefix found in the bucket.
type StoredVersion struct {
	Asset     string `json:"asset"`
	Partition string `json:"partition"`
	Version   string `json:"version"`
	Files     int    `json:"files"`
	Bytes     int64  `json:"bytes"`
}

// ListVersions lists the version prefixes of asset in the bucket.
func ListVersions(ctx context.Context, b *blob.Bucket, asset string) ([]StoredVersion, error) {
	var out []StoredVersion
	parts, err := listDirs(ctx, b, asset+"/")
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		versions, err := listDirs(ctx, b, p)
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			sv := StoredVersion{Asset: asset, Partition: strings.TrimSuffix(strings.TrimPrefix(p, asset+"/"), "/"), Version: strings.TrimSuffix(strings.TrimPrefix(v, p), "/")}
			err := eachObject(ctx, b, v, func(o *blob.ListObject) error {
				sv.Files++
				sv.Bytes += o.Size
				return nil
			})
			if err != nil {
				return nil, err
			}
			out = append(out, sv)
		}
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

func listDirs(ctx context.Context, b *blob.Bucket, prefix string) ([]string, error) {
	var dirs []string
	it := b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return dirs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		if o.IsDir {
			dirs = append(dirs, o.Key)
		}
	}
}

func eachObject(ctx context.Context, b *blob.Bucket, prefix string, fn func(*blob.ListObject) error) error {
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
}
