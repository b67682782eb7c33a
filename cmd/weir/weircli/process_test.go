package weircli_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/postgres"
	"github.com/weir-dev/weir/store/postgres/pgtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// testpipes builds testdata/testpipes once per test binary.
func testpipes(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "weir-testpipes-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "testpipes")
		out, err := exec.Command("go", "build", "-o", binPath, "./testdata/testpipes").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cluster runs testpipes processes against one PostgreSQL store and bucket.
type cluster struct {
	t     *testing.T
	bin   string
	env   []string
	store store.Store
	mu    sync.Mutex
	procs map[string]*exec.Cmd
	logs  []*prefixWriter // every process's stderr, the killed ones' too
}

func newCluster(t *testing.T, taskMS int) *cluster {
	dsn := pgtest.DSN(t)
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &cluster{t: t, bin: testpipes(t), store: st, procs: map[string]*exec.Cmd{},
		env: append(os.Environ(), "WEIR_STORE="+dsn, "WEIR_BLOB=file://"+t.TempDir(), fmt.Sprintf("WEIR_TEST_TASK_MS=%d", taskMS))}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.procs {
			p.Process.Kill()
			p.Wait()
		}
	})
	return c
}

func (c *cluster) weir(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("weir %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (c *cluster) startWorker(id string, extra ...string) {
	c.t.Helper()
	c.start(id, append([]string{"worker", "--id", id, "--lease-timeout", "2s", "--poll", "100ms", "-c", "2"}, extra...)...)
}

// start runs a weir command as process id (its WEIR_WORKER_ID).
func (c *cluster) start(id string, args ...string) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(c.env, "WEIR_WORKER_ID="+id)
	log := &prefixWriter{t: c.t, prefix: id}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.procs[id] = cmd
	c.logs = append(c.logs, log)
	c.mu.Unlock()
}

// serveHTTP starts `weir serve --http 127.0.0.1:0` as process id and
// returns its base URL, http://127.0.0.1:PORT, once it listens.
func (c *cluster) serveHTTP(id string, args ...string) string {
	c.t.Helper()
	c.start(id, append([]string{"serve", "--http", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	c.mu.Lock()
	stderr := c.procs[id].Stderr.(*prefixWriter)
	c.mu.Unlock()
	var base string
	c.waitFor("the HTTP server to listen", func() bool {
		for line := range strings.Lines(stderr.String()) {
			var rec struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving the web UI and the HTTP API" {
				base = strings.TrimSuffix(rec.URL, "/")
				return true
			}
		}
		return false
	})
	return base
}

func (c *cluster) signal(id string, sig syscall.Signal) *os.ProcessState {
	c.t.Helper()
	c.mu.Lock()
	cmd := c.procs[id]
	delete(c.procs, id)
	c.mu.Unlock()
	cmd.Process.Signal(sig)
	cmd.Wait()
	return cmd.ProcessState
}

// waitFor polls the store until cond holds, failing after two minutes
// with the end of every process's stderr.
func (c *cluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			c.mu.Lock()
			for _, log := range c.logs {
				lines := strings.Split(strings.TrimSpace(log.String()), "\n")
				c.t.Logf("%s, the last of its %d lines of stderr:\n%s", log.prefix, len(lines), strings.Join(lines[max(len(lines)-10, 0):], "\n"))
			}
			c.mu.Unlock()
			c.t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func (c *cluster) running(worker string) bool {
	tasks, err := c.store.TaskList(context.Background(), store.TaskListParams{State: store.TaskRunning})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, tk := range tasks {
		if tk.Worker == worker {
			return true
		}
	}
	return false
}

// prefixWriter shows a process's stderr in verbose runs and keeps it.
type prefixWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	kept   bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "%s| %s", p.prefix, b)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kept.Write(b)
}

func (p *prefixWriter) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kept.String()
}

