// Package blobtest gives tests a bucket URL for each object-storage backend
// weir supports that can run here: mem://, file:// in a temp dir, and s3://
// against an in-process S3 server (gofakes3) on 127.0.0.1 through the real
// gocloud s3blob driver.
package blobtest

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	_ "gocloud.dev/blob/s3blob" // the s3:// URLs below open through the real driver
)

// S3URL starts an in-process S3 server holding bucket name and returns the
// s3:// URL that opens it. It sets AWS credentials for the test.
func S3URL(t testing.TB, name string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	if tt, ok := t.(interface{ Setenv(k, v string) }); ok {
		tt.Setenv("AWS_ACCESS_KEY_ID", "test")
		tt.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	}
	return "s3://" + name + "?endpoint=" + url.QueryEscape(srv.URL) + "&use_path_style=true&region=us-east-1&disable_https=true"
}

// URLs returns a fresh bucket URL per backend, by scheme.
func URLs(t testing.TB) map[string]string {
	return map[string]string{
		"mem":  "mem://",
		"file": "file://" + t.TempDir(),
		"s3":   S3URL(t, "weir-test"),
	}
}
