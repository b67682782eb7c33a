package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/examples/nightly"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/sensor"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

// openState opens an embedded store and an in-memory bucket, both closed
// when t ends.
func openState(t *testing.T) (store.Store, *blob.Bucket) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	bucket := memblob.OpenBucket(nil)
	t.Cleanup(func() { bucket.Close(); st.Close() })
	return st, bucket
}

// expand plans a selection over keys at now and expands it into tasks.
func expand(t *testing.T, st store.Store, g *lineage.Graph, sel, keys string, now time.Time) *plan.TaskGraph {
	t.Helper()
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(context.Background(), plan.Request{Selection: sel, Partitions: keys}, now)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestAPI drives a real HTTP server on 127.0.0.1 over a store where a
// week of the example pipeline ran and a backfill is queued: partition
// status as ranges, runs and their control (pause, resume, cancel) with a
// token, bad requests refused without changing anything, task logs,
// readiness.
func TestAPI(t *testing.T) {
	ctx := context.Background()
	st, bucket := openState(t)
	clk := clock.NewFake(time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	g := lineage.Must(nightly.Assets()...)
	if res, err := (&scheduler.Executor{Store: st, Bucket: bucket, Clock: clk}).Run(ctx, expand(t, st, g, "*", "2024-01-01...2024-01-07", clk.Now()), scheduler.RunOpts{}); err != nil || res.Status != store.RunSucceeded {
		t.Fatalf("run %+v %v", res, err)
	}
	backfill, _, err := scheduler.Enqueue(ctx, st, expand(t, st, g, "raw_orders", "2024-01-08...2024-01-31", clk.Now()), scheduler.EnqueueOpts{Kind: "backfill", CreatedBy: "test", Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}

	landing := &sensor.Sensor{Name: "landing", Selection: "raw_orders", Source: &sensor.BlobPrefix{Bucket: bucket, Prefix: "landing/",
		Pattern: regexp.MustCompile(`^landing/(?P<key>[^/]+)/`)}}
	srv := httptest.NewServer((&api.Server{Store: st, Bucket: bucket, Graph: g, Schedules: nightly.Schedules(), Clock: clk, Token: "s3cret", PublicRead: true,
		Alerts: nightly.Alerts(func(string) string { return "" }), Sensors: []*sensor.Sensor{landing}}).Handler())
	defer srv.Close()
	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, data)
		}
		if strings.Contains(string(data), "s3cret") || strings.Contains(string(data), "state.db") {
			t.Errorf("%s %s leaks the token or the store: %s", method, path, data)
		}
		return resp.StatusCode, m
	}
	status := func(method, path, token, body string, want int) map[string]any {
		t.Helper()
		code, m := call(method, path, token, body)
		if code != want {
			t.Errorf("%s %s: %d %v, want %d", method, path, code, m, want)
		}
		return m
	}
	runStatus := func() string {
		r, _ := st.RunGet(ctx, backfill.ID)
		return string(r.State())
	}

	status("GET", "/healthz", "", "", 200)
	status("GET", "/readyz", "", "", 200)
	a := status("GET", "/api/v1/assets/revenue_7d", "", "", 200)
	if fresh := a["fresh"].(map[string]any); fresh["count"] != 7.0 || fresh["ranges"] != "2024-01-01...2024-01-07" {
		t.Errorf("revenue_7d fresh %v", fresh)
	}
	// daily_revenue is due 6 h after each day: Jan 8 to Feb 29 are late,
	// waiting for their upstream partitions, which were never made.
	dr := status("GET", "/api/v1/assets/daily_revenue", "", "", 200)
	if late := dr["late"].([]any); len(late) != 1 || late[0].(map[string]any)["ranges"] != "2024-01-08...2024-02-29" ||
		late[0].(map[string]any)["why"] != "waiting for upstream" || late[0].(map[string]any)["late_by_seconds"] != float64(52*24*3600+4*3600) {
		t.Errorf("daily_revenue late %v", dr["late"])
	}
	if late := a["late"].([]any); len(late) != 0 {
		t.Errorf("revenue_7d has no deadline: late %v", late)
	}
	if _, err := st.AlertInsertMany(ctx, []store.Alert{{Sink: "file", DedupKey: "run_failed:9", Kind: "run_failed", Severity: "critical", Message: "run 9 failed", At: clk.Now()}}); err != nil {
		t.Fatal(err)
	}
	if al := status("GET", "/api/v1/alerts?undelivered=true", "", "", 200)["alerts"].([]any); len(al) != 1 || al[0].(map[string]any)["state"] != "pending" ||
		al[0].(map[string]any)["event_id"] != "run_failed:9" {
		t.Errorf("alerts %v", al)
	}
	status("GET", "/api/v1/alerts?limit=0", "", "", 400)
	if _, err := (&sensor.Daemon{Store: st, Graph: g, Clock: clk}).EvaluateOne(ctx, landing); err != nil {
		t.Fatal(err)
	}
	if sn := status("GET", "/api/v1/sensors", "", "", 200)["sensors"].([]any); len(sn) != 1 || sn[0].(map[string]any)["state"] != "ok" {
		t.Errorf("sensors %v", sn)
	}
	if ticks := status("GET", "/api/v1/sensors/landing/ticks", "", "", 200)["ticks"].([]any); len(ticks) != 1 {
		t.Errorf("ticks %v", ticks)
	}
	status("GET", "/api/v1/sensors/nope/ticks", "", "", 404)
	if m := status("GET", "/api/v1/assets/nope", "", "", 404); !strings.Contains(m["error"].(string), "nope") {
		t.Errorf("unknown asset: %v", m)
	}
	if all := status("GET", "/api/v1/assets", "", "", 200); len(all["assets"].([]any)) != 4 {
		t.Errorf("assets %v", all)
	}
	page := status("GET", "/api/v1/runs?limit=1", "", "", 200)
	if runs := page["runs"].([]any); len(runs) != 1 || runs[0].(map[string]any)["status"] != "queued" || page["next"] != "/api/v1/runs?limit=1&before=2" {
		t.Errorf("first page %v", page)
	}
	if next := status("GET", "/api/v1/runs?limit=1&before=2", "", "", 200); next["runs"].([]any)[0].(map[string]any)["status"] != "succeeded" || next["next"] != nil {
		t.Errorf("second page %v", next)
	}
	status("GET", "/api/v1/runs?limit=0", "", "", 400)
	status("GET", "/api/v1/runs?kind=nightly", "", "", 400)
	if p := status("GET", "/api/v1/runs/2", "", "", 200); p["tasks_total"] != 24.0 {
		t.Errorf("progress %v", p)
	}
	status("GET", "/api/v1/runs/x", "", "", 400)
	status("GET", "/api/v1/runs/99", "", "", 404)

	// Mutations need the token; bad bodies change nothing.
	pause := "/api/v1/runs/2/pause"
	status("POST", pause, "", "", 401)
	status("POST", pause, "wrong", "", 401)
	if m := status("POST", pause, "s3cret", `{"reason": "incident", "force": true}`, 400); !strings.Contains(m["error"].(string), `"force"`) {
		t.Errorf("unknown field not named: %v", m)
	}
	status("POST", pause, "s3cret", `{"reason": `, 400)
	status("POST", pause, "s3cret", `{"reason": "`+strings.Repeat("x", api.MaxBody)+`"}`, 413)
	status("POST", "/api/v1/runs/2/explode", "s3cret", "", 404)
	if got := runStatus(); got != "queued" {
		t.Fatalf("a refused request changed the run: %s", got)
	}
	if r := status("POST", pause, "s3cret", `{"reason": "incident 42"}`, 200); r["status"] != "paused" {
		t.Errorf("paused: %v", r)
	}
	status("POST", pause, "s3cret", "", 200) // pausing again changes nothing
	status("POST", "/api/v1/runs/2/resume", "s3cret", "", 200)
	if r := status("POST", "/api/v1/runs/2/cancel", "s3cret", `{"actor": "oncall"}`, 200); r["status"] != "cancelled" {
		t.Errorf("cancelled: %v", r)
	}
	if m := status("POST", pause, "s3cret", "", 409); m["error"] != "backfill 2 has status cancelled; only a running backfill can be paused" {
		t.Errorf("pausing a cancelled run: %v", m)
	}

	// A partition: its version, manifest, inputs, checks; its lineage.
	part := status("GET", "/api/v1/assets/daily_revenue/partitions/2024-01-03", "", "", 200)
	if man := part["manifest"].(map[string]any); part["version"] == "" || len(man["files"].([]any)) == 0 || len(part["inputs"].([]any)) != 1 || len(part["history"].([]any)) != 1 {
		t.Errorf("partition %v", part)
	}
	if m := status("GET", "/api/v1/assets/daily_revenue/partitions/2024-13-01", "", "", 404); !strings.Contains(m["error"].(string), "2024-13-01") {
		t.Errorf("bad key: %v", m)
	}
	status("GET", "/api/v1/assets/nope/partitions/2024-01-03", "", "", 404)
	up := status("GET", "/api/v1/assets/revenue_7d/partitions/2024-01-07/lineage", "", "", 200)
	if root := up["root"].(map[string]any); root["asset"] != "revenue_7d" || len(root["children"].([]any)) != 7 {
		t.Errorf("upstream lineage %v", up)
	}
	impact := status("GET", "/api/v1/assets/daily_revenue/partitions/2024-01-03/lineage?direction=downstream&depth=1", "", "", 200)
	if root := impact["root"].(map[string]any); len(root["children"].([]any)) != 5 {
		t.Errorf("downstream lineage %v", impact)
	}
	status("GET", "/api/v1/assets/daily_revenue/partitions/2024-01-03/lineage?direction=sideways", "", "", 400)
	status("GET", "/api/v1/assets/daily_revenue/partitions/2024-02-03/lineage", "", "", 404)

	// Schedules: list, next ticks, pause and resume, ticks.
	scheds := status("GET", "/api/v1/schedules", "", "", 200)["schedules"].([]any)
	if len(scheds) != 1 || scheds[0].(map[string]any)["state"] != "active" {
		t.Fatalf("schedules %v", scheds)
	}
	name := scheds[0].(map[string]any)["name"].(string)
	if one := status("GET", "/api/v1/schedules/"+name+"?count=3", "", "", 200); len(one["upcoming"].([]any)) != 3 {
		t.Errorf("schedule %v", one)
	}
	status("GET", "/api/v1/schedules/"+name+"?count=0", "", "", 400)
	if m := status("GET", "/api/v1/schedules/hourly", "", "", 404); !strings.Contains(m["error"].(string), name) {
		t.Errorf("unknown schedule: %v", m)
	}
	status("POST", "/api/v1/schedules/"+name+"/pause", "", "", 401)
	if m := status("POST", "/api/v1/schedules/"+name+"/pause", "s3cret", `{"reason": "migration"}`, 200); m["state"] != "paused" {
		t.Errorf("paused schedule %v", m)
	}
	if m := status("POST", "/api/v1/schedules/"+name+"/resume", "s3cret", "", 200); m["state"] != "active" {
		t.Errorf("resumed schedule %v", m)
	}
	status("POST", "/api/v1/schedules/"+name+"/fire", "s3cret", "", 404)
	if ticks := status("GET", "/api/v1/schedules/"+name+"/ticks", "", "", 200); len(ticks["ticks"].([]any)) != 0 {
		t.Errorf("ticks %v", ticks)
	}

	// The stream of a run that ended is its last progress.
	resp, err := srv.Client().Get(srv.URL + "/api/v1/runs/1/events")
	if err != nil {
		t.Fatal(err)
	}
	stream, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || !strings.HasPrefix(string(stream), "id: 1\nevent: end\ndata: {\"run_id\":1,") {
		t.Errorf("events of an ended run: %s %q", ct, stream)
	}

	// Backfills: the CLI's options by their JSON names, checked the same
	// way; a refused request stores nothing.
	runsBefore, _ := st.RunList(ctx, store.RunListParams{Limit: -1})
	for body, want := range map[string]string{
		`{}`: "select is required",
		`{"select": "nope", "partitions": "2024-02-01...2024-02-03"}`:                     `unknown asset "nope"`,
		`{"select": "*", "partitions": "2024-02-01...2024-02-03", "rate": "5"}`:           `rate "5" is not a rate R/s, R/m or R/h`,
		`{"select": "*", "partitions": "2024-02-01...2024-02-03", "max_failure_rate": 2}`: "max_failure_rate 2 is not a share between 0 and 1",
		`{"select": "*", "partitions": "2024-02-01...2024-02-03", "priority": "urgent"}`:  `priority "urgent" is not one of low, normal, high`,
		`{"select": "*", "partitions": "2024-02-31"}`:                                     "2024-02-31",
		`{"select": "*", "partitions": "2024-02-01...2024-02-03", "max_concurrent": -1}`:  "max_concurrent -1 must be 0",
		`{"select": "*", "partitions": "2024-02-01...2024-02-03", "concurrency": 0}`:      "concurrency 0 is out of range",
		`{"select": "*", "partitions": "2024-02-01...2024-02-03", "wait": true}`:          `unknown field "wait"`,
		`{"select": "*", "partitions": "2024-02-01...2024-02-03", "max_concurrent": "2"}`: `field "max_concurrent" wants a whole number, not a JSON string`,
	} {
		if m := status("POST", "/api/v1/backfills", "s3cret", body, 400); !strings.Contains(fmt.Sprint(m["error"]), want) {
			t.Errorf("%s: %v, want %q", body, m["error"], want)
		}
	}
	status("POST", "/api/v1/backfills", "", `{"select": "*", "partitions": "2024-02-01...2024-02-03"}`, 401)
	week := `"select": "cleaned_orders+", "partitions": "2024-01-01...2024-01-07"`
	dry := status("POST", "/api/v1/backfills", "s3cret", `{`+week+`, "reprocess": "all", "dry_run": true, "max_concurrent": 2, "rate": "10/s"}`, 200)
	if pl := dry["plan"].(map[string]any); dry["dry_run"] != true || pl["tasks"] != 21.0 || dry["throttle"] != "priority normal, at most 2 running, at most 10/s starts" {
		t.Errorf("dry run %v", dry)
	}
	if m := status("POST", "/api/v1/backfills", "s3cret", `{`+week+`}`, 200); m["backfill"] != nil || !strings.HasPrefix(m["message"].(string), "nothing to backfill") {
		t.Errorf("nothing to run: %v", m)
	}
	if runs, _ := st.RunList(ctx, store.RunListParams{Limit: -1}); len(runs) != len(runsBefore) {
		t.Fatalf("refused or dry-run requests stored %d runs", len(runs)-len(runsBefore))
	}
	created := status("POST", "/api/v1/backfills", "s3cret", `{`+week+`, "reprocess": "all", "max_concurrent": 2, "rate": "10/s", "priority": "low",
		"max_failure_rate": 0.5, "min_tasks": 4, "actor": "oncall"}`, 201)
	b := created["backfill"].(map[string]any)
	if b["id"] != 3.0 || b["kind"] != "backfill" || b["created_by"] != "oncall" || created["throttle"] != "priority low, at most 2 running, at most 10/s starts" {
		t.Errorf("created %v", created)
	}
	if r, _ := st.RunGet(ctx, 3); r.TaskCount() != 21 || r.Throttle.MaxConcurrent != 2 || r.Throttle.RatePerSec != 10 || r.Breaker.MinTasks != 4 || r.Breaker.MaxFailureRate != 0.5 {
		t.Errorf("stored backfill %+v", r)
	}
	if list := status("GET", "/api/v1/backfills?limit=1", "", "", 200); list["backfills"].([]any)[0].(map[string]any)["id"] != 3.0 || list["next"] != "/api/v1/backfills?limit=1&before=3" {
		t.Errorf("backfills %v", list)
	}
	status("GET", "/api/v1/backfills/1", "", "", 404) // run 1 is not a backfill
	if p := status("GET", "/api/v1/backfills/3", "", "", 200); p["tasks_pending"] != 21.0 {
		t.Errorf("backfill progress %v", p)
	}
	if m := status("POST", "/api/v1/backfills/3/retry", "s3cret", "", 409); m["error"] != "backfill 3 has status queued; retry re-queues the failed tasks of a backfill that failed or tripped" {
		t.Errorf("retry with nothing failed: %v", m)
	}
	status("POST", "/api/v1/runs/1/retry", "s3cret", "", 404)
	if m := status("POST", "/api/v1/backfills/3/cancel", "s3cret", `{"reason": "wrong range"}`, 200); m["status"] != "cancelled" ||
		m["cancelled"].(map[string]any)["pending"] != 21.0 {
		t.Errorf("cancel %v", m)
	}
	if rep := status("GET", "/api/v1/backfills/3/report", "", "", 200); rep["backfill"] == nil {
		t.Errorf("report %v", rep)
	}

	page = status("GET", "/api/v1/runs/1/tasks?limit=10", "", "", 200)
	if tasks := page["tasks"].([]any); len(tasks) != 10 || tasks[0].(map[string]any)["state"] != "succeeded" || page["next"] != "/api/v1/runs/1/tasks?limit=10&after=10" {
		t.Errorf("a run's tasks: %v", page)
	}
	if rest := status("GET", "/api/v1/runs/1/tasks?limit=100&after=10", "", "", 200); len(rest["tasks"].([]any)) != 18 || rest["next"] != nil {
		t.Errorf("the rest of a run's tasks: %v", rest)
	}
	if failed := status("GET", "/api/v1/backfills/3/tasks?state=cancelled", "", "", 200); len(failed["tasks"].([]any)) != 21 {
		t.Errorf("a backfill's cancelled tasks: %v", failed)
	}
	status("GET", "/api/v1/runs/1/tasks?state=exploded", "", "", 400)
	if task := status("GET", "/api/v1/tasks/1", "", "", 200); len(task["attempts"].([]any)) != 2 {
		t.Errorf("task %v", task)
	}
	logs := status("GET", "/api/v1/tasks/1/logs?attempt=1", "", "", 200)
	if lines := logs["lines"].([]any); logs["logged"] != true || len(lines) != 1 || lines[0].(map[string]any)["msg"] != "generated raw orders" {
		t.Errorf("logs %v", logs)
	}
	next := status("GET", "/api/v1/tasks/1/logs?attempt=1&offset="+fmt.Sprint(logs["next_offset"]), "", "", 200)
	if len(next["lines"].([]any)) != 0 || next["next_offset"] != logs["next_offset"] {
		t.Errorf("logs from the offset on: %v", next)
	}
	status("GET", "/api/v1/tasks/1/logs?attempt=7", "", "", 404)
	status("GET", "/api/v1/nothing", "", "", 404)
	if m := status("POST", "/api/v1/query", "s3cret", `{"sql": "SELECT 1"}`, 501); !strings.Contains(m["error"].(string), "querycmd") {
		t.Errorf("query without an engine: %v", m)
	}

	// Reads need the token too unless PublicRead.
	private := httptest.NewServer((&api.Server{Store: st, Bucket: bucket, Graph: g, Clock: clk, Token: "s3cret"}).Handler())
	defer private.Close()
	resp, err = private.Client().Get(private.URL + "/api/v1/runs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("a read without the token: %d, want 401", resp.StatusCode)
	}

	// Not ready once the store is gone.
	closed, _ := sqlite.Open(ctx, filepath.Join(t.TempDir(), "other.db"))
	closed.Close()
	down := httptest.NewServer((&api.Server{Store: closed, Bucket: bucket, Graph: g, Clock: clk}).Handler())
	defer down.Close()
	resp, err = down.Client().Get(down.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"store"`) {
		t.Errorf("readyz with the store down: %d %s", resp.StatusCode, body)
	}
}
