package verify_test

import (
	"context"
	"crypto/rand"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-dev/weir/connectors/bucket"
	"github.com/weir-dev/weir/verify"
)

// stageFile writes size random bytes as one staged file on file:// and
// returns the stage.
func stageFile(b *testing.B, size int64) *verify.Stage {
	b.Helper()
	ctx := context.Background()
	bucket, err := bucket.Open(ctx, "file://"+b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bucket.Close() })
	s := verify.NewStage(bucket, "a", "v1", []string{"k"})
	w, err := s.Create(ctx, "k", "data.bin")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(w, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkChecksumWhileWriting: bytes through Stage.Create (SHA-256 as
// they stream) into a file:// bucket.
func BenchmarkChecksumWhileWriting(b *testing.B) {
	ctx := context.Background()
	bucket, _ := bucket.Open(ctx, "file://"+b.TempDir())
	defer bucket.Close()
	buf := make([]byte, 1<<20)
	rand.Read(buf)
	const size = 256 << 20
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		s := verify.NewStage(bucket, "a", "v", []string{"k"})
		w, _ := s.Create(ctx, "k", "data.bin")
		for n := 0; n < size; n += len(buf) {
			w.Write(buf)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChecksumWhileVerifying: the audit re-read of a staged file.
func BenchmarkChecksumWhileVerifying(b *testing.B) {
	const size = 256 << 20
	s := stageFile(b, size)
	b.SetBytes(size)
	for b.Loop() {
		if _, err := s.Seal(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify1GB: the audit of a 1 GB partition, with the peak heap
// in use while it runs (memory stays flat whatever the size).
func BenchmarkVerify1GB(b *testing.B) {
	const size = 1 << 30
	s := stageFile(b, size)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	})
	b.SetBytes(size)
	for b.Loop() {
		if _, err := s.Seal(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "peak-heap-MB")
}
