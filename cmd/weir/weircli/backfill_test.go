package weircli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/store/sqlite"
)

func TestBackfillTour(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	golden(t, "backfill_tour", c.transcript(
		[]string{"materialize", "--select", "*", "--partition-range", "2024-01-01...2024-01-03", "-q", "-c", "1"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--dry-run", "--max-concurrent", "2", "--rate", "2/s"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--max-concurrent", "2", "--priority", "low",
			"--max-failure-rate", "0.2", "--min-tasks", "20"},
		[]string{"backfill", "list"},
		[]string{"backfill", "status", "2"},
		[]string{"backfill", "pause", "2", "--reason", "warehouse maintenance"},
		[]string{"backfill", "resume", "2", "--progress", "fancy"},
		[]string{"backfill", "status", "2"},
		[]string{"runs", "resume", "2"},
		[]string{"backfill", "resume", "2", "-c", "1", "--progress", "none"},
		[]string{"backfill", "report", "2"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07"},
		[]string{"backfill", "cancel", "2"},
		[]string{"backfill", "retry", "2", "--failed-only"},
		[]string{"backfill", "status", "1"},
	))
}

func TestBackfillBadInput(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	golden(t, "backfill_bad_input", c.transcript(
		[]string{"backfill", "create", "--from", "2024-01-01", "--to", "2024-01-07"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--partitions", "2024-01-02"},
		[]string{"backfill", "create", "--select", "*", "--partitions", "2024-01-01...2024-01-03"},
		[]string{"backfill", "create", "--select", "*", "--partitions", "2024-02-30"},
		[]string{"backfill", "create", "--select", "*", "--partitions", "../x"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-07", "--to", "2024-01-01"},
		[]string{"backfill", "create", "--select", "nosuch", "--from", "2024-01-01", "--to", "2024-01-07"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--rate", "5"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--rate", "-1/s"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--rate", "NaN/s", "--dry-run"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--rate", "Inf/s"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--rate", "1e9/s"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--rate", "1/d"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--max-failure-rate", "NaN"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--priority", "urgent"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--order", "random"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--reprocess", "changed"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--max-failure-rate", "20"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--max-concurrent", "-1"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--pool", "a/b"},
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--progress", "fancy"},
		[]string{"backfill", "status", "7"},
		[]string{"backfill", "pause", "x"},
		[]string{"backfill", "retry", "1"},
		[]string{"backfill", "report", "1", "-o", "table"},
		[]string{"backfill", "list", "-o", "md"},
	))
	if out, _, _ := c.run("runs", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("bad input stored runs: %s", out)
	}
}

// flakyPipeline is a daily asset that fails for the days in fail, and one
// downstream of it; computed records every partition computed.
type flakyPipeline struct {
	mu       sync.Mutex
	fail     map[string]bool
	computed []string
}

func (f *flakyPipeline) assets() []*pipelines.Asset {
	write := func(name string) pipelines.ComputeFunc {
		return func(ctx context.Context, task *pipelines.Task) error {
			key := task.Keys[0]
			f.mu.Lock()
			f.computed = append(f.computed, name+" "+key)
			failing := f.fail[key] && name == "flaky"
			f.mu.Unlock()
			if failing {
				return pipelines.Permanent(fmt.Errorf("source file for %s is corrupt", key))
			}
			w, err := task.Output.Create(ctx, key, "data.txt")
			if err != nil {
				return err
			}
			w.Write([]byte(name + " " + key))
			return w.Close()
		}
	}
	return []*pipelines.Asset{
		{Key: "flaky", Partitions: nightly.Days, Compute: write("flaky")},
		{Key: "after", Partitions: nightly.Days, Deps: []pipelines.Dep{pipelines.On("flaky")}, Compute: write("after")},
	}
}

func (f *flakyPipeline) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.computed
	f.computed = nil
	slices.Sort(out)
	return out
}

func TestBackfillBreakerTrips(t *testing.T) {
	f := &flakyPipeline{fail: map[string]bool{"2024-01-03": true, "2024-01-04": true, "2024-01-05": true, "2024-01-06": true}}
	c := newCLI(t, f.assets()...)
	golden(t, "backfill_breaker", c.transcript(
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-10", "--max-consecutive-failures", "3",
			"--wait", "-c", "1", "--progress", "none"},
		[]string{"backfill", "list"},
		[]string{"backfill", "cancel", "1", "--reason", "source files corrupt"},
		[]string{"backfill", "report", "1"},
	))
	// The breaker stopped starts after the third failure in a row: 01 and
	// 02 (both assets), then 03, 04, 05 of flaky; nothing after.
	want := []string{"after 2024-01-01", "after 2024-01-02", "flaky 2024-01-01", "flaky 2024-01-02", "flaky 2024-01-03", "flaky 2024-01-04", "flaky 2024-01-05"}
	if got := f.take(); !slices.Equal(got, want) {
		t.Fatalf("computed %v, want %v", got, want)
	}
}

func TestBackfillRetryFailedOnly(t *testing.T) {
	f := &flakyPipeline{fail: map[string]bool{"2024-01-03": true, "2024-01-07": true}}
	c := newCLI(t, f.assets()...)
	first := c.transcript(
		[]string{"backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-10", "--wait", "-c", "1", "--progress", "none"},
	)
	if got := f.take(); len(got) != 18 { // 10 flaky + 8 after (2 skipped)
		t.Fatalf("first pass computed %d partitions: %v", len(got), got)
	}
	f.mu.Lock()
	f.fail = nil // the source files were fixed
	f.mu.Unlock()
	second := c.transcript(
		[]string{"backfill", "retry", "1", "--failed-only", "-c", "1", "--progress", "none"},
		[]string{"backfill", "report", "1", "-o", "json"},
	)
	golden(t, "backfill_retry", first+second)
	// Exactly the failed partitions ran again, and what they had skipped.
	want := []string{"after 2024-01-03", "after 2024-01-07", "flaky 2024-01-03", "flaky 2024-01-07"}
	if got := f.take(); !slices.Equal(got, want) {
		t.Fatalf("retry computed %v, want %v", got, want)
	}
}

func TestBackfillProgressJSON(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	out, errs, code := c.run("backfill", "create", "--select", "raw_orders", "--from", "2024-01-01", "--to", "2024-01-04", "--wait", "-c", "1", "--progress", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	kinds := map[string]int{}
	var last map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // the final status table
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		kinds[fmt.Sprint(ev["event"])+"/"+fmt.Sprint(ev["kind"])]++
		if ev["event"] == "finished" {
			last = ev
		}
	}
	if kinds["task/succeeded"] != 4 || kinds["task/started"] != 4 || last == nil || last["status"] != "succeeded" || last["tasks_succeeded"] != 4.0 || last["tasks_ended"] != 4.0 {
		t.Fatalf("events %v, last %v\n%s", kinds, last, out)
	}
}

func TestBackfillBreakerTripsAtTheFailureRate(t *testing.T) {
	f := &flakyPipeline{fail: map[string]bool{"2024-01-03": true, "2024-01-04": true, "2024-01-05": true}}
	c := newCLI(t, f.assets()...)
	// -c 1, oldest first, downstream first: flaky 01, after 01, flaky 02,
	// after 02 succeed; flaky 03 fails (1 of 5 finished: 20%); flaky 04
	// fails (2 of 6: 33% > 30%): tripped. Skipped tasks do not count.
	_, errs, code := c.run("backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-10",
		"--max-failure-rate", "0.3", "--min-tasks", "5", "--wait", "-c", "1", "--progress", "none")
	if code != 1 || !strings.Contains(errs, "tripped its circuit breaker: 2 of 6 finished tasks failed (33% > 30%, after at least 5)") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := f.take(); len(got) != 6 {
		t.Fatalf("computed %v, want 6 partitions before the trip", got)
	}
}

// TestBackfillPausedWhileRunningExitsZero: the process running a backfill
// sees it paused by an operator: running tasks finish, it exits 0 and says
// how to resume, counting the tasks left as pending (not done); resume then
// finishes it.
func TestBackfillPausedWhileRunningExitsZero(t *testing.T) {
	var c *cli
	var once sync.Once
	day := &pipelines.Asset{Key: "day", Partitions: dailyFrom("2024-01-01"), Compute: func(ctx context.Context, task *pipelines.Task) error {
		once.Do(func() {
			if _, errs, code := c.run("backfill", "pause", "1", "--reason", "maintenance"); code != 0 {
				t.Errorf("pause: exit %d: %s", code, errs)
			}
		})
		return writeText(ctx, task)
	}}
	c = newCLI(t, day)
	if _, errs, code := c.run("backfill", "create", "--select", "day", "--from", "2024-01-01", "--to", "2024-01-05"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errs)
	}
	out, errs, code := c.run("backfill", "resume", "1", "-c", "1", "--progress", "none")
	if code != 0 || !strings.Contains(out, "backfill 1 is paused") || !strings.Contains(out, "weir backfill resume 1") || !strings.Contains(out, "1 of 5 tasks succeeded (20%), 4 pending") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = c.run("backfill", "resume", "1", "-c", "1", "--progress", "none")
	if code != 0 || !strings.Contains(out, "5 of 5 tasks succeeded (100%)") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errs)
	}
}

