package alert_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
	"github.com/weir-dev/weir/store/sqlite"
)

var days = partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "UTC"})

// receiver is a webhook endpoint that can be down; it counts what it
// accepted per event id and checks signatures.
type receiver struct {
	t      *testing.T
	secret string
	down   atomic.Bool
	mu     sync.Mutex
	got    map[string]int
	events []alert.Event
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.down.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(req.Body)
	mac := hmac.New(sha256.New, []byte(r.secret))
	mac.Write(body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.secret != "" && req.Header.Get("Weir-Signature") != want {
		r.t.Errorf("signature %q, want %q", req.Header.Get("Weir-Signature"), want)
	}
	var e alert.Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID != req.Header.Get("Weir-Event-Id") {
		r.t.Errorf("body %s: %v", body, err)
	}
	r.mu.Lock()
	r.got[e.ID]++
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *receiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

func openStore(t *testing.T) store.Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func write(ctx context.Context, t *pipelines.Task) error {
	if t.Keys[0] == "2024-01-02" && t.Asset.Key == "orders" {
		return errors.New("source unreachable")
	}
	w, err := t.Output.Create(ctx, t.Keys[0], "out.txt")
	if err != nil {
		return err
	}
	io.WriteString(w, t.Keys[0])
	return w.Close()
}

// run materializes the partitions of selection in this process.
func run(t *testing.T, st store.Store, g *lineage.Graph, selection, partitions string, onEvent func(scheduler.Event)) *scheduler.Result {
	t.Helper()
	ctx := context.Background()
	pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: selection, Partitions: partitions, Reprocess: plan.ReprocessAll},
		time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := pl.Expand()
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&scheduler.Executor{Store: st, Bucket: memblob.OpenBucket(nil), OnEvent: onEvent, Jitter: func() float64 { return 0 }}).Run(ctx, tasks, scheduler.RunOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAFailureAlertsOnceAndOutlivesADownSink(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	retry := pipelines.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Retry: retry, Compute: write},
		&pipelines.Asset{Key: "revenue", Partitions: days, Deps: []pipelines.Dep{pipelines.On("orders")}, Compute: write})
	rcv := &receiver{t: t, secret: "s3cret", got: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := &alert.Config{Sinks: map[string]alert.Sink{"oncall": &alert.Webhook{URL: srv.URL, Secret: "s3cret"}},
		Rules: []alert.Rule{{Sink: "oncall", MinSeverity: alert.Warning}}}
	if err := cfg.Validate(g); err != nil {
		t.Fatal(err)
	}
	// The runs finish on the system clock; the service's starts just
	// before them.
	clk := clock.NewFake(time.Now().Add(-time.Minute))
	svc := &alert.Service{Store: st, Graph: g, Config: cfg, Clock: clk, ID: "a", Jitter: func() float64 { return 0 }}
	if err := svc.Step(ctx); err != nil { // leads; starts watching runs from now
		t.Fatal(err)
	}

	res := run(t, st, g, "*", "2024-01-01...2024-01-03", svc.Observe)
	if res.Status != store.RunFailed || res.Failed != 1 {
		t.Fatalf("run: %s, %d failed", res.Status, res.Failed)
	}
	// The sink is down: the run was not slowed, the alerts wait.
	rcv.down.Store(true)
	for range 2 {
		if err := svc.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := st.AlertList(ctx, store.AlertListParams{Undelivered: true})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range pending {
		kinds = append(kinds, a.Kind+" "+a.Asset+" "+a.Partitions)
	}
	// The clock stood still: the sink's one-a-second budget let one
	// attempt go.
	if len(pending) != 2 || pending[0].Attempts+pending[1].Attempts != 1 || !strings.Contains(pending[0].LastError+pending[1].LastError, "503 Service Unavailable: down for maintenance") {
		t.Errorf("attempts: %+v", pending)
	}
	// One task failed for good after 3 attempts: one alert, not three;
	// its run failed: one more.
	if got := strings.Join(kinds, "; "); got != "run_failed  ; task_failed orders 2024-01-02" {
		t.Fatalf("recorded %q", got)
	}

	// Back up: after the backoff each alert arrives once, one per second
	// (RatePerSink's default).
	rcv.down.Store(false)
	clk.Advance(3 * time.Second)
	delivered := 0
	for range 4 {
		n, err := svc.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		delivered += n
		clk.Advance(time.Second)
	}
	if delivered != 2 {
		t.Fatalf("delivered %d, want 2", delivered)
	}
	for id, n := range rcv.counts() {
		if n != 1 {
			t.Errorf("%s arrived %d times", id, n)
		}
	}
	if c := rcv.counts(); len(c) != 2 || c["task_failed:3:3"] != 1 && c["task_failed:2:3"] != 1 {
		t.Errorf("arrived %v", c)
	}
	// Detected again (a restart, another daemon): nothing new to send.
	if n, err := svc.Detect(ctx); err != nil || n != 0 {
		t.Fatalf("detect again: %d new, %v", n, err)
	}
}

func TestAnotherDaemonDeliversWhatADeadOneRecorded(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Compute: write})
	rcv := &receiver{t: t, got: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := &alert.Config{Sinks: map[string]alert.Sink{"hook": &alert.Webhook{URL: srv.URL}}, Rules: []alert.Rule{{Sink: "hook"}}}
	clk := clock.NewFake(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	first := &alert.Service{Store: st, Graph: g, Config: cfg, Clock: clk, ID: "first"}
	if err := first.Step(ctx); err != nil {
		t.Fatal(err)
	}
	// Recorded, then the process dies before delivering.
	if n, err := first.Record(ctx, alert.Event{ID: "e1", Kind: alert.Test, Message: "hello"}); err != nil || n != 1 {
		t.Fatalf("record: %d %v", n, err)
	}
	second := &alert.Service{Store: st, Graph: g, Config: cfg, Clock: clk, ID: "second"}
	if err := second.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if c := rcv.counts(); len(c) != 0 {
		t.Fatalf("delivered while the first still led: %v", c)
	}
	clk.Advance(31 * time.Second) // the first's lease expires
	if err := second.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if c := rcv.counts(); c["e1"] != 1 || len(c) != 1 {
		t.Fatalf("after failover: %v", c)
	}
}

func TestFreshnessDeadlineAlertsOnceWhenMissedAndOnceWhenMet(t *testing.T) {
	st := openStore(t)
	g := lineage.Must(&pipelines.Asset{Key: "events", Partitions: days, Compute: write},
		&pipelines.Asset{Key: "revenue", Partitions: days, Deps: []pipelines.Dep{pipelines.On("events")}, Compute: write})
	var sent []string
	sink := sinkFunc(func(e alert.Event) { sent = append(sent, string(e.Kind)+" "+e.Partitions+": "+e.Message) })
	cfg := &alert.Config{Sinks: map[string]alert.Sink{"log": sink}, Rules: []alert.Rule{{Sink: "log", Selection: "revenue"}},
		Freshness: []alert.Freshness{{Asset: "revenue", Within: 6 * time.Hour}}, RatePerSink: 1000}
	if err := cfg.Validate(g); err != nil {
		t.Fatal(err)
	}
	// 05:00 on Jan 3: 2024-01-01 was due at 06:00 on Jan 2; 2024-01-02 is due at 06:00.
	clk := clock.NewFake(time.Date(2024, 1, 3, 5, 0, 0, 0, time.UTC))
	svc := &alert.Service{Store: st, Graph: g, Config: cfg, Clock: clk}
	step := func() { t.Helper(); detectAndDeliver(t, svc) }
	step()
	clk.Advance(time.Hour + time.Second)
	step()
	run(t, st, g, "*", "2024-01-02", nil)
	step()
	clk.Advance(24 * time.Hour)
	run(t, st, g, "*", "2024-01-03", nil)
	step()
	want := []string{
		"freshness_missed 2024-01-01: revenue 2024-01-01 was not promoted by 2024-01-02T06:00:00Z (promoted within 6h0m0s after the window closes); 23h0m0s late",
		"freshness_missed 2024-01-02: revenue 2024-01-02 was not promoted by 2024-01-03T06:00:00Z (promoted within 6h0m0s after the window closes); 1s late",
		"freshness_recovered 2024-01-02: revenue 2024-01-02 is promoted now",
	}
	wantPrefixes(t, sent, want)
}

func TestABreakerTripAlertsWithItsReason(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Compute: write})
	cfg, sent := collect(alert.BreakerTripped)
	clk := clock.NewFake(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	svc := &alert.Service{Store: st, Graph: g, Config: cfg, Clock: clk}
	tasks := make([]store.TaskInsertParams, 3)
	for i := range tasks {
		k := days.Key(int64(i))
		tasks[i] = store.TaskInsertParams{Asset: "orders", PartitionFirst: k, PartitionLast: k, PartitionCount: 1, MaxAttempts: 1, Pool: "default"}
	}
	r, _, err := st.RunInsert(ctx, store.RunInsertParams{Kind: "backfill", Selection: "orders", Assets: []string{"orders"}, Partitions: "2024-01-01...2024-01-03",
		Reprocess: "all", CreatedBy: "test", CreatedAt: clk.Now(), Breaker: store.Breaker{MaxConsecutive: 2}, Tasks: slices.Values(tasks)})
	if err != nil {
		t.Fatal(err)
	}
	leased, err := st.TaskLeaseMany(ctx, store.TaskLeaseManyParams{Worker: "w", Limit: 2, Now: clk.Now(), LeaseFor: time.Minute})
	if err != nil || len(leased.Tasks) != 2 {
		t.Fatalf("lease: %v %v", leased, err)
	}
	for _, tk := range leased.Tasks {
		if _, err := st.TaskFinish(ctx, store.TaskFinishParams{ID: tk.ID, LeaseToken: tk.LeaseToken, State: store.TaskFailed, Error: "boom", At: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := svc.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(*sent) != 1 || (*sent)[0].RunID != r.ID || !strings.Contains((*sent)[0].Message, "stopped by its circuit breaker: 2 tasks failed in a row") {
		t.Fatalf("sent %+v", *sent)
	}
}

func TestValidateRefusesBadDeclarations(t *testing.T) {
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Compute: write},
		&pipelines.Asset{Key: "regions", Partitions: partitions.MustStatic("eu", "us"), Compute: write},
		&pipelines.Asset{Key: "fx_rates", Compute: write})
	cfg := &alert.Config{
		Sinks: map[string]alert.Sink{"hook": &alert.Webhook{URL: "ftp://example.com/x"}, "slack": &alert.Slack{URL: "https://user:tok@hooks.example.com/x"},
			"cmd": &alert.Command{}},
		Rules: []alert.Rule{{Sink: "pager"}, {Sink: "slack", Kinds: []alert.Kind{"exploded"}, MinSeverity: "urgent", Selection: "nope+"}},
		Freshness: []alert.Freshness{{Asset: "orders", Within: -time.Hour}, {Asset: "regions", Within: time.Hour}, {Asset: "ghost", Within: time.Hour},
			{Asset: "orders", By: "06:00", Zone: "Mars/Olympus"}, {Asset: "orders", By: "25:00", Zone: "UTC"}, {Asset: "orders", By: "06:00", Zone: "UTC", Within: time.Hour},
			{Asset: "orders", MaxAge: time.Hour}, {Asset: "fx_rates", MaxAge: -time.Minute}, {Asset: "fx_rates", Within: time.Hour}},
	}
	err := cfg.Validate(g)
	for _, want := range []string{
		`alert sink "hook": URL "ftp://example.com/x" is not an http:// or https:// URL`,
		`alert sink "cmd": command is empty`,
		`alert rule 1: sink "pager" is not one of the sinks ["cmd" "hook" "slack"]`,
		`alert rule 2: kind "exploded" is not one of`,
		`alert rule 2: severity "urgent" is not one of info, warning, critical`,
		`alert rule 2: `,
		`freshness deadline of "orders": Within -1h0m0s must be positive`,
		`freshness deadline of "orders": Zone "Mars/Olympus" is not an IANA time zone`,
		`freshness deadline of "orders": By "25:00" is not a time of day like 06:00`,
		`freshness deadline of "orders": set one of Within, By (with Zone) and MaxAge`,
		`freshness deadline of "regions": its partitions are not time windows`,
		`freshness deadline of "orders": MaxAge is for unpartitioned assets; give a partitioned one Within or By`,
		`freshness deadline of "fx_rates": MaxAge -1m0s must be positive`,
		`freshness deadline of "fx_rates": its partitions are not time windows, so they have no time to be due by (MaxAge suits an unpartitioned asset)`,
		`freshness deadline: `,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "tok") {
		t.Errorf("a secret in the error: %v", err)
	}
}

// collect returns a configuration that sends the events of kinds to a
// sink keeping them in *sent.
func collect(kinds ...alert.Kind) (*alert.Config, *[]alert.Event) {
	sent := &[]alert.Event{}
	return &alert.Config{Sinks: map[string]alert.Sink{"log": sinkFunc(func(e alert.Event) { *sent = append(*sent, e) })},
		Rules: []alert.Rule{{Sink: "log", Kinds: kinds}}, RatePerSink: 1000}, sent
}

// wantPrefixes checks that the alerts sent begin as want says, one each.
func wantPrefixes(t *testing.T, sent, want []string) {
	t.Helper()
	if len(sent) != len(want) {
		t.Fatalf("sent %d alerts:\n%s", len(sent), strings.Join(sent, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(sent[i], want[i]) {
			t.Errorf("alert %d:\n got %s\nwant %s", i, sent[i], want[i])
		}
	}
}

// detectAndDeliver steps svc twice: once to detect (and lead), once to
// deliver what it recorded.
func detectAndDeliver(t *testing.T, svc *alert.Service) {
	t.Helper()
	for range 2 {
		if err := svc.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// sinkFunc is a sink that calls a function.
type sinkFunc func(alert.Event)

func (f sinkFunc) Send(_ context.Context, e alert.Event) error { f(e); return nil }
func (sinkFunc) Validate() error                               { return nil }
func (sinkFunc) String() string                                { return "func" }

func TestALostWorkerAlertsOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Compute: write})
	cfg, sent := collect(alert.WorkerLost)
	clk := clock.NewFake(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	if err := st.WorkerRegister(ctx, store.WorkerRegisterParams{ID: "w1", Host: "h1", PID: 42, LeaseTimeout: 30 * time.Second, At: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	svc := &alert.Service{Store: st, Graph: g, Config: cfg, Clock: clk}
	step := func() {
		t.Helper()
		if err := svc.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if len(*sent) != 0 {
		t.Fatalf("a live worker alerted: %+v", *sent)
	}
	clk.Advance(31 * time.Second) // no heartbeat for a lease timeout
	step()
	clk.Advance(time.Minute)
	step()
	if len(*sent) != 1 || !strings.Contains((*sent)[0].Message, "worker w1 on h1 (pid 42) stopped heartbeating") {
		t.Fatalf("sent %+v", *sent)
	}
}

func TestLateOfGroupsPartitionsPastTheirDeadlineByWhy(t *testing.T) {
	// Jan 1..10 exist at noon on Jan 11; with 6 h to promote, Jan 1..9 are
	// due (Jan 10 closed at midnight, due at 06:00 on Jan 11: due too).
	now := time.Date(2024, 1, 11, 12, 0, 0, 0, time.UTC)
	h := plan.Health{Asset: "revenue", Def: days,
		Fresh: partitions.Span(0, 3), Stale: partitions.Of(4), Missing: partitions.Of(3).Union(partitions.Span(5, 10)),
		Failed: partitions.Of(3, 5, 8), Blocked: partitions.Of(5), Running: partitions.Of(6), Waiting: partitions.Of(6, 8, 9)}
	var got []string
	for _, l := range alert.LateOf(h, alert.Freshness{Asset: "revenue", Within: 6 * time.Hour}, now) {
		got = append(got, fmt.Sprintf("%s %s by %s", l.Why, partitions.Format(days, l.Partitions), l.By))
	}
	// Each partition under the first reason that holds: running before
	// waiting (Jan 7), waiting before failed (Jan 9).
	want := []string{"running 2024-01-07 by 78h0m0s", "blocked by a check 2024-01-06 by 102h0m0s", "waiting for upstream 2024-01-09...2024-01-10 by 30h0m0s",
		"failed 2024-01-04 by 150h0m0s", "not started 2024-01-08 by 54h0m0s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("late:\n%q\nwant\n%q", got, want)
	}
	if l := alert.LateOf(h, alert.Freshness{Asset: "revenue", Within: 100 * 24 * time.Hour}, now); l != nil {
		t.Errorf("nothing is due yet: %+v", l)
	}
}

func TestDeadlineByATimeOfDayInAZone(t *testing.T) {
	f := alert.Freshness{Asset: "revenue", By: "06:00", Zone: "Europe/Berlin"}
	for _, tc := range []struct{ end, want string }{
		// A UTC day closes at 01:00 Berlin (winter): due at 06:00 Berlin.
		{"2024-01-02T00:00:00Z", "2024-01-02T06:00:00+01:00"},
		// Closing after 06:00 Berlin: the next morning.
		{"2024-01-02T07:00:00+01:00", "2024-01-03T06:00:00+01:00"},
		// The spring-forward night: still 06:00 wall time, now CEST.
		{"2024-03-31T00:00:00+01:00", "2024-03-31T06:00:00+02:00"},
	} {
		end, _ := time.Parse(time.RFC3339, tc.end)
		if got := f.Deadline(end).Format(time.RFC3339); got != tc.want {
			t.Errorf("deadline of a window ending %s = %s, want %s", tc.end, got, tc.want)
		}
	}
}

// A worker killed between a task's failure and its alert: the daemon's
// sweep of ended runs records it, under the same id, once.
func TestATaskFailureIsAlertedWhenItsWorkerDidNot(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Compute: write})
	cfg, sent := collect(alert.TaskFailed)
	clk := clock.NewFake(time.Now().Add(-time.Minute))
	svc := &alert.Service{Store: st, Graph: g, Config: cfg, Clock: clk}
	if err := svc.Step(ctx); err != nil {
		t.Fatal(err)
	}
	run(t, st, g, "orders", "2024-01-01...2024-01-03", nil) // no Observe: nothing recorded by the worker
	for range 3 {
		if err := svc.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(*sent) != 1 || (*sent)[0].Partitions != "2024-01-02" || !strings.Contains((*sent)[0].Message, "orders 2024-01-02 failed after 1 attempt(s)") {
		t.Fatalf("sent %+v", *sent)
	}
}

// TestLateSaysWhatBlocksAPartition: from a real run, a partition whose
// output a blocking check refused is late "blocked by a check", one whose
// upstream partition failed "waiting for upstream".
func TestLateSaysWhatBlocksAPartition(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g := lineage.Must(&pipelines.Asset{Key: "orders", Partitions: days, Compute: write}, // 2024-01-02 fails
		&pipelines.Asset{Key: "revenue", Partitions: days, Deps: []pipelines.Dep{pipelines.On("orders")}, Compute: write,
			Checks: []pipelines.Check{{Name: "no negative totals", Func: func(_ context.Context, s pipelines.Staged) (string, error) {
				if s.Keys()[0] == "2024-01-03" {
					return "-12.50", errors.New("total is negative")
				}
				return "ok", nil
			}}}})
	run(t, st, g, "*", "2024-01-01...2024-01-03", nil)
	now := time.Date(2024, 1, 5, 12, 0, 0, 0, time.UTC)
	health, err := plan.AssetHealth(ctx, st, g, []string{"revenue"}, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range alert.LateOf(health[0], alert.Freshness{Asset: "revenue", Within: time.Hour}, now) {
		got = append(got, l.Why+" "+partitions.Format(days, l.Partitions))
	}
	// orders 2024-01-04 never ran either: revenue's waits for it too.
	want := []string{"blocked by a check 2024-01-03", "waiting for upstream 2024-01-02,2024-01-04"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("late:\n%q\nwant\n%q", got, want)
	}
}

// TestMaxAgeAlertsOncePerVersionThatGrowsOld: an unpartitioned asset due
// no older than an hour alerts when never promoted, recovers when it is,
// alerts again once that version is an hour old, and recovers again:
// each once, however often the daemon looks.
func TestMaxAgeAlertsOncePerVersionThatGrowsOld(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g := lineage.Must(&pipelines.Asset{Key: "fx_rates", Compute: write})
	cfg, sent := collect(alert.FreshnessMissed, alert.FreshnessRecovered)
	cfg.Freshness = []alert.Freshness{{Asset: "fx_rates", MaxAge: time.Hour}}
	if err := cfg.Validate(g); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	svc := &alert.Service{Store: st, Graph: g, Config: cfg, Clock: clk}
	step := func() { t.Helper(); detectAndDeliver(t, svc) }
	materialize := func() {
		t.Helper()
		pl, err := (&plan.Planner{Graph: g, Status: st}).Plan(ctx, plan.Request{Selection: "fx_rates", Reprocess: plan.ReprocessAll}, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		tasks, _ := pl.Expand()
		if _, err := (&scheduler.Executor{Store: st, Bucket: memblob.OpenBucket(nil), Clock: clk}).Run(ctx, tasks, scheduler.RunOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	late := func() string {
		t.Helper()
		h, err := plan.AssetHealth(ctx, st, g, []string{"fx_rates"}, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(alert.LateOf(h[0], cfg.Freshness[0], clk.Now()))
	}
	step() // first look: never promoted
	clk.Advance(61 * time.Minute)
	step()
	materialize()
	clk.Advance(time.Minute)
	step()
	if l := late(); l != "[]" {
		t.Errorf("just promoted, late: %s", l)
	}
	clk.Advance(30 * time.Minute)
	step()
	clk.Advance(30 * time.Minute)
	step()
	clk.Advance(time.Minute)
	step()
	if l := late(); !strings.Contains(l, "too old 2m0s") {
		t.Errorf("promoted an hour and two minutes ago, late: %s; want too old by 2m0s", l)
	}
	materialize()
	clk.Advance(time.Minute) // the next detection
	step()
	var got []string
	for _, e := range *sent {
		got = append(got, string(e.Kind)+": "+e.Message)
	}
	want := []string{
		"freshness_missed: fx_rates has never been promoted, 1h0m0s after the alert daemon first looked at 2024-06-01T00:00:00Z",
		"freshness_recovered: fx_rates is fresh again",
		"freshness_missed: fx_rates is stale: its current version",
		"freshness_recovered: fx_rates is fresh again",
	}
	wantPrefixes(t, got, want)
}
