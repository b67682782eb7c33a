package connectors_test

import (
	"context"
	"io"
	"testing"

	"github.com/weir-dev/weir/connectors"
	"github.com/weir-dev/weir/internal/blobtest"
)

func TestOpenS3Bucket(t *testing.T) {
	ctx := context.Background()
	b, err := connectors.OpenBucket(ctx, blobtest.S3URL(t, "weir"))
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
	if _, err := connectors.OpenBucket(ctx, "s3://weir?bogus=1"); err == nil {
		t.Fatal("unknown s3 option accepted")
	}
}
