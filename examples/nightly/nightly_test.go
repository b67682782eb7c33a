package nightly_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/connectors/bucket"
	"github.com/weir-dev/weir/connectors/parquet"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/internal/blobtest"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
	"github.com/weir-dev/weir/verify"
)

func TestGenerateOrdersIsDeterministic(t *testing.T) {
	a, _ := nightly.GenerateOrders("2024-01-05")
	b, _ := nightly.GenerateOrders("2024-01-05")
	c, _ := nightly.GenerateOrders("2024-01-06")
	if len(a) < 2000 || len(a) != len(b) || a[17] != b[17] || len(a) == len(c) && a[0] == c[0] {
		t.Fatalf("generator not deterministic per day: %d %d %d", len(a), len(b), len(c))
	}
	if _, err := nightly.GenerateOrders("2024-13-01"); err == nil {
		t.Fatal("bad day accepted")
	}
}

// TestPipelineComputesRevenue runs the whole example over 9 days on every
// blob backend and checks DuckDB's revenue against the same numbers computed
// in Go.
func TestPipelineComputesRevenue(t *testing.T) {
	for scheme, u := range blobtest.URLs(t) {
		t.Run(scheme, func(t *testing.T) { testPipeline(t, u) })
	}
}

func testPipeline(t *testing.T, bucketURL string) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bucket, err := bucket.Open(ctx, bucketURL)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	g := nightly.Graph()
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "*", Partitions: "2024-01-01...2024-01-09"},
		time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&scheduler.Executor{Store: st, Bucket: bucket, Clock: clock.Real{}, Concurrency: 2}).Run(ctx, tg, scheduler.RunOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != store.RunSucceeded || res.Succeeded != 36 {
		t.Fatalf("run %+v", res)
	}
	// The published layout: a pointer to a version whose manifest lists
	// the files.
	ptr, err := verify.ReadPointer(ctx, bucket, "revenue_7d", "2024-01-09")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.ReadManifest(ctx, bucket, "revenue_7d", "2024-01-09", ptr.Version, ptr.ManifestSHA256); err != nil {
		t.Fatal(err)
	}

	// Go's answer for 2024-01-03..2024-01-09 in EUR.
	var want float64
	var orders int64
	for d := int64(2); d <= 8; d++ {
		raw, _ := nightly.GenerateOrders(nightly.Days.Key(d))
		start, end := nightly.Days.Window(d)
		for _, o := range nightly.Clean(raw, start, end) {
			if o.Currency == "EUR" {
				want += o.Amount
				orders++
			}
		}
	}
	cur, _ := st.PartitionCurrentList(ctx, "revenue_7d", []string{"2024-01-09"})
	in := verify.NewInput(bucket, "revenue_7d", []verify.PartitionVersion{{Key: "2024-01-09", Version: cur[0].Version, ManifestSHA256: cur[0].ManifestSHA256}})
	tbl, err := parquet.ReadFile(ctx, in, "2024-01-09", nightly.File, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 100)
	defer tr.Release()
	found := false
	for tr.Next() {
		rec := tr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			cols := map[string]any{}
			for c, f := range rec.Schema().Fields() {
				cols[f.Name] = rec.Column(c).GetOneForMarshal(r)
			}
			if cols["currency"] != "EUR" {
				continue
			}
			found = true
			if cols["days"] != int64(7) || cols["orders"] != orders || math.Abs(cols["revenue"].(float64)-want) > 0.05 {
				t.Fatalf("EUR row %v (%T %T %T), want 7 days, %d orders, revenue %.2f", cols, cols["days"], cols["orders"], cols["revenue"], orders, want)
			}
		}
	}
	if !found {
		t.Fatal("no EUR row")
	}
}
