// Command river measures River's no-op job throughput, weir's dispatch and
// the database's raw ceiling (batched SKIP LOCKED leases, fenced completions
// with a materialization row each) on the same database, in the same run,
// and prints them, their ratios and what each cost in CPU. It lives in its
// own module so that weir gains no dependency on River.
//
//	cd bench && go run ./river -store postgres://postgres@127.0.0.1:5432/test -jobs 20000 -runs 3 -sqlite
//
// Each side gets a schema (PostgreSQL) or a file (SQLite) of its own,
// dropped at the end. Runs alternate River and weir, so drift on a shared
// machine touches both alike.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite"

	"github.com/weir-dev/weir/scheduler/dispatchbench"
	"github.com/weir-dev/weir/store"
	_ "github.com/weir-dev/weir/store/postgres"
	_ "github.com/weir-dev/weir/store/sqlite"
)

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct{ river.WorkerDefaults[noopArgs] }

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

type config struct {
	dsn             string
	jobs, runs      int
	riverWorkers    int
	cooldown        time.Duration
	weirWorkers     int
	weirConcurrency int
}

func main() {
	var c config
	flag.StringVar(&c.dsn, "store", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL database both sides use (each in a schema of its own)")
	flag.IntVar(&c.jobs, "jobs", 20_000, "jobs (River) and tasks (weir) per run")
	flag.IntVar(&c.runs, "runs", 3, "runs of each side, alternating")
	flag.IntVar(&c.riverWorkers, "river-workers", 100, "River's MaxWorkers")
	flag.DurationVar(&c.cooldown, "river-fetch-cooldown", time.Millisecond, "River's FetchCooldown (its default, 100ms, caps it at MaxWorkers per 100ms; 1ms is its minimum, tuned for throughput as in river bench)")
	flag.IntVar(&c.weirWorkers, "weir-workers", 1, "weir workers, each with its own connections")
	flag.IntVar(&c.weirConcurrency, "weir-concurrency", 100, "tasks running at once per weir worker (workers × concurrency = River's workers, by default)")
	withSQLite := flag.Bool("sqlite", false, "also compare on SQLite (a file each, synchronous FULL)")
	flag.Parse()
	ctx := context.Background()
	backends := []string{"postgres"}
	if *withSQLite {
		backends = append(backends, "sqlite")
	}
	for _, b := range backends {
		if err := compare(ctx, c, b); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", b, err)
			os.Exit(1)
		}
	}
}

// sample is one run of one side.
type sample struct {
	rate              float64
	cpuPer1000        float64 // this process, seconds per 1,000 jobs
	dbCPUPer1000      float64 // the database server's, -1 if unknown
	txPerTask         float64 // weir only
	handoffP50, hoP95 time.Duration
}

func compare(ctx context.Context, c config, backend string) error {
	var rv, wr, raw []sample
	for i := range c.runs {
		r, err := benchRiver(ctx, c, backend)
		if err != nil {
			return fmt.Errorf("river: %w", err)
		}
		w, err := benchWeir(ctx, c, backend)
		if err != nil {
			return fmt.Errorf("weir: %w", err)
		}
		x, err := benchRaw(ctx, c, backend)
		if err != nil {
			return fmt.Errorf("raw SQL: %w", err)
		}
		fmt.Printf("%s run %d: River %.0f jobs/s, weir %.0f tasks/s, raw SQL %.0f jobs/s; weir/River %.2f, weir/raw %.2f\n",
			backend, i+1, r.rate, w.rate, x.rate, w.rate/r.rate, w.rate/x.rate)
		rv, wr, raw = append(rv, r), append(wr, w), append(raw, x)
	}
	fmt.Printf("\n%s, %d jobs/tasks per run, %d runs (min / median / max)\n", backend, c.jobs, c.runs)
	row := func(name string, f func(sample) float64, xs []sample, format string) {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		slices.Sort(v)
		show := func(x float64) string {
			if x < 0 {
				return "n/a"
			}
			return fmt.Sprintf(format, x)
		}
		fmt.Printf("  %-44s %10s %10s %10s\n", name, show(v[0]), show(v[len(v)/2]), show(v[len(v)-1]))
	}
	row(fmt.Sprintf("River, %d workers, jobs/s", c.riverWorkers), func(s sample) float64 { return s.rate }, rv, "%.0f")
	row(fmt.Sprintf("weir, %d × %d, verified tasks/s", c.weirWorkers, c.weirConcurrency), func(s sample) float64 { return s.rate }, wr, "%.0f")
	ratios := make([]sample, len(rv))
	for i := range rv {
		ratios[i].rate = wr[i].rate / rv[i].rate
	}
	row("weir / River (same run)", func(s sample) float64 { return s.rate }, ratios, "%.2f")
	row(fmt.Sprintf("raw SQL, %d × batches of %d, jobs/s", rawWorkers, rawBatch), func(s sample) float64 { return s.rate }, raw, "%.0f")
	toRaw := make([]sample, len(raw))
	for i := range raw {
		toRaw[i].rate = wr[i].rate / raw[i].rate
	}
	row("weir / raw SQL (same run)", func(s sample) float64 { return s.rate }, toRaw, "%.2f")
	row("raw SQL CPU s / 1,000 jobs (its process)", func(s sample) float64 { return s.cpuPer1000 }, raw, "%.3f")
	row("River CPU s / 1,000 jobs (its process)", func(s sample) float64 { return s.cpuPer1000 }, rv, "%.3f")
	row("weir CPU s / 1,000 tasks (its process)", func(s sample) float64 { return s.cpuPer1000 }, wr, "%.3f")
	if backend == "postgres" {
		row("PostgreSQL CPU s / 1,000 River jobs", func(s sample) float64 { return s.dbCPUPer1000 }, rv, "%.3f")
		row("PostgreSQL CPU s / 1,000 weir tasks", func(s sample) float64 { return s.dbCPUPer1000 }, wr, "%.3f")
		row("PostgreSQL CPU s / 1,000 raw SQL jobs", func(s sample) float64 { return s.dbCPUPer1000 }, raw, "%.3f")
	}
	row("weir transactions / task", func(s sample) float64 { return s.txPerTask }, wr, "%.3f")
	row("weir handoff p50, ms", func(s sample) float64 { return float64(s.handoffP50.Microseconds()) / 1000 }, wr, "%.2f")
	row("weir handoff p95, ms", func(s sample) float64 { return float64(s.hoP95.Microseconds()) / 1000 }, wr, "%.2f")
	fmt.Println()
	return nil
}