func dailyFrom(start string) partitions.Definition {
	return partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: start})
}

// writeText writes each partition's key as its one file.
func writeText(ctx context.Context, task *pipelines.Task) error {
	for _, k := range task.Keys {
		w, err := task.Output.Create(ctx, k, "data.txt")
		if err != nil {
			return err
		}
		w.Write([]byte(k))
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// TestAssetStatusCountsAddUp: a partition whose last attempt failed after
// an earlier version was promoted counts as failed only (noting the older
// version it still serves); the statuses add up to the partitions.
func TestAssetStatusCountsAddUp(t *testing.T) {
	f := &flakyPipeline{fail: map[string]bool{}}
	c := newCLI(t, f.assets()...)
	if _, errs, code := c.run("materialize", "--select", "flaky", "--partition-range", "2024-01-01...2024-01-03", "-q"); code != 0 {
		t.Fatal(errs)
	}
	f.mu.Lock()
	f.fail["2024-01-02"], f.fail["2024-01-05"] = true, true
	f.mu.Unlock()
	c.run("materialize", "--select", "flaky", "--partition-range", "2024-01-01...2024-01-05", "--reprocess", "all", "-q")
	out, errs, code := c.run("assets", "show", "flaky", "-o", "json")
	if code != 0 {
		t.Fatal(errs)
	}
	var j struct {
		Existing                      int64 `json:"partitions_existing"`
		Materialized, Failed, Missing rangeCount
		FailedWithOlderVersion        rangeCount `json:"failed_with_older_version"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	if j.Materialized.Count+j.Failed.Count+j.Missing.Count != j.Existing || j.Materialized.Ranges != "2024-01-01,2024-01-03...2024-01-04" ||
		j.Failed.Ranges != "2024-01-02,2024-01-05" || j.FailedWithOlderVersion.Ranges != "2024-01-02" {
		t.Fatalf("status %+v", j)
	}
}

type rangeCount struct {
	Count  int64
	Ranges string
}

// TestMaterializeProgressJSON: materialize shows progress as backfills do;
// --progress json writes NDJSON task events and snapshots on stdout.
func TestMaterializeProgressJSON(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	out, errs, code := c.run("materialize", "--select", "raw_orders", "--partition-range", "2024-01-01...2024-01-03", "--progress", "json", "-c", "1")
	if code != 0 {
		t.Fatal(errs)
	}
	kinds := map[string]int{}
	var last map[string]any
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		kinds[fmt.Sprint(ev["event"])+"/"+fmt.Sprint(ev["kind"])]++
		if ev["event"] == "finished" {
			last = ev
		}
	}
	if kinds["task/succeeded"] != 3 || last == nil || last["run_kind"] != "materialize" || last["status"] != "succeeded" || last["tasks_succeeded"] != 3.0 || errs != "" {
		t.Fatalf("events %v, last %v, stderr %q\n%s", kinds, last, errs, out)
	}
}

// TestBackfillStatusThroughTheAPI: backfill status --api asks a running
// server and prints what it prints from the store, table and JSON; a
// backfill the server does not have is bad input, a refused token or a
// server gone a failure, and the token is never shown.
func TestBackfillStatusThroughTheAPI(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	if _, errs, code := c.run("backfill", "create", "--select", "*", "--from", "2024-01-01", "--to", "2024-01-07", "--max-concurrent", "2"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(c.dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer((&api.Server{Store: st, Bucket: memblob.OpenBucket(nil), Graph: lineage.Must(nightly.Assets()...), Clock: c.clock, Token: "s3cret"}).Handler())
	defer srv.Close()
	c.env = map[string]string{"WEIR_TOKEN": "s3cret"}
	for i, args := range [][]string{{"backfill", "status", "1"}, {"backfill", "status", "1", "-o", "json"}, {"backfill", "status", "1", "--watch", "--progress", "none"}} {
		if i == 2 { // --watch of a backfill that ended prints at once (the stream is api.TestClient's)
			if _, errs, code := c.run("backfill", "cancel", "1"); code != 0 {
				t.Fatalf("cancel: exit %d: %s", code, errs)
			}
		}
		direct, errs, code := c.run(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		viaAPI, errs, code := c.run(append(args, "--api", srv.URL)...)
		if code != 0 || viaAPI != direct {
			t.Errorf("%v --api: exit %d %s\n%s\nwithout --api:\n%s", args, code, errs, viaAPI, direct)
		}
	}
	if out, errs, code := c.run("backfill", "status", "7", "--api", srv.URL); code != 2 || out != "" || !strings.Contains(errs, "backfill 7 does not exist (answered by "+srv.URL+"/api/v1/backfills/7)") {
		t.Errorf("backfill 7: exit %d %q %q", code, out, errs)
	}
	c.env["WEIR_TOKEN"] = "wrong"
	if _, errs, code := c.run("backfill", "status", "1", "--api", srv.URL); code != 1 || !strings.Contains(errs, "401 Unauthorized") || !strings.Contains(errs, "set WEIR_TOKEN") || strings.Contains(errs, "wrong") {
		t.Errorf("a wrong token: exit %d %q", code, errs)
	}
	for _, bad := range []string{"127.0.0.1:8300", "http://me:pw@127.0.0.1:8300"} {
		if _, errs, code := c.run("backfill", "status", "1", "--api", bad); code != 2 || !strings.Contains(errs, "--api") || strings.Contains(errs, "pw@") {
			t.Errorf("--api %s: exit %d %q", bad, code, errs)
		}
	}
	srv.Close()
	if _, errs, code := c.run("backfill", "status", "1", "--api", srv.URL); code != 1 || !strings.Contains(errs, "cannot reach the weir API at "+srv.URL) {
		t.Errorf("a server gone: exit %d %q", code, errs)
	}
}
