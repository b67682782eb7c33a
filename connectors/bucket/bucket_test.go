package bucket_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	_ "gocloud.dev/blob/s3blob"

	"github.com/weir-dev/weir/connectors/bucket"
	"github.com/weir-dev/weir/internal/blobtest"
)

func TestOpenS3Bucket(t *testing.T) {
	ctx := context.Background()
	b, err := bucket.Open(ctx, blobtest.S3URL(t, "weir"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "a/b/c.txt", []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	r, err := b.NewReader(ctx, "a/b/c.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
	if _, err := bucket.Open(ctx, "s3://weir?bogus=1"); err == nil {
		t.Fatal("unknown s3 option accepted")
	}
}

func TestOpenBucket(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	b, err := bucket.Open(ctx, "file://.weir/blobs")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteAll(ctx, "a/b.txt", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := os.Stat(filepath.Join(dir, ".weir", "blobs", "a", "b.txt")); err != nil {
		t.Fatalf("relative file:// not under the working directory: %v", err)
	}
	for _, u := range []string{"ftp://x", "nope", "file://"} {
		if _, err := bucket.Open(ctx, u); err == nil {
			t.Errorf("OpenBucket(%q) accepted", u)
		}
	}
}

// Writes must not depend on $TMPDIR: where it is another file system (a
// tmpfs /tmp), renaming a temporary file from it into the bucket fails.
// Here $TMPDIR does not exist at all.
func TestFileWritesDoNotGoThroughTMPDIR(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("TMPDIR", filepath.Join(dir, "no-such-dir"))
	b, err := bucket.Open(ctx, "file://"+filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "a/b/c.txt", []byte("hello"), nil); err != nil {
		t.Fatalf("write with $TMPDIR missing: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs", "a", "b"))
	if len(entries) != 1 || entries[0].Name() != "c.txt" {
		t.Fatalf("left beside the object: %v", entries)
	}
}
