package catalogseed

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/weir-dev/weir/internal/graphtest"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/postgres"
	"github.com/weir-dev/weir/store/postgres/pgtest"
	"github.com/weir-dev/weir/store/sqlite"
)

// Backends are the store drivers the benchmarks compare.
var Backends = []string{"sqlite", "postgres"}

// OpenStore opens a new, empty store of backend ("sqlite" or "postgres")
// for tb: a file in its temp directory, or a PostgreSQL schema of its own
// (pgtest: skipped or failed as pgtest says when the server is away). The
// caller closes it.
func OpenStore(ctx context.Context, tb testing.TB, backend string) store.Store {
	tb.Helper()
	var st store.Store
	var err error
	if backend == "sqlite" {
		st, err = sqlite.Open(ctx, filepath.Join(tb.TempDir(), "state.db"))
	} else {
		st, err = postgres.Open(ctx, pgtest.DSN(tb))
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// TenYearsHourly is the shape the scale benchmarks share: hourly
// partitions from 2015 in New York, the 20-asset graphtest.ChainAndFan over
// them, now at the start of 2025, and n = 87,600 partitions (ten years),
// or $WEIR_BENCH_PARTITIONS for a smaller try.
func TenYearsHourly() (hourly *partitions.TimeWindow, g *lineage.Graph, n int64, now time.Time) {
	n = 87_600
	if v, err := strconv.ParseInt(os.Getenv("WEIR_BENCH_PARTITIONS"), 10, 64); err == nil && v > 0 {
		n = v
	}
	hourly = partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Hourly, Start: "2015-01-01", Location: "America/New_York"})
	return hourly, graphtest.ChainAndFan(hourly), n, time.Date(2025, 1, 1, 5, 0, 0, 0, time.UTC)
}
