package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestMain lets the test binary be weir itself: a test starts it again
// with WEIR_TEST_EXEC=1 to run a real `weir serve` process with the
// example pipeline, without building another binary.
func TestMain(m *testing.M) {
	if os.Getenv("WEIR_TEST_EXEC") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// lockedBuffer is a process's stderr, read while it is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// weir runs this binary as weir in dir.
func weir(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WEIR_TEST_EXEC=1")
	return cmd
}

// chromium finds the browser, skipping the test without it unless
// WEIR_REQUIRE_BROWSER=1 (CI) asks for a failure instead.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("WEIR_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium on PATH and WEIR_REQUIRE_BROWSER=1 (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: browser tests skipped (apt-get install chromium; WEIR_REQUIRE_BROWSER=1 fails instead)")
	return ""
}

// TestUIInARealBrowser drives the web UI of a real `weir serve` (the
// example pipeline, embedded SQLite and file:// state) in headless
// Chromium: the asset graph, an asset's partition health and a
// partition's lineage, a throttled backfill launched from the launcher
// after its preview, followed live, paused and resumed to the end, a
// task's logs, and a SQL query. Each page's screenshot is saved in
// $WEIR_UI_SCREENSHOTS (or the test's temporary directory).
func TestUIInARealBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := chromium(t)
	dir := t.TempDir()
	shots := os.Getenv("WEIR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if out, err := weir(dir, "materialize", "--select", "*", "--partition-range", "2024-01-01...2024-01-07").CombinedOutput(); err != nil {
		t.Fatalf("weir materialize: %v\n%s", err, out)
	}
	serve := weir(dir, "serve", "--http", "127.0.0.1:0", "--workers", "2", "--log-format", "json")
	pipe, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	// The server says where it listens once it does.
	stderr := &lockedBuffer{}
	listening := make(chan string, 1)
	go func() {
		defer close(listening)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			stderr.Write(append(sc.Bytes(), '\n'))
			var rec struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "serving the web UI and the HTTP API" {
				listening <- strings.TrimSuffix(rec.URL, "/")
			}
		}
	}()
	defer func() {
		serve.Process.Kill()
		serve.Wait()
		if t.Failed() {
			t.Logf("weir serve's stderr:\n%s", stderr)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()

	var base string
	select {
	case base = <-listening:
	case <-ctx.Done():
	}
	if base == "" {
		t.Fatalf("weir serve did not listen:\n%s", stderr)
	}

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browserCtx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// until waits for a JavaScript condition on the page.
	until := func(what, expr string, timeout time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(browserCtx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			page, _ := chromedp.Run(browserCtx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("waiting for %s: %v\nthe page says:\n%s", what, err, page)
		}
	}
	// click clicks the first element sel matches, in one evaluation in
	// the page: the live pages redraw their tables and bars, and a node
	// found by one call could be gone by the next.
	click := func(what, sel string) {
		t.Helper()
		until(what, `(() => { const el = document.querySelector(`+jsString(sel)+`); if (!el) return false;
			el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, view: window })); return true; })()`, 30*time.Second)
	}
	text := func(sel string) string {
		t.Helper()
		got, err := chromedp.Run(browserCtx, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`) || {}).innerText || ""`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(browserCtx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noError := func(where string) {
		t.Helper()
		if msg := text("#error"); msg != "" {
			t.Fatalf("%s shows an error: %s", where, msg)
		}
	}

	// The asset graph: every asset a node, with its partitions' health.
	do("open the graph", chromedp.Navigate(base+"/#/"))
	until("the graph", `document.querySelectorAll("#graph svg .node").length === 4`, 30*time.Second)
	if got := text(`#graph`); !strings.Contains(got, "revenue_7d") {
		t.Fatalf("graph: %q", got)
	}
	noError("the graph")
	shot("graph")

	// An asset, from its node: the health bar is drawn from ranges, and a
	// click on a span opens that partition with its lineage.
	click("open an asset", `#graph .node[data-asset="daily_revenue"]`)
	until("the health bar", `document.querySelectorAll("svg.bar rect[data-state=fresh]").length === 1`, 30*time.Second)
	click("open a partition", `svg.bar rect[data-state=fresh]`)
	until("the partition's lineage", `document.body.innerText.includes("Read (upstream lineage)") && document.body.innerText.includes("cleaned_orders 2024-01-01")`, 30*time.Second)
	noError("the asset page")
	until("the asset's schedule", `document.querySelector("a[href='#/schedules?schedule=nightly']") !== null`, 30*time.Second)
	shot("asset")
	// Zooming asks the API for the window: three zooms in show an eighth.
	for range 3 {
		click("zoom in", `main button[type=button]`)
	}
	until("the zoomed bar", `(() => { const m = /showing ([\d,]+) of ([\d,]+)/.exec(document.body.innerText); const n = (s) => parseInt(s.replaceAll(",", ""), 10);
		return m && n(m[1]) * 8 <= n(m[2]) + 8 && document.querySelectorAll("svg.bar rect").length > 0; })()`, 30*time.Second)
	noError("the zoomed bar")

	// The launcher: a preview first, then the launch, at most one task at
	// a time.
	do("open the launcher", chromedp.Navigate(base+"/#/backfills/new?select=*&partitions=2024-01-08...2024-01-10"),
		chromedp.WaitVisible(chromedp.CSS(`#launcher`)), chromedp.SetValue(chromedp.CSS(`input[name=max_concurrent]`), "1"),
		chromedp.Click(chromedp.CSS(`button[name=preview]`)))
	until("the preview", `document.querySelector("#preview") && !document.querySelector("button[name=launch]").disabled`, 30*time.Second)
	if got := text("#preview"); !strings.Contains(got, "Preview: 12 tasks") || !strings.Contains(got, "at most 1 running") {
		t.Fatalf("preview: %q", got)
	}
	shot("launcher")
	do("launch", chromedp.Click(chromedp.CSS(`button[name=launch]`)))
	until("the backfill page", `location.hash.startsWith("#/backfill/")`, 30*time.Second)
	until("live progress", `document.querySelector("main .pill") !== null`, 30*time.Second)

	// Pause: the page shows it paused and nothing more starts; resume: it
	// runs to the end, followed live.
	until("the pause button", `!document.querySelector("button[name=pause]").disabled`, 30*time.Second)
	do("pause", chromedp.Click(chromedp.CSS(`button[name=pause]`)))
	until("paused", `document.querySelector("main .pill").innerText === "paused"`, 30*time.Second)
	noError("the paused backfill")
	shot("backfill-paused")
	do("resume", chromedp.Click(chromedp.CSS(`button[name=resume]`)))
	until("the backfill to succeed", `document.querySelector("main .pill").innerText === "succeeded"`, 3*time.Minute)
	if got := text("main"); !strings.Contains(got, "12 of 12 tasks ended — 12 succeeded, 0 failed") || !strings.Contains(got, "at most 1 running") {
		t.Fatalf("backfill page: %q", got)
	}
	until("the timeline", `document.querySelectorAll("svg a[href^='#/task/']").length === 12`, 30*time.Second)
	shot("backfill")
	until("the failed tasks only", `(() => { const s = document.querySelector("select[name=timeline_state]"); if (!s) return false;
		s.value = "failed"; s.dispatchEvent(new Event("input", { bubbles: true })); return true; })()`, 30*time.Second)
	until("no failed task", `document.body.innerText.includes("No task here has started yet.")`, 30*time.Second)

	// A task, from the timeline: its attempts and its logs.
	do("open a task", chromedp.Navigate(base+"/#/task/1"))
	until("the task's logs", `document.querySelector("table.logs tr") !== null`, 30*time.Second)
	if got := text("main"); !strings.Contains(got, "Attempts") || !strings.Contains(got, "verify") {
		t.Fatalf("task page: %q", got)
	}
	noError("the task page")

	// Schedules: paused and resumed from the page, its ticks below.
	do("open the schedules", chromedp.Navigate(base+"/#/schedules?schedule=nightly"))
	until("the schedule", `document.body.innerText.includes("Ticks of nightly") && document.querySelector("main .pill")?.innerText === "active"`, 30*time.Second)
	click("pause the schedule", `main tbody button`)
	until("the schedule paused", `document.querySelector("main .pill")?.innerText === "paused"`, 30*time.Second)
	click("resume the schedule", `main tbody button`)
	until("the schedule active", `document.querySelector("main .pill")?.innerText === "active"`, 30*time.Second)
	noError("the schedules")

	// SQL over weir's metadata.
	do("run SQL", chromedp.Navigate(base+"/#/sql"), chromedp.WaitVisible(chromedp.CSS(`textarea[name=sql]`)),
		chromedp.SetValue(chromedp.CSS(`textarea[name=sql]`), "SELECT asset, count(*) AS fresh FROM partitions WHERE state = 'fresh' GROUP BY 1 ORDER BY 1"),
		chromedp.Click(chromedp.CSS(`button[name=run]`)))
	until("the result", `document.querySelector("#result table") !== null`, 60*time.Second)
	if got := text("#result"); !strings.Contains(got, "revenue_7d\t10") {
		t.Fatalf("query result: %q", got)
	}
	shot("sql")

	// Dark mode follows the system's.
	dark := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return chromedp.Void{}, err
	}
	do("dark mode", dark, chromedp.Navigate(base+"/#/"))
	until("the dark graph", `document.querySelectorAll("#graph svg .node").length === 4 &&
		getComputedStyle(document.body).backgroundColor === "rgb(20, 24, 29)"`, 30*time.Second)
	shot("graph-dark")
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
