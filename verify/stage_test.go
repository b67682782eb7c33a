package verify

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/pipelines"
)

func write(t *testing.T, s *Stage, key, name, data string) {
	t.Helper()
	w, err := s.Create(context.Background(), key, name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStageSealPublishRead(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	s := NewStage(b, "orders", "v1", []string{"2024-01-01", "2024-01-02"})
	write(t, s, "2024-01-01", "data.bin", "day one")
	write(t, s, "2024-01-02", "data.bin", "day two")
	write(t, s, "2024-01-02", "extra/part-1.csv", "more")
	sealed, err := s.Seal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 2 || len(sealed[1].Manifest.Files) != 2 || sealed[1].Manifest.Bytes() != 11 {
		t.Fatalf("sealed %+v", sealed)
	}
	if err := Publish(ctx, b, Pointer{Asset: "orders", Partition: "2024-01-02", Version: "v1", ManifestSHA256: sealed[1].ManifestSHA256, PromotedAt: time.Unix(0, 0)}, nil); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPointer(ctx, b, "orders", "2024-01-02")
	if err != nil || p.Version != "v1" {
		t.Fatalf("pointer %+v %v", p, err)
	}
	in := NewInput(b, "orders", []PartitionVersion{{Key: "2024-01-02", Version: "v1", ManifestSHA256: sealed[1].ManifestSHA256}})
	var _ pipelines.Input = in
	files, err := in.Files(ctx, "2024-01-02")
	if err != nil || strings.Join(files, ",") != "data.bin,extra/part-1.csv" {
		t.Fatalf("files %v %v", files, err)
	}
	r, err := in.Open(ctx, "2024-01-02", "data.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "day two" {
		t.Fatalf("read %q %v", got, err)
	}
	if _, err := in.Open(ctx, "2024-01-01", "data.bin"); err == nil || !strings.Contains(err.Error(), "not an input") {
		t.Fatalf("reading a partition that is not an input: %v", err)
	}
	// Behind weir's back: the published file changes; reading it fails.
	b.WriteAll(ctx, VersionPrefix("orders", "2024-01-02", "v1")+"data.bin", []byte("day 2!!"), nil)
	r, _ = in.Open(ctx, "2024-01-02", "data.bin")
	_, err = io.ReadAll(r)
	var ce *ChecksumError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "orders/2024-01-02/v1/data.bin") {
		t.Fatalf("altered file read: %v", err)
	}
	// A manifest that does not match the store's checksum is refused.
	bad := NewInput(b, "orders", []PartitionVersion{{Key: "2024-01-02", Version: "v1", ManifestSHA256: "00"}})
	if _, err := bad.Files(ctx, "2024-01-02"); !errors.As(err, &ce) {
		t.Fatalf("manifest mismatch: %v", err)
	}
}

func TestSealCatchesCorruptionBetweenWriteAndAudit(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	s := NewStage(b, "orders", "v1", []string{"k"})
	write(t, s, "k", "data.bin", "abcdef")
	key := VersionPrefix("orders", "k", "v1") + "data.bin"
	flipByte(t, b, key)
	_, err := s.Seal(ctx)
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Path != key || ce.WantSHA256 == ce.GotSHA256 {
		t.Fatalf("Seal after corruption: %v", err)
	}
	if !strings.Contains(err.Error(), ce.WantSHA256) || !strings.Contains(err.Error(), ce.GotSHA256) {
		t.Fatalf("error does not name both checksums: %v", err)
	}
}

func flipByte(t *testing.T, b *blob.Bucket, key string) {
	t.Helper()
	ctx := context.Background()
	data, err := b.ReadAll(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 0xff
	if err := b.WriteAll(ctx, key, data, nil); err != nil {
		t.Fatal(err)
	}
}

func TestStageRejectsBadWrites(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	s := NewStage(b, "orders", "v1", []string{"k1", "k2"})
	for _, tc := range []struct{ key, name, want string }{
		{"k9", "data", "not one this task produces"},
		{"k1", "../escape", "'..' path segment"},
		{"k1", "/abs", "is absolute"},
		{"k1", "_manifest.json", "reserves"},
	} {
		if _, err := s.Create(ctx, tc.key, tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%q, %q) = %v, want %q", tc.key, tc.name, err, tc.want)
		}
	}
	write(t, s, "k1", "data", "x")
	if _, err := s.Create(ctx, "k1", "data"); err == nil {
		t.Error("created the same file twice")
	}
	if _, err := s.Seal(ctx); err == nil || !strings.Contains(err.Error(), "no file for partition k2") {
		t.Errorf("Seal with a partition missing: %v", err)
	}
	w, _ := s.Create(ctx, "k2", "open")
	_ = w
	if _, err := s.Seal(ctx); err == nil || !strings.Contains(err.Error(), "still open") {
		t.Errorf("Seal with an open writer: %v", err)
	}
}

func TestRunChecks(t *testing.T) {
	ctx := context.Background()
	s := NewStage(memblob.OpenBucket(nil), "a", "v", []string{"k"})
	checks := []pipelines.Check{
		{Name: "ok", Func: func(context.Context, pipelines.Staged) (string, error) { return "fine", nil }},
		{Name: "warns", Warn: true, Func: func(context.Context, pipelines.Staged) (string, error) { return "", errors.New("meh") }},
		{Name: "blocks", Func: func(context.Context, pipelines.Staged) (string, error) { return "7 bad", errors.New("bad rows") }},
		{Name: "panics", Func: func(context.Context, pipelines.Staged) (string, error) { panic("oops") }},
	}
	res, err := RunChecks(ctx, checks, s)
	if len(res) != 4 || !res[0].Passed || res[0].Value != "fine" || res[1].Passed || res[2].Passed || res[2].Value != "7 bad" || res[3].Error != "panic: oops" {
		t.Fatalf("results %+v", res)
	}
	if err == nil || !strings.Contains(err.Error(), `check "blocks" failed: bad rows`) || strings.Contains(err.Error(), "warns") {
		t.Fatalf("blocking error %v", err)
	}
}