// TestWorkersSurviveSIGKILL: three worker processes run a 270-task run
// while workers are killed mid-task and restarted. Every partition is
// promoted exactly once, by the attempt that finished its task.
func TestWorkersSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	c := newCluster(t, 30)
	c.weir("materialize", "--select", "*", "--partition-range", "2024-01-01...2024-03-30")
	for _, id := range []string{"w1", "w2", "w3"} {
		c.startWorker(id)
	}
	for kill := 0; kill < 4; kill++ {
		id := fmt.Sprintf("w%d", kill%3+1)
		c.waitFor(id+" running a task", func() bool { return c.running(id) })
		if st := c.signal(id, syscall.SIGKILL); st.Success() {
			t.Fatalf("%s was not killed", id)
		}
		c.startWorker(id)
	}
	ctx := context.Background()
	c.waitFor("the run to finish", func() bool {
		run, err := c.store.RunGet(ctx, 1)
		return err == nil && run.Status != store.RunRunning
	})
	for _, id := range []string{"w1", "w2", "w3"} {
		if st := c.signal(id, syscall.SIGTERM); !st.Success() {
			t.Errorf("%s exited %v after SIGTERM", id, st)
		}
	}
	run, _ := c.store.RunGet(ctx, 1)
	if run.Status != store.RunSucceeded || run.Tasks[store.TaskSucceeded] != 270 {
		t.Fatalf("run %+v", run)
	}
	tasks, _ := c.store.TaskList(ctx, store.TaskListParams{RunID: 1})
	byID := map[int64]*store.Task{}
	retried := 0
	for _, tk := range tasks {
		byID[tk.ID] = tk
		if tk.Attempt > 2 { // a compute and a verify attempt, and more
			retried++
			_, attempts, _ := c.store.TaskGet(ctx, tk.ID)
			interrupted := false
			for _, at := range attempts[:len(attempts)-1] {
				interrupted = interrupted || at.State == store.TaskFailed || at.State == store.AttemptReleased
			}
			if !interrupted {
				t.Errorf("task %d: %d attempts, none of them interrupted", tk.ID, len(attempts))
			}
		}
	}
	if retried == 0 {
		t.Error("no task shows an extra attempt, though workers were killed mid-task")
	}
	for _, asset := range []string{"extract", "transform", "load"} {
		mats, _ := c.store.MaterializationList(ctx, store.MaterializationListParams{Asset: asset, Limit: 1000})
		status, _ := c.store.PartitionStatusList(ctx, asset)
		if len(mats) != 90 || len(status) != 90 {
			t.Fatalf("%s: %d materializations and %d partitions, want 90 each (exactly once)", asset, len(mats), len(status))
		}
		current := map[string]string{}
		for _, s := range status {
			current[s.PartitionKey] = s.Version
		}
		for _, m := range mats {
			tk := byID[m.TaskID]
			if m.Attempt != tk.Attempt || current[m.PartitionKey] != m.Version {
				t.Errorf("%s %s: promoted by attempt %d of task %d (final attempt %d); current %s, promoted %s",
					asset, m.PartitionKey, m.Attempt, m.TaskID, tk.Attempt, current[m.PartitionKey], m.Version)
			}
		}
	}
	t.Logf("%d of %d tasks needed more than one attempt", retried, len(tasks))
}

