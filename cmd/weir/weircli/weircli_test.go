package weircli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/cmd/weir/weircli"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/schedule"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// cli runs weircli against a state store and bucket in a temp directory,
// at a fixed time.
type cli struct {
	t         *testing.T
	dir       string
	assets    []*pipelines.Asset
	schedules []*schedule.Schedule
	clock     *clock.Fake
	// env adds to (or overrides) the environment the commands see.
	env map[string]string
}

func newCLI(t *testing.T, assets ...*pipelines.Asset) *cli {
	return &cli{t: t, dir: t.TempDir(), assets: assets, clock: clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))}
}

func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	env := map[string]string{
		"WEIR_STORE":     "sqlite://" + filepath.Join(c.dir, "state.db"),
		"WEIR_BLOB":      "file://" + filepath.Join(c.dir, "blobs"),
		"WEIR_USER":      "oncall",
		"WEIR_WORKER_ID": "test-worker",
	}
	for k, v := range c.env {
		env[k] = v
	}
	code = weircli.Run(context.Background(), weircli.Config{Assets: c.assets, Schedules: c.schedules, Stdout: &out, Stderr: &errb, Clock: c.clock,
		Getenv: func(k string) string { return env[k] }}, args)
	return out.String(), errb.String(), code
}

var (
	versionID = regexp.MustCompile(`\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{12}`)
	// A manifest names its version, so its checksum differs per run too.
	sha256Hex = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
)