// scratch returns a store URL of its own for one side of one run (a
// PostgreSQL schema or a SQLite file), and a function that removes it.
func scratch(ctx context.Context, c config, backend string) (string, func(), error) {
	if backend == "sqlite" {
		dir, err := os.MkdirTemp("", "weir-bench-")
		if err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, "state.db"), func() { os.RemoveAll(dir) }, nil
	}
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	rand.Read(b[:])
	name := "weir_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	drop := func() {
		conn.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		conn.Close(context.Background())
	}
	u, err := url.Parse(c.dsn)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// dbCPU reads a local PostgreSQL's CPU time, -1 when it cannot.
func dbCPU(c config, backend string) time.Duration {
	if backend != "postgres" || !dispatchbench.IsLocal(c.dsn) {
		return -1
	}
	d, err := dispatchbench.LocalPostgresCPU()
	if err != nil {
		return -1
	}
	return d
}

// benchRiver inserts the no-op jobs, then times a client with
// riverWorkers workers until all have completed.
func benchRiver(ctx context.Context, c config, backend string) (sample, error) {
	where, drop, err := scratch(ctx, c, backend)
	if err != nil {
		return sample{}, err
	}
	defer drop()
	if backend == "sqlite" {
		db, err := sql.Open("sqlite", "file:"+where+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)")
		if err != nil {
			return sample{}, err
		}
		defer db.Close()
		db.SetMaxOpenConns(1) // as riversqlite asks
		return runRiver(ctx, c, backend, riversqlite.New(db))
	}
	pool, err := pgxpool.New(ctx, where)
	if err != nil {
		return sample{}, err
	}
	defer pool.Close()
	return runRiver(ctx, c, backend, riverpgxv5.New(pool))
}

func runRiver[TTx any](ctx context.Context, c config, backend string, driver riverdriver.Driver[TTx]) (sample, error) {
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return sample{}, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return sample{}, err
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, &noopWorker{})
	client, err := river.NewClient(driver, &river.Config{FetchCooldown: c.cooldown,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.riverWorkers}}, Workers: ws})
	if err != nil {
		return sample{}, err
	}
	for left := c.jobs; left > 0; {
		batch := make([]river.InsertManyParams, min(left, 1000))
		for i := range batch {
			batch[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := client.InsertMany(ctx, batch); err != nil {
			return sample{}, err
		}
		left -= len(batch)
	}
	// A channel for every completion: River drops events a full channel
	// cannot take.
	done, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: c.jobs, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer cancel()
	cpu0, db0 := dispatchbench.ProcessCPU(), dbCPU(c, backend)
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return sample{}, err
	}
	for range c.jobs {
		if _, ok := <-done; !ok {
			return sample{}, fmt.Errorf("subscription closed early")
		}
	}
	took := time.Since(start)
	s := sample{rate: float64(c.jobs) / took.Seconds(), cpuPer1000: per1000(dispatchbench.ProcessCPU()-cpu0, c.jobs), dbCPUPer1000: -1}
	if db1 := dbCPU(c, backend); db0 >= 0 && db1 >= 0 {
		s.dbCPUPer1000 = per1000(db1-db0, c.jobs)
	}
	sctx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	return s, client.Stop(sctx)
}

func per1000(d time.Duration, n int) float64 { return d.Seconds() / float64(n) * 1000 }

func processCPU() time.Duration { return dispatchbench.ProcessCPU() }

// benchWeir runs weir's dispatch benchmark: the tasks, each leased,
// writing one byte, staged, verified and promoted fenced.
func benchWeir(ctx context.Context, c config, backend string) (sample, error) {
	where, drop, err := scratch(ctx, c, backend)
	if err != nil {
		return sample{}, err
	}
	defer drop()
	if backend == "sqlite" {
		where = "sqlite://" + where
	}
	o := dispatchbench.Opts{Open: func(ctx context.Context) (store.Store, error) { return store.Open(ctx, where) },
		Tasks: c.jobs, Workers: c.weirWorkers, Concurrency: c.weirConcurrency, Now: time.Now()}
	if backend == "postgres" && dispatchbench.IsLocal(c.dsn) {
		o.DatabaseCPU = dispatchbench.LocalPostgresCPU
	}
	res, err := dispatchbench.Run(ctx, o)
	if err != nil {
		return sample{}, err
	}
	return sample{rate: res.CompletionRate(), cpuPer1000: res.CPUPer1000(res.CPU), dbCPUPer1000: res.CPUPer1000(res.DatabaseCPU),
		txPerTask: res.TransactionsPerTask(), handoffP50: res.Handoff(0.5), hoP95: res.Handoff(0.95)}, nil
}