// TestBackfillSurvivesSIGKILL: a backfill of 270 tasks, stored by create
// (which returns at once on PostgreSQL), is run by a `backfill resume
// --wait --local` process and two workers. The runner is SIGKILLed
// mid-task, then a worker, each restarted; the backfill completes and every
// partition is promoted exactly once, by the attempt that finished its task.
func TestBackfillSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	c := newCluster(t, 30)
	c.weir("backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-03-30", "--max-concurrent", "4")
	runner := []string{"backfill", "resume", "1", "--local", "--wait", "--lease-timeout", "2s", "--progress", "plain", "-c", "2"}
	c.start("runner", runner...)
	c.startWorker("w1")
	c.startWorker("w2")
	for _, id := range []string{"runner", "w1"} {
		c.waitFor(id+" running a task", func() bool { return c.running(id) })
		if st := c.signal(id, syscall.SIGKILL); st.Success() {
			t.Fatalf("%s was not killed", id)
		}
		if id == "runner" {
			c.start(id, runner...)
		} else {
			c.startWorker(id)
		}
	}
	ctx := context.Background()
	c.waitFor("the backfill to finish", func() bool {
		run, err := c.store.RunGet(ctx, 1)
		return err == nil && run.Status != store.RunRunning
	})
	run, _ := c.store.RunGet(ctx, 1)
	if run.Kind != "backfill" || run.Status != store.RunSucceeded || run.Tasks[store.TaskSucceeded] != 270 {
		t.Fatalf("backfill %+v", run)
	}
	tasks, _ := c.store.TaskList(ctx, store.TaskListParams{RunID: 1})
	byID := map[int64]*store.Task{}
	retried := 0
	for _, tk := range tasks {
		byID[tk.ID] = tk
		if tk.Attempt > 2 { // a compute and a verify attempt, and more
			retried++
		}
	}
	if retried == 0 {
		t.Error("no task shows an extra attempt, though processes were killed mid-task")
	}
	for _, asset := range []string{"extract", "transform", "load"} {
		mats, _ := c.store.MaterializationList(ctx, store.MaterializationListParams{Asset: asset, Limit: 1000})
		if len(mats) != 90 {
			t.Fatalf("%s: %d materializations, want 90 (each partition exactly once)", asset, len(mats))
		}
		for _, m := range mats {
			if tk := byID[m.TaskID]; tk == nil || m.Attempt != tk.Attempt {
				t.Errorf("%s %s promoted by attempt %d of task %d, not its final attempt", asset, m.PartitionKey, m.Attempt, m.TaskID)
			}
		}
	}
	t.Logf("%d of %d tasks needed more than one attempt", retried, len(tasks))
}

