// Package scalebench measures every command a user runs around a ten-year
// hourly backfill of a 20-asset graph (1.75 M tasks), as separate
// processes: wall time, peak RSS and output size. It runs only when asked:
//
//	WEIR_SCALE=sqlite go test ./internal/scalebench -run Scale -v -timeout 1h
//	WEIR_SCALE=postgres go test ./internal/scalebench -run Scale -v -timeout 1h
//
// WEIR_BENCH_PARTITIONS (default 87,600) shrinks the backfill for a quick
// try; WEIR_SCALE_TASKS (default 50,000) is how many tasks run before the
// reads are timed. The table it logs is the one in docs/performance.md.
package scalebench_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weir-dev/weir/internal/catalogseed"
	"github.com/weir-dev/weir/store"
	_ "github.com/weir-dev/weir/store/postgres"
	"github.com/weir-dev/weir/store/postgres/pgtest"
	_ "github.com/weir-dev/weir/store/sqlite"
)

type measured struct {
	command string
	wall    time.Duration
	rssMB   float64
	outKB   float64
	code    int
}

func TestScale(t *testing.T) {
	backend := os.Getenv("WEIR_SCALE")
	if backend == "" {
		t.Skip("the scale benchmark runs with WEIR_SCALE=sqlite or WEIR_SCALE=postgres (minutes)")
	}
	dir := t.TempDir()
	var storeURL string
	switch backend {
	case "sqlite":
		storeURL = "sqlite://" + filepath.Join(dir, "state.db")
	case "postgres":
		storeURL = pgtest.DSN(t)
	default:
		t.Fatalf("WEIR_SCALE=%q: want sqlite or postgres", backend)
	}
	tasks := int64(50_000)
	if v, err := strconv.ParseInt(os.Getenv("WEIR_SCALE_TASKS"), 10, 64); err == nil && v > 0 {
		tasks = v
	}
	bin := filepath.Join(dir, "scale")
	if out, err := exec.Command("go", "build", "-o", bin, "./scale").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "WEIR_STORE="+storeURL, "WEIR_BLOB=file://"+filepath.Join(dir, "blobs"), "NO_COLOR=1")
	// Peak RSS comes from GNU time: Linux keeps a process's high-water
	// mark across exec, so the test process's own size would show through
	// a direct child's rusage.
	timeBin, err := exec.LookPath("time")
	if _, serr := os.Stat("/usr/bin/time"); serr == nil {
		timeBin, err = "/usr/bin/time", nil
	}
	if err != nil {
		t.Skip("the scale benchmark needs GNU time (/usr/bin/time) for peak RSS")
	}
	run := func(args ...string) measured {
		t.Helper()
		cmd := exec.Command(timeBin, append([]string{"-f", "maxrss_kb=%M", bin}, args...)...)
		cmd.Env, cmd.Dir = env, dir
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		start := time.Now()
		err := cmd.Run()
		m := measured{command: strings.Join(args, " "), wall: time.Since(start), code: cmd.ProcessState.ExitCode()}
		stderr := errOut.String()
		if i := strings.LastIndex(stderr, "maxrss_kb="); i >= 0 {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(stderr[i+len("maxrss_kb="):]), 64)
			m.rssMB = kb / 1024
			stderr = stderr[:i]
		}
		m.outKB = float64(out.Len()+len(stderr)) / 1024
		if err != nil && m.code != 1 {
			t.Fatalf("%s: %v\n%s%s", m.command, err, out.String(), stderr)
		}
		return m
	}
	hourly, _, n, _ := catalogseed.TenYearsHourly()
	from, to := hourly.Key(0), hourly.Key(n-1)
	var rows []measured
	rows = append(rows, run("backfill", "create", "--select", "*", "--from", from, "--to", to))

	// Run tasks until WEIR_SCALE_TASKS have succeeded, then SIGINT.
	ctx := context.Background()
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r0, err := st.RunGet(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// On PostgreSQL resume hands the backfill to workers; --wait --local
	// runs it here, as on SQLite.
	cmd := exec.Command(bin, "backfill", "resume", "1", "-c", "64", "--progress", "none", "--wait", "--local")
	cmd.Env, cmd.Dir = env, dir
	var resumeOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &resumeOut, &resumeOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var hwm float64
	tick := time.NewTicker(200 * time.Millisecond)
	for {
		select {
		case err := <-exited:
			t.Fatalf("backfill resume exited before %d tasks ran: %v\n%s", tasks, err, resumeOut.String())
		case <-tick.C:
		}
		r, err := st.RunGet(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if kb := vmHWM(cmd.Process.Pid); kb > 0 {
			hwm = kb / 1024
		}
		if r.Done() >= tasks || time.Since(start) > 30*time.Minute {
			break
		}
	}
	tick.Stop()
	ran := time.Since(start)
	stopAt := time.Now()
	cmd.Process.Signal(os.Interrupt)
	<-exited
	stop := time.Since(stopAt)
	r1, _ := st.RunGet(ctx, 1)
	done := r1.Done() - r0.Done()
	// Its peak RSS as the process saw it (VmHWM is read at the end of
	// its progress output: --progress none prints none, so it is read
	// from /proc while it runs).
	resume := measured{command: fmt.Sprintf("backfill resume 1 -c 64 (%d tasks, %.0f tasks/s; stopped %s after SIGINT)", done, float64(done)/ran.Seconds(), stop.Round(10*time.Millisecond)),
		wall: ran, rssMB: hwm, outKB: float64(resumeOut.Len()) / 1024}
	rows = append(rows, resume)

	for _, args := range [][]string{
		{"backfill", "status", "1"},
		{"runs", "show", "1"},
		{"runs", "list"},
		{"tasks", "list", "--run", "1"},
		{"backfill", "report", "1", "-o", "json"},
		{"lineage", "events", "1"},
		{"gc", "--dry-run"},
		{"assets", "status"},
		{"assets", "show", "fan09"},
		{"assets", "list"},
	} {
		rows = append(rows, run(args...))
	}
	// The first reads came right after the worker stopped (its last
	// commits, autovacuum); the same two again.
	for _, args := range [][]string{{"backfill", "status", "1"}, {"assets", "status"}} {
		m := run(args...)
		m.command += " (again)"
		rows = append(rows, m)
	}
	// backfill status asked of a running serve --http (--api), which
	// keeps its store connections open.
	srv := exec.Command(bin, "serve", "--workers", "0", "--http", "127.0.0.1:0")
	srv.Env, srv.Dir = env, dir
	logs, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	apiURL := ""
	sc := bufio.NewScanner(logs)
	for apiURL == "" && sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " url=http://"); ok {
			host, _, _ := strings.Cut(rest, "/")
			apiURL = "http://" + host
		}
	}
	go io.Copy(io.Discard, logs)
	if apiURL == "" {
		srv.Process.Kill()
		t.Fatalf("serve --http said no address: %v", sc.Err())
	}
	run("backfill", "status", "1", "--api", apiURL) // the server's first read warms its connection
	rows = append(rows, run("backfill", "status", "1", "--api", apiURL))
	srv.Process.Signal(os.Interrupt)
	srv.Wait()

	var b strings.Builder
	fmt.Fprintf(&b, "\n%s, %d partitions × 20 assets = %d tasks\n\n", backend, n, r0.TaskCount())
	fmt.Fprintln(&b, "| command | time | peak RSS | output |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for _, m := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %.0f MB | %.1f KB |\n", m.command, m.wall.Round(time.Millisecond), m.rssMB, m.outKB)
	}
	t.Log(b.String())
}

// vmHWM returns a running process's peak RSS in kB (0 when unknown).
func vmHWM(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb
		}
	}
	return 0
}
