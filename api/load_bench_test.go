package api_test

import (
	"context"
	"database/sql"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/backfill"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/internal/catalogseed"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/scheduler"
)

// BenchmarkAssetStatusDuringBackfill is the API's load test (issue 15): a
// catalog of 20 assets × 87,600 hourly partitions (catalogseed), a
// backfill of the latest 180 days of every asset running on 4 worker slots,
// and GET /api/v1/assets (every asset's partitions by state, as ranges)
// and GET /api/v1/assets/fan09 asked again and again meanwhile. It
// reports each endpoint's p50 and p95 latency, its response size and the
// tasks the backfill finished meanwhile.
//
//	WEIR_TEST_POSTGRES_DSN=... go test -run XXX -bench AssetStatusDuringBackfill -benchtime 1x ./api
func BenchmarkAssetStatusDuringBackfill(b *testing.B) {
	hourly, g, n, now := catalogseed.TenYearsHourly()
	for _, backend := range catalogseed.Backends {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			st := catalogseed.OpenStore(ctx, b, backend)
			defer st.Close()
			if _, err := catalogseed.Seed(ctx, st.(interface{ DB() *sql.DB }).DB(), g, n, now); err != nil {
				b.Fatal(err)
			}
			o := backfill.Defaults()
			o.Select, o.Reprocess = "*", "all"
			o.Partitions = hourly.Key(n-180*24) + "..." + hourly.Key(n-1)
			p, err := backfill.PlanOf(ctx, st, g, o, now)
			if err != nil {
				b.Fatal(err)
			}
			run, err := p.Create(ctx, st, "bench")
			if err != nil {
				b.Fatal(err)
			}
			bucket := memblob.OpenBucket(nil)
			defer bucket.Close()
			wctx, stop := context.WithCancel(ctx)
			w := &scheduler.Worker{Store: st, Bucket: bucket, Graph: g, Concurrency: 4, LeaseTimeout: time.Minute, PollInterval: 100 * time.Millisecond}
			done := make(chan error, 1)
			go func() { done <- w.Run(wctx) }()
			// Fixed at the seeded "now": the partitions that exist do not
			// move while it runs.
			srv := httptest.NewServer((&api.Server{Store: st, Bucket: bucket, Graph: g, Clock: clock.NewFake(now)}).Handler())
			defer srv.Close()
			// As weir serve answers: from a read at most 5 s old. Its
			// clock starts at the seeded "now" and runs.
			cached := httptest.NewServer((&api.Server{Store: st, Bucket: bucket, Graph: g, Clock: runningFrom(now), StatusMaxAge: 5 * time.Second}).Handler())
			defer cached.Close()
			b.ResetTimer()
			for _, path := range []string{"/api/v1/assets", "/api/v1/assets/fan09", "cached /api/v1/assets", "cached /api/v1/assets/fan09"} {
				srv := srv
				if p, ok := strings.CutPrefix(path, "cached "); ok {
					srv, path = cached, p
				}
				var took []time.Duration
				size := 0
				for range 10 * b.N {
					t0 := time.Now()
					resp, err := srv.Client().Get(srv.URL + path)
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					took = append(took, time.Since(t0))
					if resp.StatusCode != 200 {
						b.Fatalf("%s: %d %s", path, resp.StatusCode, body)
					}
					size = len(body)
				}
				slices.Sort(took)
				name := map[string]string{"/api/v1/assets": "all", "/api/v1/assets/fan09": "one"}[path]
				if srv == cached {
					name = "cached_" + name
				}
				b.ReportMetric(took[len(took)/2].Seconds()*1000, name+"_p50_ms")
				b.ReportMetric(took[len(took)*95/100].Seconds()*1000, name+"_p95_ms")
				b.ReportMetric(float64(size), name+"_bytes")
			}
			b.StopTimer()
			stop()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			r, err := st.RunGet(ctx, run.ID)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(r.Done()), "backfill_tasks_done")
			b.Logf("%s: %d partitions per asset; backfill %d of %d tasks done meanwhile (%s)", backend, n, r.Done(), r.TaskCount(), partitions.Format(hourly, partitions.Span(n-180*24, n)))
		})
	}
}

// runningClock is the system clock moved to start at a given time.
type runningClock struct{ offset time.Duration }

func runningFrom(t time.Time) runningClock { return runningClock{offset: time.Until(t)} }

func (c runningClock) Now() time.Time                         { return time.Now().Add(c.offset) }
func (c runningClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