// TestWorkerSIGTERMFinishesTheRunningTask: SIGTERM mid-task lets the task
// finish, releases nothing, and the worker exits 0.
func TestWorkerSIGTERMFinishesTheRunningTask(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	c := newCluster(t, 600)
	c.weir("materialize", "--select", "extract", "--partition", "2024-01-01")
	c.startWorker("w1", "--grace", "1m", "--log-format", "json")
	c.mu.Lock()
	stderr := c.procs["w1"].Stderr.(*prefixWriter)
	c.mu.Unlock()
	c.waitFor("w1 running the task", func() bool { return c.running("w1") })
	if st := c.signal("w1", syscall.SIGTERM); !st.Success() {
		t.Fatalf("worker exited %v after SIGTERM", st)
	}
	// --log-format json: every line of stderr is one JSON object, and the
	// task's end carries its fields.
	var msgs []string
	for line := range strings.Lines(stderr.String()) {
		var rec struct {
			Msg   string `json:"msg"`
			Run   int64  `json:"run"`
			Asset string `json:"asset"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("--log-format json printed a line that is not JSON (%v): %q", err, line)
		}
		if rec.Msg == "task succeeded" && (rec.Run != 1 || rec.Asset != "extract") {
			t.Errorf("task line without its fields: %s", line)
		}
		msgs = append(msgs, rec.Msg)
	}
	if !slices.Contains(msgs, "worker started") || !slices.Contains(msgs, "task succeeded") || !slices.Contains(msgs, "worker stopped") {
		t.Errorf("log messages %q", msgs)
	}
	tasks, _ := c.store.TaskList(context.Background(), store.TaskListParams{RunID: 1})
	_, attempts, _ := c.store.TaskGet(context.Background(), tasks[0].ID)
	if tasks[0].State != store.TaskSucceeded || len(attempts) != 2 || attempts[0].State != store.TaskSucceeded || attempts[1].Phase != store.PhaseVerify ||
		attempts[1].State != store.TaskSucceeded {
		t.Fatalf("task %+v attempts %+v", tasks[0], attempts)
	}
}

// TestTaskLogsFromAnotherProcess: a worker process runs a task; another
// process prints what the task logged, following it while it runs.
func TestTaskLogsFromAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	c := newCluster(t, 2500) // longer than a log flush (2 s)
	c.weir("materialize", "--select", "extract", "--partition", "2024-01-01")
	c.startWorker("w1")
	c.waitFor("w1 running the task", func() bool { return c.running("w1") })
	tasks, _ := c.store.TaskList(context.Background(), store.TaskListParams{RunID: 1})
	id := fmt.Sprint(tasks[0].ID)
	followed := c.weir("tasks", "logs", id, "--follow") // returns once the task has ended
	c.waitFor("the task to succeed", func() bool {
		tasks, _ := c.store.TaskList(context.Background(), store.TaskListParams{RunID: 1})
		return tasks[0].State == store.TaskSucceeded
	})
	printed := c.weir("tasks", "logs", id)
	for _, out := range []string{followed, printed} {
		for _, want := range []string{"== attempt 1 · compute · worker w1 ·", "INFO  simulating work ms=2500", "INFO  wrote partition=2024-01-01",
			"== attempt 2 · verify · worker w1 · succeeded ==\n(it logged nothing)"} {
			if !strings.Contains(out, want) {
				t.Errorf("tasks logs printed no %q:\n%s", want, out)
			}
		}
	}
	if strings.Count(followed, "simulating work") != 1 {
		t.Errorf("--follow printed a line twice:\n%s", followed)
	}
}

// TestProcessesOpenAFreshStoreTogether: six weir processes (workers,
// listings, a materialize) start at once against a fresh PostgreSQL schema
// and a fresh SQLite file: none fails, and each schema version is applied
// once (issue 10 item 1).
func TestProcessesOpenAFreshStoreTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin := testpipes(t)
	for name, storeURL := range map[string]string{
		"postgres": pgtest.DSN(t),
		"sqlite":   "sqlite://" + filepath.Join(t.TempDir(), "state.db"),
	} {
		t.Run(name, func(t *testing.T) {
			env := append(os.Environ(), "WEIR_STORE="+storeURL, "WEIR_BLOB=file://"+t.TempDir())
			cmds := [][]string{{"runs", "list"}, {"workers", "list"}, {"pools", "list"}, {"tasks", "list"},
				{"materialize", "--select", "extract", "--partition", "2024-01-01", "-q"}, {"backfill", "list"}}
			var wg sync.WaitGroup
			outs := make([][]byte, len(cmds))
			errs := make([]error, len(cmds))
			for i, args := range cmds {
				wg.Go(func() {
					cmd := exec.Command(bin, args...)
					cmd.Env = env
					outs[i], errs[i] = cmd.CombinedOutput()
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("weir %v: %v\n%s", cmds[i], err, outs[i])
				}
			}
			st, err := store.Open(context.Background(), storeURL)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var applied, distinct int
			if err := st.(interface{ DB() *sql.DB }).DB().QueryRow(`SELECT count(*), count(DISTINCT version_id) FROM weir_schema_version`).Scan(&applied, &distinct); err != nil {
				t.Fatal(err)
			}
			if applied != distinct || applied < 2 {
				t.Fatalf("%d schema versions recorded, %d distinct", applied, distinct)
			}
		})
	}
}

// TestWorkersWithShortLeasesLoseNone: two worker processes with a 1 s lease
// run 60 tasks without kills; no attempt is lost to a heartbeat that raced
// the move to the verify phase (issue 10 item 2): every task takes exactly
// its compute and verify attempts.
func TestWorkersWithShortLeasesLoseNone(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	c := newCluster(t, 40)
	c.weir("materialize", "--select", "*", "--partition-range", "2024-01-01...2024-01-20")
	for _, id := range []string{"w1", "w2"} {
		c.start(id, "worker", "--id", id, "--lease-timeout", "1s", "--poll", "50ms", "-c", "4")
	}
	ctx := context.Background()
	c.waitFor("the run to finish", func() bool {
		run, err := c.store.RunGet(ctx, 1)
		return err == nil && run.Status != store.RunRunning
	})
	tasks, _ := c.store.TaskList(ctx, store.TaskListParams{RunID: 1})
	for _, tk := range tasks {
		if tk.State != store.TaskSucceeded || tk.Attempt != 2 {
			_, attempts, _ := c.store.TaskGet(ctx, tk.ID)
			for _, at := range attempts {
				t.Logf("task %d attempt %d %s %s %s: %s", tk.ID, at.Attempt, at.Phase, at.Worker, at.State, at.Error)
			}
			t.Fatalf("task %d %s after %d attempts, want succeeded after 2 (compute, verify)", tk.ID, tk.State, tk.Attempt)
		}
	}
}

// TestWorkerFinishesARunLeftRunning: a process died after its run's last
// task committed and before the run's completion check (issue 10 item 5):
// the run is running with nothing open. A worker process started later
// ends it.
func TestWorkerFinishesARunLeftRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	c := newCluster(t, 5)
	c.weir("materialize", "--select", "extract", "--partition-range", "2024-01-01...2024-01-03")
	c.startWorker("w1")
	ctx := context.Background()
	c.waitFor("the run to finish", func() bool {
		run, err := c.store.RunGet(ctx, 1)
		return err == nil && run.Status == store.RunSucceeded
	})
	c.signal("w1", syscall.SIGTERM)
	// The state the crash leaves behind.
	db := c.store.(interface{ DB() *sql.DB }).DB()
	if _, err := db.Exec(`UPDATE runs SET status = 'running', finished_at = NULL WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	c.startWorker("w2")
	c.waitFor("a worker to end the run", func() bool {
		run, err := c.store.RunGet(ctx, 1)
		return err == nil && run.Status == store.RunSucceeded
	})
}

// TestDaemonLeaderKilledMidTick: two `serve` daemons share a PostgreSQL
// store; 60 schedules each have ten missed daily ticks to catch up. The
// leader is SIGKILLed while it fires them, three times, and restarted; the
// standby takes over when the lease expires. In the end every scheduled
// time of every schedule is recorded once, fired with a run, and no run was
// stored without its ticks.
func TestDaemonLeaderKilledMidTick(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const schedules, missed = 60, 10
	c := newCluster(t, 1)
	c.env = append(c.env, fmt.Sprintf("WEIR_TEST_SCHEDULES=%d", schedules))
	ctx := context.Background()
	// The store saw the schedules at noon ten days ago: ten @daily ticks
	// of each are due (the midnights since, today's included), whatever
	// the time of day the test runs at.
	since := time.Now().UTC().Truncate(24 * time.Hour).Add(-(missed-1)*24*time.Hour - 12*time.Hour)
	for i := range schedules {
		if _, err := c.store.ScheduleGet(ctx, fmt.Sprintf("s%03d", i), since); err != nil {
			t.Fatal(err)
		}
	}
	db := c.store.(interface{ DB() *sql.DB }).DB()
	count := func() (n int) {
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schedule_ticks`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	leader := func() string {
		var holder string
		err := db.QueryRowContext(ctx, `SELECT holder FROM leaders WHERE role = 'schedules'`).Scan(&holder)
		if err != nil {
			return ""
		}
		return holder
	}
	serve := func(id string) { c.start(id, "serve", "--workers", "0", "--lease-timeout", "1s") }
	serve("a")
	serve("b")
	leaders := map[string]bool{}
	kills := 0
	for round := range 3 {
		last := count()
		// A live leader firing ticks (not the last commit of the one
		// just killed, whose lease still names it).
		var id string
		c.waitFor("a live leader to fire ticks", func() bool {
			if count() == schedules*missed {
				return true
			}
			holder, _ := strings.CutPrefix(leader(), "daemon ")
			c.mu.Lock()
			_, alive := c.procs[holder]
			c.mu.Unlock()
			id = holder
			return alive && count() > last
		})
		if count() == schedules*missed {
			break
		}
		leaders[id] = true
		if st := c.signal(id, syscall.SIGKILL); st.Success() {
			t.Fatalf("%s was not killed", id)
		}
		kills++
		// A new process, a new daemon: the standby or it leads once the
		// dead leader's lease has expired.
		serve(fmt.Sprintf("%s-%d", id, round))
	}
	c.waitFor("every tick", func() bool { return count() == schedules*missed })
	var fired, runs, orphans int
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT run_id) FROM schedule_ticks WHERE run_id > 0`).Scan(&fired, &runs); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE kind = 'schedule' AND id NOT IN (SELECT run_id FROM schedule_ticks)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	var perSchedule int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT schedule FROM schedule_ticks GROUP BY schedule HAVING count(*) = $1) x`, missed).Scan(&perSchedule); err != nil {
		t.Fatal(err)
	}
	if fired != schedules*missed || perSchedule != schedules || orphans != 0 {
		t.Fatalf("%d ticks fired in %d runs, %d schedules with %d ticks each, %d runs without their ticks; want %d fired, %d schedules, 0",
			fired, runs, perSchedule, missed, orphans, schedules*missed, schedules)
	}
	t.Logf("%d ticks fired once each in %d runs; %d leaders killed mid-way (%v)", fired, runs, kills, leaders)
}

// TestServeAPIDrivesABackfill: a real `weir serve --http` process with a
// token and two worker slots. Over HTTP a backfill is created with
// throttles, its progress followed as server-sent events while it is
// paused, resumed and cancelled; the throttle holds in every event; a
// request without the token or with a bad body is refused and stores
// nothing.
func TestServeAPIDrivesABackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	c := newCluster(t, 100)
	base := c.serveHTTP("d1", "--token", "s3cret", "--workers", "2")
	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	want := func(method, path, token, body string, code int) map[string]any {
		t.Helper()
		got, m := call(method, path, token, body)
		if got != code {
			t.Fatalf("%s %s: %d %v, want %d", method, path, got, m, code)
		}
		return m
	}
	request := `{"select": "*", "partitions": "2024-01-01...2024-01-20", "max_concurrent": 1, "rate": "20/s", "priority": "low", "actor": "oncall"}`
	want("POST", "/api/v1/backfills", "", request, 401)
	want("POST", "/api/v1/backfills", "s3cret", `{"select": "*", "partitions": "2024-01-01...2024-01-20", "max_concurrent": 1,`, 400)
	want("POST", "/api/v1/backfills", "s3cret", `{"select": "*", "partitions": "2024-01-01...2024-01-20", "burst": 3}`, 400)
	want("POST", "/api/v1/backfills", "s3cret", `{"select": "*", "partitions": "`+strings.Repeat("x", 70<<10)+`"}`, 413)
	if runs, _ := c.store.RunList(context.Background(), store.RunListParams{Limit: -1}); len(runs) != 0 {
		t.Fatalf("refused requests stored %d runs", len(runs))
	}
	created := want("POST", "/api/v1/backfills", "s3cret", request, 201)
	id := fmt.Sprint(created["backfill"].(map[string]any)["id"])

	// Follow its events.
	want("GET", "/api/v1/backfills/"+id+"/events", "", "", 401) // reads too: no --public-read
	req, _ := http.NewRequest("GET", base+"/api/v1/backfills/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", resp, err)
	}
	defer resp.Body.Close()
	type event struct {
		kind string
		p    scheduler.Progress
	}
	events := make(chan event, 1000)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var kind string
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "event: "); ok {
				kind = k
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var e event
				e.kind = kind
				if err := json.Unmarshal([]byte(data), &e.p); err != nil {
					t.Errorf("event data %q: %v", data, err)
				}
				events <- e
			}
		}
	}()
	next := func(what string, cond func(event) bool) event {
		t.Helper()
		for e := range events {
			if e.p.Running > 1 {
				t.Errorf("max_concurrent 1 and %d running: %+v", e.p.Running, e.p)
			}
			if cond(e) {
				return e
			}
			if e.kind == "end" {
				t.Fatalf("the stream ended before %s: %+v", what, e.p)
			}
		}
		t.Fatalf("the stream closed before %s", what)
		return event{}
	}
	next("a task succeeded", func(e event) bool { return e.p.TasksSucceeded >= 2 })
	want("POST", "/api/v1/backfills/"+id+"/pause", "s3cret", `{"reason": "load on the warehouse"}`, 200)
	paused := next("paused", func(e event) bool { return e.p.Status == "paused" && e.p.Running == 0 })
	want("POST", "/api/v1/backfills/"+id+"/pause", "", "", 401)
	want("POST", "/api/v1/backfills/"+id+"/resume", "s3cret", "", 200)
	next("progress after the resume", func(e event) bool {
		return e.p.Status == "running" && e.p.TasksSucceeded > paused.p.TasksSucceeded
	})
	cancelled := want("POST", "/api/v1/backfills/"+id+"/cancel", "s3cret", `{"reason": "enough"}`, 200)
	end := next("the end", func(e event) bool { return e.kind == "end" })
	if end.p.Status != "cancelled" || cancelled["status"] != "cancelled" || end.p.TasksSucceeded+end.p.TasksCancelled+end.p.TasksSkipped+end.p.TasksFailed != end.p.TasksTotal ||
		end.p.TasksTotal != 60 {
		t.Errorf("last event %+v", end.p)
	}
	if _, ok := <-events; ok {
		t.Errorf("the stream went on after its end")
	}
	run, _ := c.store.RunGet(context.Background(), 1)
	evs, _ := c.store.RunEventList(context.Background(), 1)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+" by "+e.Actor)
	}
	if run.CreatedBy != "oncall" || !slices.Equal(kinds, []string{"created by oncall", "paused by api", "resumed by api", "cancelled by api"}) {
		t.Errorf("audit trail %q, created by %s", kinds, run.CreatedBy)
	}
}

// hookCounter is a webhook endpoint that answers 503 while down and counts
// what it accepted per event id.
type hookCounter struct {
	mu   sync.Mutex
	down bool
	got  map[string]int
}

func (h *hookCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	h.got[r.Header.Get("Weir-Event-Id")]++
}

func (h *hookCounter) set(down bool) { h.mu.Lock(); h.down = down; h.mu.Unlock() }

func (h *hookCounter) counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.got)
}

// TestAlertsOutliveADownWebhookAndAKilledDaemon: a task fails for good in
// a worker while the webhook answers 503; the backfill ends anyway. The
// daemon that recorded the alerts is SIGKILLed before it could deliver
// them; once the webhook is back, the daemon that takes over delivers
// each alert exactly once.
func TestAlertsOutliveADownWebhookAndAKilledDaemon(t *testing.T) {
	hook := &hookCounter{down: true, got: map[string]int{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	c := newCluster(t, 5)
	c.env = append(c.env, "WEIR_TEST_ALERT_URL="+srv.URL, "WEIR_TEST_FAIL=2024-01-02")
	ctx := context.Background()
	c.start("serve1", "serve", "--workers", "0", "--lease-timeout", "1s")
	c.waitFor("the daemon to watch runs", func() bool {
		_, ok, err := c.store.CursorGet(ctx, "alerts.runs")
		return err == nil && ok
	})
	c.weir("backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-04")
	c.startWorker("w1")
	c.waitFor("the backfill to end", func() bool {
		r, err := c.store.RunGet(ctx, 1)
		return err == nil && r.Status == store.RunFailed
	})
	// Recorded by the worker (the task) and the daemon (the run, the
	// backfill), tried against the webhook, not delivered. (On a loaded
	// machine a heartbeat later than the 1 s lease adds a worker_lost
	// alert; it is counted below, at most once.)
	c.waitFor("three alerts tried", func() bool {
		list, err := c.store.AlertList(ctx, store.AlertListParams{Undelivered: true})
		if err != nil {
			return false
		}
		tried := 0
		for _, a := range list {
			if a.Kind == "worker_lost" {
				continue
			}
			if a.Attempts == 0 {
				return false
			}
			tried++
		}
		return tried == 3
	})
	c.signal("serve1", syscall.SIGKILL)
	hook.set(false)
	c.start("serve2", "serve", "--workers", "0", "--lease-timeout", "1s")
	c.waitFor("every alert delivered", func() bool {
		list, err := c.store.AlertList(ctx, store.AlertListParams{Undelivered: true})
		return err == nil && len(list) == 0
	})
	got := hook.counts()
	want := map[string]int{"run_failed:1": 1, "backfill_finished:1": 1}
	tasks := 0
	for id := range got {
		switch {
		case strings.HasPrefix(id, "task_failed:"):
			want[id] = 1
			tasks++
		case strings.HasPrefix(id, "worker_lost:"):
			want[id] = 1 // the killed daemon (or, on a loaded machine, a late heartbeat), once
		}
	}
	if !maps.Equal(got, want) || tasks != 1 {
		t.Fatalf("the webhook received %v, want each of run_failed:1, backfill_finished:1 and one task_failed once (and lost workers at most once each)", got)
	}
	c.signal("serve2", syscall.SIGTERM)
	c.signal("w1", syscall.SIGTERM)
}
