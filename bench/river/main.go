// Command river measures River's no-op job throughput and weir's dispatch
// on the same database, in the same run, with the same number of workers,
// and prints both and their ratio. It lives in its own module so that weir
// gains no dependency on River.
//
//	cd bench && go run ./river -store postgres://postgres@127.0.0.1:5432/test -jobs 20000
//
// Each side gets a schema of its own, dropped at the end.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/weir-dev/weir/scheduler/dispatchbench"
	"github.com/weir-dev/weir/store"
	_ "github.com/weir-dev/weir/store/postgres"
)

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct{ river.WorkerDefaults[noopArgs] }

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

func main() {
	dsn := flag.String("store", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL database both sides use (each in a schema of its own)")
	jobs := flag.Int("jobs", 20_000, "jobs (River) and tasks (weir)")
	riverWorkers := flag.Int("river-workers", 100, "River's MaxWorkers")
	cooldown := flag.Duration("river-fetch-cooldown", time.Millisecond, "River's FetchCooldown (its default, 100ms, caps it at MaxWorkers per 100ms; 1ms is its minimum, tuned for throughput as in river bench)")
	weirWorkers := flag.Int("weir-workers", 4, "weir workers, each with its own connections")
	weirConcurrency := flag.Int("weir-concurrency", 25, "tasks running at once per weir worker")
	flag.Parse()
	ctx := context.Background()
	riverRate, err := benchRiver(ctx, *dsn, *jobs, *riverWorkers, *cooldown)
	if err != nil {
		fmt.Fprintln(os.Stderr, "river:", err)
		os.Exit(1)
	}
	weir, err := benchWeir(ctx, *dsn, *jobs, *weirWorkers, *weirConcurrency)
	if err != nil {
		fmt.Fprintln(os.Stderr, "weir:", err)
		os.Exit(1)
	}
	fmt.Printf("River %d no-op jobs, %d workers:           %8.0f jobs/s\n", *jobs, *riverWorkers, riverRate)
	fmt.Printf("weir  %d verified tasks, %d workers × %d: %8.0f tasks/s (handoff p50 %s, p95 %s)\n", *jobs, *weirWorkers, *weirConcurrency,
		weir.CompletionRate(), weir.Handoff(0.5).Round(10*time.Microsecond), weir.Handoff(0.95).Round(10*time.Microsecond))
	fmt.Printf("weir / River: %.2f\n", weir.CompletionRate()/riverRate)
}

// schema creates a schema of its own on dsn and returns a DSN whose
// search_path is it, and a function that drops it.
func schema(ctx context.Context, dsn string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, dsn)
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
	u, err := url.Parse(dsn)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// benchRiver inserts n no-op jobs, then times a client with workers
// workers until all have completed.
func benchRiver(ctx context.Context, dsn string, n, workers int, cooldown time.Duration) (float64, error) {
	sdsn, drop, err := schema(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer drop()
	pool, err := pgxpool.New(ctx, sdsn)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return 0, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return 0, err
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, &noopWorker{})
	client, err := river.NewClient(driver, &river.Config{FetchCooldown: cooldown, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}}, Workers: ws})
	if err != nil {
		return 0, err
	}
	for left := n; left > 0; {
		batch := make([]river.InsertManyParams, min(left, 1000))
		for i := range batch {
			batch[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := client.InsertMany(ctx, batch); err != nil {
			return 0, err
		}
		left -= len(batch)
	}
	// A channel for every completion: River drops events a full channel
	// cannot take.
	done, cancel := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: n, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer cancel()
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return 0, err
	}
	for range n {
		if _, ok := <-done; !ok {
			return 0, fmt.Errorf("subscription closed early")
		}
	}
	took := time.Since(start)
	sctx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := client.Stop(sctx); err != nil {
		return 0, err
	}
	return float64(n) / took.Seconds(), nil
}

// benchWeir runs weir's dispatch benchmark: n no-op tasks, each leased,
// writing one byte, staged, verified and promoted fenced.
func benchWeir(ctx context.Context, dsn string, n, workers, concurrency int) (*dispatchbench.Result, error) {
	sdsn, drop, err := schema(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer drop()
	return dispatchbench.Run(ctx, dispatchbench.Opts{Open: func(ctx context.Context) (store.Store, error) { return store.Open(ctx, sdsn) },
		Tasks: n, Workers: workers, Concurrency: concurrency, Now: time.Now()})
}