// transcript runs each command and records it, its exit code, stdout and
// stderr, with version ids, checksums and the temp dir masked.
func (c *cli) transcript(cmds ...[]string) string {
	var b strings.Builder
	for _, args := range cmds {
		out, errs, code := c.run(args...)
		fmt.Fprintf(&b, "$ weir %s\n%s", strings.Join(args, " "), out)
		if errs != "" {
			fmt.Fprintf(&b, "[stderr]\n%s", errs)
		}
		fmt.Fprintf(&b, "[exit %d]\n\n", code)
	}
	masked := strings.ReplaceAll(b.String(), c.dir, "$TMPDIR")
	masked = versionID.ReplaceAllString(masked, "YYYYMMDDTHHMMSS.mmmZ-xxxxxxxxxxxx")
	return sha256Hex.ReplaceAllString(masked, "<sha256>")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestNightlyTour(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	week := "2024-01-01...2024-01-07"
	golden(t, "tour", c.transcript(
		[]string{"validate"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "--dry-run"},
		[]string{"materialize", "--select", "+daily_revenue", "--partition-range", week, "--concurrency", "1"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "-q", "-c", "1"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "-q"},
		[]string{"materialize", "--select", "raw_orders", "--partition", "2024-01-03", "--reprocess", "all", "-q"},
		[]string{"assets", "list"},
		[]string{"assets", "show", "revenue_7d"},
		[]string{"assets", "show", "cleaned_orders"},
		[]string{"assets", "show", "cleaned_orders", "--partition", "2024-01-03"},
		[]string{"assets", "show", "raw_orders", "--partition", "2024-01-03", "-o", "json"},
		[]string{"assets", "show", "revenue_7d", "--partition", "2024-01-20"},
		[]string{"assets", "show", "revenue_7d", "--partition", "2024-13-01"},
		[]string{"runs", "list"},
		[]string{"runs", "show", "2"},
	))
}

func TestJSONOutput(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	golden(t, "json", c.transcript(
		[]string{"materialize", "--select", "raw_orders", "--partition-range", "2024-01-01...2024-01-02", "-q", "-c", "1", "-o", "json"},
		[]string{"assets", "show", "raw_orders", "-o", "json"},
		[]string{"runs", "list", "-o", "json"},
		[]string{"validate", "-o", "json"},
		[]string{"gc", "--dry-run", "--older-than", "0s", "-o", "json"},
		[]string{"lineage", "events", "1"},
	))
}

func TestBadInput(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	golden(t, "bad_input", c.transcript(
		[]string{"materialize", "--select", "*", "--partition", "2024-02-30"},
		[]string{"materialize", "--select", "*", "--partition", "../../etc"},
		[]string{"materialize", "--select", "*", "--partition-range", "2024-01-10...2024-01-01"},
		[]string{"materialize", "--select", "*", "--partition-range", "2024-01-10"},
		[]string{"materialize", "--select", "nosuchasset", "--partition", "2024-01-01"},
		[]string{"materialize", "--select", "revenue7d", "--partition", "2024-01-01"},
		[]string{"materialize", "--select", "revenue_7d", "--partition", "2024-01-05"},
		[]string{"materialize", "--select", "*", "--partition", "2024-03-01"},
		[]string{"materialize", "--select", "*"},
		[]string{"materialize", "--partition", "2024-01-01"},
		[]string{"materialize", "--select", "*", "--partition", "2024-01-01", "--reprocess", "sometimes"},
		[]string{"materialize", "--select", "*", "--partition", "2024-01-01", "--concurrency", "0"},
		[]string{"materialize", "--select", "*", "--partition", "2024-01-01", "--progress", "fancy"},
		[]string{"materialize", "--select", "*", "--partition", "2024-01-01", "--partition-range", "2024-01-01...2024-01-02"},
		[]string{"materialize", "--select", "*", "--from", "2024-01-01"},
		[]string{"--store", "mysql://db", "runs", "list"},
		[]string{"--store", "postgres://nobody@127.0.0.1:1/weir?connect_timeout=2", "worker"},
		[]string{"--store", "postgres://app:s3cr3t@127.0.0.1:1/weir?connect_timeout=2", "runs", "list"},
		[]string{"--store", "postgres://app:s3cr3t@127.0.0.1:1/weir?connect_timeout=2&sslmode=nonsense", "runs", "list"},
		[]string{"--blob", "ftp://x", "materialize", "--select", "*", "--partition", "2024-01-01"},
		[]string{"runs", "show", "42"},
		[]string{"runs", "show", "abc"},
		[]string{"assets", "show", "nope"},
		[]string{"runs", "list", "-o", "yaml"},
		[]string{"frobnicate"},
	))
	// Bad input changes nothing: no run was stored.
	if out, _, _ := c.run("runs", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("bad input stored runs: %s", out)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	noop := func(context.Context, *pipelines.Task) error { return nil }
	c := newCLI(t,
		&pipelines.Asset{Key: "a", Deps: []pipelines.Dep{pipelines.On("c")}, Compute: noop},
		&pipelines.Asset{Key: "b", Deps: []pipelines.Dep{pipelines.On("a")}, Compute: noop},
		&pipelines.Asset{Key: "c", Deps: []pipelines.Dep{pipelines.On("b")}, Compute: noop},
		&pipelines.Asset{Key: "d", Deps: []pipelines.Dep{pipelines.On("x")}},
	)
	golden(t, "validate_cycle", c.transcript(
		[]string{"validate"},
		[]string{"validate", "-o", "json"},
		[]string{"materialize", "--select", "*"},
	))
}

func TestFailedWorkExitsOne(t *testing.T) {
	days := nightly.Days
	c := newCLI(t,
		&pipelines.Asset{Key: "flaky", Partitions: days, Compute: func(ctx context.Context, task *pipelines.Task) error {
			if task.Keys[0] == "2024-01-02" {
				return pipelines.Permanent(fmt.Errorf("source file for %s is corrupt", task.Keys[0]))
			}
			w, err := task.Output.Create(ctx, task.Keys[0], "data.txt")
			if err != nil {
				return err
			}
			w.Write([]byte("ok"))
			return w.Close()
		}},
		&pipelines.Asset{Key: "after", Partitions: days, Deps: []pipelines.Dep{pipelines.On("flaky")}, Compute: func(ctx context.Context, task *pipelines.Task) error {
			w, err := task.Output.Create(ctx, task.Keys[0], "data.txt")
			if err != nil {
				return err
			}
			return w.Close()
		}},
	)
	golden(t, "failed_run", c.transcript(
		[]string{"materialize", "--select", "*", "--partition-range", "2024-01-01...2024-01-03", "--concurrency", "1"},
		[]string{"materialize", "--select", "*", "--partition-range", "2024-01-01...2024-01-03", "--reprocess", "failed", "--dry-run"},
		[]string{"runs", "show", "1"},
		[]string{"runs", "show", "1", "--tasks", "--limit", "4"},
		[]string{"runs", "show", "1", "--tasks", "--limit", "4", "--after", "4", "-o", "json"},
		[]string{"runs", "show", "1", "--limit", "0"},
		[]string{"tasks", "list", "--state", "failed"},
		[]string{"tasks", "show", "2"},
		[]string{"runs", "resume", "1"},
	))
}

func TestPoolsAndWorkerInput(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	golden(t, "pools", c.transcript(
		[]string{"pools", "set", "warehouse", "--max", "3"},
		[]string{"pools", "set", "default", "--max", "8"},
		[]string{"pools", "list"},
		[]string{"pools", "set", "bad/name", "--max", "3"},
		[]string{"pools", "set", "warehouse", "--max", "-2"},
		[]string{"worker", "--grace", "-1s"},
		[]string{"worker", "--poll", "0s"},
		[]string{"pools", "set", "warehouse"},
		[]string{"worker", "--pool", "nosuchpool"},
		[]string{"worker", "--concurrency", "0"},
		[]string{"worker", "--log-format", "xml"},
		[]string{"tasks", "list", "--state", "exploded"},
		[]string{"tasks", "show", "99"},
		[]string{"runs", "resume", "7"},
	))
}

func TestVerifyDetectsAlteredFiles(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	c.run("materialize", "--select", "raw_orders", "--partition-range", "2024-01-01...2024-01-03", "-q", "-c", "1")
	first := c.transcript([]string{"verify", "--select", "raw_orders"})
	// Behind weir's back: a published file changes, a pointer goes missing.
	files, _ := filepath.Glob(filepath.Join(c.dir, "blobs", "raw_orders", "2024-01-02", "*", "data.parquet"))
	if len(files) != 1 {
		t.Fatalf("published files %v", files)
	}
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 0xff
	os.WriteFile(files[0], data, 0o644)
	os.Remove(filepath.Join(c.dir, "blobs", "raw_orders", "2024-01-03", "_current.json"))
	golden(t, "verify", first+c.transcript(
		[]string{"verify", "--select", "raw_orders"},
		[]string{"verify", "--select", "raw_orders", "--partition", "2024-01-01", "-o", "json"},
		[]string{"verify", "--partition-range", "2024-01-01"},
		[]string{"verify", "--from", "2024-01-01", "--to", "2024-01-02", "-v"},
		// The missing pointer is rewritten; the altered file is not.
		[]string{"verify", "--select", "raw_orders", "--repair-pointers"},
		[]string{"verify", "--select", "raw_orders", "--partition", "2024-01-03", "-v"},
		[]string{"verify", "--partition", "2024-02-30"},
	))
}

func TestGC(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	for i := 0; i < 4; i++ {
		c.run("materialize", "--select", "raw_orders", "--partition", "2024-01-01", "--reprocess", "all", "-q")
	}
	// Objects the store has no record of (written by hand, or by an
	// attempt leased before weir recorded versions): only a sweep finds
	// them.
	stray := filepath.Join(c.dir, "blobs", "raw_orders", "2024-01-01", "20240201T000000.000Z-deadbeef0000")
	os.MkdirAll(stray, 0o755)
	os.WriteFile(filepath.Join(stray, "data.parquet"), []byte("half written"), 0o644)
	young := c.transcript([]string{"gc", "--dry-run"})
	c.clock.Advance(31 * 24 * time.Hour)
	golden(t, "gc", young+c.transcript(
		[]string{"gc", "--dry-run", "--partition", "2024-01-02"},
		[]string{"gc", "--dry-run", "--partition", "2024-01-01", "--from", "2024-01-01"},
		[]string{"gc", "--dry-run"},
		[]string{"gc"},
		[]string{"gc", "--dry-run"},
		[]string{"gc", "--dry-run", "--sweep"},
		[]string{"gc", "--sweep"},
		[]string{"gc", "--dry-run", "--sweep"},
		[]string{"verify", "--select", "raw_orders"},
		[]string{"gc", "--older-than", "soon"},
		[]string{"gc", "--older-than", "106752d"},
		[]string{"gc", "--older-than", "2562047h"},
		[]string{"gc", "--older-than", "-1h"},
		[]string{"gc", "--keep-versions", "0"},
	))
	// Objects, not directories: file:// keeps emptied directories.
	versions, _ := filepath.Glob(filepath.Join(c.dir, "blobs", "raw_orders", "2024-01-01", "2*", "data.parquet"))
	if len(versions) != 3 {
		t.Fatalf("%d versions left, want the newest 3: %v", len(versions), versions)
	}
}

func TestDynamicPartitions(t *testing.T) {
	customers, _ := partitions.NewDynamic("customers")
	c := newCLI(t, &pipelines.Asset{Key: "invoices", Partitions: customers, Compute: func(ctx context.Context, task *pipelines.Task) error {
		w, err := task.Output.Create(ctx, task.Keys[0], "invoice.txt")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "invoice for %s", task.Keys[0])
		return w.Close()
	}})
	golden(t, "dynamic", c.transcript(
		[]string{"materialize", "--select", "invoices", "--partition", "acme"},
		[]string{"partitions", "add", "customers", "acme", "globex"},
		[]string{"partitions", "add", "customers", "globex", "initech"},
		[]string{"partitions", "add", "customers", "bad/key"},
		[]string{"partitions", "add", "suppliers", "x"},
		[]string{"partitions", "list", "customers"},
		[]string{"materialize", "--select", "invoices", "--partition-range", "acme...initech", "-q", "-c", "1"},
		[]string{"assets", "show", "invoices"},
	))
}

// TestNameInOutput: a user's binary named mypipes says so in errors and in
// the commands its messages suggest.
func TestNameInOutput(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	code := weircli.Run(context.Background(), weircli.Config{Name: "mypipes", Assets: nightly.Assets(), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			return map[string]string{"WEIR_STORE": "sqlite://" + filepath.Join(dir, "state.db"), "WEIR_BLOB": "file://" + filepath.Join(dir, "b")}[k]
		}}, []string{"runs", "show", "7"})
	if code != 2 || errb.String() != "mypipes: run 7 does not exist (mypipes runs list shows the runs)\n" {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

func TestSchedules(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	c.schedules = nightly.Schedules()
	golden(t, "schedules", c.transcript(
		[]string{"validate"},
		[]string{"schedules", "list"},
		[]string{"schedules", "preview", "nightly", "--count", "3"},
		[]string{"schedules", "preview", "nightly", "--count", "2", "-o", "json"},
		[]string{"schedules", "pause", "nightly"},
		[]string{"schedules", "list", "-o", "json"},
		[]string{"schedules", "resume", "nightly"},
		[]string{"schedules", "ticks", "nightly"},
		[]string{"schedules", "ticks", "weekly"},
		[]string{"schedules", "preview", "nightly", "--count", "0"},
	))
	bad := newCLI(t, nightly.Assets()...)
	bad.schedules = []*schedule.Schedule{
		{Name: "typo", Selection: "*", Cron: "0 25 * * *", Zone: "Europe/Berlin"},
		{Name: "nozone", Selection: "*", Cron: "@daily", Zone: "Europe/Paris!"},
		{Name: "unknown", Selection: "no_such_asset", Cron: "@daily", Zone: "UTC"},
	}
	golden(t, "schedules_bad", bad.transcript(
		[]string{"validate"},
		[]string{"schedules", "list"},
	))
}

// TestGCKeepsProvenance: cleaned_orders' current version of 2024-01-01 read
// the first version of raw_orders 2024-01-01; raw_orders is made twice more.
// gc keeping one version per partition deletes the middle one (nobody's
// input) and keeps the first (what a current version read).
func TestGCKeepsProvenance(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	c.run("materialize", "--select", "raw_orders+", "--partition", "2024-01-01", "-q", "-c", "1")
	for range 2 {
		c.run("materialize", "--select", "raw_orders", "--partition", "2024-01-01", "--reprocess", "all", "-q")
	}
	c.clock.Advance(31 * 24 * time.Hour)
	out, errs, code := c.run("gc", "--dry-run", "--keep-versions", "1", "-o", "json")
	if code != 0 {
		t.Fatalf("gc: %d %s", code, errs)
	}
	mats, _, _ := c.run("assets", "show", "cleaned_orders", "--partition", "2024-01-01", "-o", "json")
	var shown struct {
		Inputs []struct {
			Asset   string `json:"asset"`
			Version string `json:"version"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(mats), &shown); err != nil || len(shown.Inputs) != 1 {
		t.Fatalf("assets show: %v\n%s", err, mats)
	}
	read := shown.Inputs[0].Version
	if strings.Contains(out, read) {
		t.Fatalf("gc would delete %s, which cleaned_orders' current version read:\n%s", read, out)
	}
	if n := strings.Count(out, `"why"`); n != 1 {
		t.Fatalf("gc would delete %d versions, want the one nobody read:\n%s", n, out)
	}
}

// TestStaleness: re-materializing an upstream partition makes exactly the
// partitions that read it stale (identity, then a trailing 7-day window);
// a new code version makes an asset's partitions and everything below them
// stale; --reprocess stale runs exactly those, and then all is fresh.
func TestStaleness(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	week := "2024-01-01...2024-01-07"
	c.run("materialize", "--select", "*", "--partition-range", week, "-q", "-c", "1")
	first := c.transcript(
		[]string{"assets", "status"},
		[]string{"materialize", "--select", "daily_revenue", "--partition", "2024-01-03", "--reprocess", "all", "-q", "-c", "1"},
		[]string{"assets", "status", "--select", "daily_revenue+"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "--reprocess", "stale", "--dry-run"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "--reprocess", "stale", "-q", "-c", "1"},
		[]string{"assets", "status", "--select", "daily_revenue+"},
		// Days never made are kept by --reprocess stale, and said to be
		// missing, not fresh.
		[]string{"materialize", "--select", "*", "--partition-range", "2024-01-05...2024-01-09", "--reprocess", "stale", "--dry-run"},
		[]string{"backfill", "create", "--select", "raw_orders", "--partition-range", "2024-01-06...2024-01-09", "--reprocess", "failed"},
	)
	// cleaned_orders' code changes.
	var changed []*pipelines.Asset
	for _, a := range nightly.Assets() {
		if a.Key == "cleaned_orders" {
			cp := *a
			cp.CodeVersion = "2"
			a = &cp
		}
		changed = append(changed, a)
	}
	c.assets = changed
	golden(t, "staleness", first+c.transcript(
		[]string{"assets", "status"},
		[]string{"assets", "status", "--select", "cleaned_orders", "-o", "json"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "--reprocess", "stale", "--dry-run"},
		[]string{"backfill", "create", "--select", "*", "--partition-range", week, "--reprocess", "stale", "--dry-run"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "--reprocess", "stale", "-q", "-c", "1"},
		[]string{"assets", "status"},
	))

	// A published file changes behind weir's back; the pointer of another
	// partition goes missing (its files are intact: not stale).
	files, _ := filepath.Glob(filepath.Join(c.dir, "blobs", "raw_orders", "2024-01-02", "*", "data.parquet"))
	if len(files) != 1 {
		t.Fatalf("published files %v", files)
	}
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 0xff
	os.WriteFile(files[0], data, 0o644)
	os.Remove(filepath.Join(c.dir, "blobs", "raw_orders", "2024-01-03", "_current.json"))
	golden(t, "staleness_verify", c.transcript(
		[]string{"verify", "--select", "raw_orders"},
		[]string{"assets", "status"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "--reprocess", "stale", "--dry-run"},
		[]string{"materialize", "--select", "*", "--partition-range", week, "--reprocess", "stale", "-q", "-c", "1"},
		[]string{"verify", "--select", "raw_orders", "--repair-pointers"},
		[]string{"assets", "status"},
	))
}

// TestLineageQueries: the asset graph, a partition's exact upstream
// versions (matching the stored input rows) and its impact, as text, JSON,
// dot and mermaid; bad input.
func TestLineageQueries(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	c.run("materialize", "--select", "*", "--partition-range", "2024-01-01...2024-01-03", "-q", "-c", "1")
	golden(t, "lineage", c.transcript(
		[]string{"lineage", "revenue_7d"},
		[]string{"lineage", "raw_orders", "--downstream", "-o", "mermaid"},
		[]string{"lineage", "revenue_7d", "--partition", "2024-01-02"},
		[]string{"lineage", "revenue_7d", "--partition", "2024-01-02", "--depth", "1", "-o", "dot"},
		[]string{"lineage", "raw_orders", "--partition", "2024-01-01", "--downstream", "-o", "mermaid"},
		[]string{"lineage", "daily_revenue", "--partition", "2024-01-01", "--depth", "0", "-o", "json"},
		[]string{"lineage", "revenue_7d", "--partition", "2024-01-09"},
		[]string{"lineage", "revenue_7d", "--partition", "2024-13-01"},
		[]string{"lineage", "revenue_7d", "--upstream", "--downstream"},
		[]string{"lineage", "nope"},
	))
	// The JSON names the exact versions the store recorded as read.
	out, _, _ := c.run("lineage", "daily_revenue", "--partition", "2024-01-02", "--depth", "1", "-o", "json")
	var root struct {
		Children []struct {
			Asset, Partition, Version string
		}
	}
	if err := json.Unmarshal([]byte(out), &root); err != nil || len(root.Children) != 1 {
		t.Fatalf("lineage json: %v\n%s", err, out)
	}
	shown, _, _ := c.run("assets", "show", "daily_revenue", "--partition", "2024-01-02", "-o", "json")
	if !strings.Contains(shown, root.Children[0].Version) || root.Children[0].Asset != "cleaned_orders" {
		t.Fatalf("lineage says daily_revenue 2024-01-02 read %+v; assets show says:\n%s", root.Children[0], shown)
	}

	// Two versions of cleaned_orders 2024-01-02 (the second read a new
	// raw_orders version), side by side.
	c.run("materialize", "--select", "raw_orders+", "--partition", "2024-01-02", "--reprocess", "all", "-q", "-c", "1")
	shown, _, _ = c.run("assets", "show", "cleaned_orders", "--partition", "2024-01-02", "-o", "json")
	var history struct {
		History []struct{ Version string } `json:"history"`
	}
	if err := json.Unmarshal([]byte(shown), &history); err != nil || len(history.History) != 2 {
		t.Fatalf("history: %v\n%s", err, shown)
	}
	newer, older := history.History[0].Version, history.History[1].Version
	golden(t, "lineage_diff", c.transcript(
		[]string{"lineage", "diff", "cleaned_orders", "--partition", "2024-01-02", "--from", older, "--to", newer},
		[]string{"lineage", "diff", "cleaned_orders", "--partition", "2024-01-02", "--from", older, "--to", "v-nope"},
		[]string{"lineage", "diff", "cleaned_orders", "--partition", "2024-01-02"},
	))
}

// TestOpenLineageAsItHappens: --openlineage-url sends each task's START
// and COMPLETE as it runs, datasets named in the absolute namespace of the
// blob root; an endpoint that answers 503 never fails the run, and what it
// did not take is reported as dropped; a bad URL is refused before any
// work is queued.
func TestOpenLineageAsItHappens(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	file := filepath.Join(c.dir, "events.ndjson")
	_, errs, code := c.run("materialize", "--select", "raw_orders", "--partition-range", "2024-01-01...2024-01-02", "-q", "--openlineage-url", "file://"+file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for line := range strings.Lines(string(data)) {
		var ev struct {
			EventType string `json:"eventType"`
			Outputs   []struct {
				Namespace string `json:"namespace"`
				Name      string `json:"name"`
			} `json:"outputs"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		kinds[ev.EventType]++
		for _, o := range ev.Outputs {
			if o.Namespace != "file://"+filepath.Join(c.dir, "blobs") || !strings.HasPrefix(o.Name, "raw_orders/2024-01-0") {
				t.Errorf("output %+v", o)
			}
		}
	}
	if kinds["START"] != 2 || kinds["COMPLETE"] != 2 || len(kinds) != 2 {
		t.Fatalf("events %v, want START and COMPLETE for each of 2 tasks", kinds)
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	_, errs, code = c.run("materialize", "--select", "raw_orders", "--partition", "2024-01-03", "-q", "--openlineage-url", down.URL+"/api/v1/lineage")
	if code != 0 || !strings.Contains(errs, "lineage events dropped") {
		t.Fatalf("exit %d, want 0 with the dropped events reported: %s", code, errs)
	}

	runs, _, _ := c.run("runs", "list", "-o", "json")
	for _, bad := range []string{"ftp://x/y", "file://" + filepath.Join(c.dir, "nope", "e.ndjson"), "http://"} {
		_, errs, code := c.run("materialize", "--select", "raw_orders", "--partition", "2024-01-04", "--openlineage-url", bad)
		if code != 2 || !strings.Contains(errs, "--openlineage-url") {
			t.Errorf("%s: exit %d: %s", bad, code, errs)
		}
	}
	if after, _, _ := c.run("runs", "list", "-o", "json"); after != runs {
		t.Errorf("a refused --openlineage-url queued a run")
	}
}

// TestTaskLogs: `tasks logs` prints each attempt's log (what the code
// logged, and the error of an attempt that failed), as text or JSON;
// a password in a logged URL is hidden; unknown tasks and attempts are
// refused with what exists.
func TestTaskLogs(t *testing.T) {
	c := newCLI(t, &pipelines.Asset{Key: "orders", Partitions: partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"}),
		Compute: func(ctx context.Context, task *pipelines.Task) error {
			task.Logger.Info("fetching", "url", "https://etl:hunter2@api.example.com/orders?day="+task.Keys[0], "page size", 500)
			if task.Keys[0] == "2024-01-02" {
				task.Logger.Error("the source answered 410 Gone")
				return pipelines.Permanent(errors.New("orders for 2024-01-02 are gone at the source"))
			}
			w, err := task.Output.Create(ctx, task.Keys[0], "orders.csv")
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "id,amount")
			return w.Close()
		}})
	golden(t, "tasklogs", c.transcript(
		[]string{"materialize", "--select", "orders", "--partition-range", "2024-01-01...2024-01-02", "-q", "-c", "1"},
		[]string{"tasks", "logs", "1"},
		[]string{"tasks", "logs", "2"},
		[]string{"tasks", "logs", "1", "--attempt", "1", "-o", "json"},
		[]string{"tasks", "logs", "1", "--attempt", "9"},
		[]string{"tasks", "logs", "99"},
		[]string{"tasks", "logs", "1", "--follow", "-o", "json"},
	))
}

// TestServeHTTPNeedsATokenBeyondLoopback: --http on another address than
// loopback without a token, or not HOST:PORT, is refused before anything
// starts; --help never shows $WEIR_TOKEN.
func TestServeHTTPNeedsATokenBeyondLoopback(t *testing.T) {
	c := newCLI(t, nightly.Assets()...)
	for _, addr := range []string{"0.0.0.0:8300", ":8300", "10.1.2.3:8300", "nonsense"} {
		_, errs, code := c.run("serve", "--http", addr, "--workers", "0")
		if code != 2 || !strings.Contains(errs, "--http") {
			t.Errorf("serve --http %s: exit %d: %s", addr, code, errs)
		}
	}
	var out, errb bytes.Buffer
	weircli.Run(context.Background(), weircli.Config{Assets: nightly.Assets(), Stdout: &out, Stderr: &errb, Clock: c.clock,
		Getenv: func(k string) string { return map[string]string{"WEIR_TOKEN": "hunter2"}[k] }}, []string{"serve", "--help"})
	if strings.Contains(out.String()+errb.String(), "hunter2") {
		t.Errorf("serve --help shows the token:\n%s", out.String())
	}
}
