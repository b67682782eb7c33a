package sensor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"

	"gocloud.dev/blob"
)

// BlobPrefix reports the objects that appeared under Prefix of a bucket
// since the last poll, each object's partition key taken from its name.
// It lists the prefix on every poll: keep landing prefixes pruned (or
// one prefix per period) when they hold many objects.
type BlobPrefix struct {
	// Bucket is any gocloud.dev/blob bucket. Required.
	Bucket *blob.Bucket
	// Prefix is listed, e.g. "landing/orders/".
	Prefix string
	// Pattern derives a partition key from an object's key: its named
	// group "key" ("landing/orders/(?P<key>\d{4}-\d{2}-\d{2})/"). Objects
	// it does not match are ignored. Required.
	Pattern *regexp.Regexp
}

// blobCursor is where a blob poll resumes: the newest modification time
// seen and the objects seen at exactly that time (stores with second
// precision may hold more objects at that time later).
type blobCursor struct {
	Time int64    `json:"t"`
	Keys []string `json:"keys,omitempty"`
}

// Validate checks the source.
func (b *BlobPrefix) Validate() error {
	if b.Bucket == nil {
		return errors.New("blob sensor: Bucket is required")
	}
	if b.Pattern == nil || b.Pattern.SubexpIndex("key") < 0 {
		return fmt.Errorf("blob sensor: Pattern %v needs a named group (?P<key>...) for the partition key", b.Pattern)
	}
	return nil
}

func (b *BlobPrefix) String() string {
	return fmt.Sprintf("objects under %q matching %s", b.Prefix, b.Pattern)
}

// Poll lists the prefix and reports the objects newer than cursor.
func (b *BlobPrefix) Poll(ctx context.Context, cursor string) (Poll, error) {
	if err := b.Validate(); err != nil {
		return Poll{}, err
	}
	var cur blobCursor
	if cursor != "" {
		if err := json.Unmarshal([]byte(cursor), &cur); err != nil {
			return Poll{}, fmt.Errorf("blob sensor cursor %q: %w", cursor, err)
		}
	}
	next := cur
	var keys []string
	var n int64
	group := b.Pattern.SubexpIndex("key")
	it := b.Bucket.List(&blob.ListOptions{Prefix: b.Prefix})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Poll{}, fmt.Errorf("list %q: %w", b.Prefix, err)
		}
		if o.IsDir {
			continue
		}
		t := o.ModTime.UnixNano()
		if t < cur.Time || t == cur.Time && slices.Contains(cur.Keys, o.Key) {
			continue // seen
		}
		switch {
		case t > next.Time:
			next = blobCursor{Time: t, Keys: []string{o.Key}}
		case t == next.Time:
			next.Keys = append(next.Keys, o.Key)
		}
		m := b.Pattern.FindStringSubmatch(o.Key)
		if m == nil {
			continue
		}
		n++
		if k := m[group]; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(next.Keys)
	data, err := json.Marshal(next)
	if err != nil {
		return Poll{}, err
	}
	return Poll{Keys: keys, Arrivals: n, Cursor: string(data)}, nil
}
