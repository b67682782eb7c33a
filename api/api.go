// Package api is weir's HTTP API: JSON over the same library calls the
// command line makes (plan.AssetHealth for partition status as ranges,
// scheduler.RunProgressAt, the store's run controls, task logs from the
// bucket), with the same validation and errors. `weir serve --http ADDR`
// serves it; docs/api.md lists the endpoints.
//
// Security: a Server with a Token refuses requests without it
// ("Authorization: Bearer TOKEN", compared in constant time), except
// reads when PublicRead is set; without a Token it must only listen on
// loopback (the command line enforces that). Request bodies are limited
// to 64 KiB and unknown JSON fields are refused. Responses carry no store
// or blob URLs.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/internal/urlredact"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/sensor"
	"github.com/weir-dev/weir/store"
)

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

// Server serves the API. Store, Bucket and Graph are required.
type Server struct {
	Store  store.Store
	Bucket *blob.Bucket
	Graph  *lineage.Graph
	// Schedules are the schedules the daemon fires (optional).
	Schedules []*schedule.Schedule
	// Query, if set, serves POST /api/v1/query (weir query's SQL).
	Query QueryFunc
	// Alerts, if set, adds each asset's late partitions (its freshness
	// deadlines) to its status.
	Alerts *alert.Config
	// Sensors are served at /api/v1/sensors (optional).
	Sensors []*sensor.Sensor
	// Clock defaults to the system clock; Logger to discarding.
	Clock  clock.Clock
	Logger *slog.Logger
	// Token, if set, is required of every request (of mutating ones only,
	// with PublicRead).
	Token      string
	PublicRead bool
	// StatusMaxAge, if set, answers asset status (GET /api/v1/assets...)
	// from every asset's health computed at most this long ago, refreshed
	// in the background (responses say as_of): for a UI over a large
	// catalog. 0 computes it for each request.
	StatusMaxAge time.Duration

	cache      healthCache
	mux        *http.ServeMux
	querySlots chan struct{}
	// badSchedules is the first invalid schedule's error: the schedule
	// endpoints answer it.
	badSchedules error
	// scheduled names, per asset, the schedules whose selection has it.
	scheduled map[string][]string
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	if s.Clock == nil {
		s.Clock = clock.Real{}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.scheduled = map[string][]string{}
	for _, sc := range s.Schedules {
		if err := sc.Validate(); err != nil && s.badSchedules == nil {
			s.badSchedules = err
		}
		keys, err := s.Graph.Select(sc.Selection)
		if err != nil {
			continue // an invalid schedule: its endpoints say so
		}
		for _, k := range keys {
			s.scheduled[k] = append(s.scheduled[k], sc.Name)
		}
	}
	s.querySlots = make(chan struct{}, queriesAtOnce)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.HandleFunc("GET /api/v1/assets", s.assets)
	mux.HandleFunc("GET /api/v1/assets/{asset}", s.assets)
	mux.HandleFunc("GET /api/v1/assets/{asset}/partitions/{key}", s.partition)
	mux.HandleFunc("GET /api/v1/assets/{asset}/partitions/{key}/lineage", s.lineage)
	mux.HandleFunc("POST /api/v1/query", s.query)
	mux.HandleFunc("GET /api/v1/schedules", s.schedules)
	mux.HandleFunc("GET /api/v1/schedules/{name}", s.schedule)
	mux.HandleFunc("GET /api/v1/schedules/{name}/ticks", s.ticks)
	mux.HandleFunc("POST /api/v1/schedules/{name}/{action}", s.pauseSchedule)
	mux.HandleFunc("GET /api/v1/runs", s.listRuns(""))
	mux.HandleFunc("GET /api/v1/runs/{id}", s.run(""))
	mux.HandleFunc("GET /api/v1/runs/{id}/events", s.events(""))
	mux.HandleFunc("POST /api/v1/runs/{id}/{action}", s.control(""))
	mux.HandleFunc("POST /api/v1/backfills", s.createBackfill)
	mux.HandleFunc("GET /api/v1/backfills", s.listRuns("backfill"))
	mux.HandleFunc("GET /api/v1/backfills/{id}", s.run("backfill"))
	mux.HandleFunc("GET /api/v1/backfills/{id}/events", s.events("backfill"))
	mux.HandleFunc("GET /api/v1/backfills/{id}/report", s.report)
	mux.HandleFunc("POST /api/v1/backfills/{id}/{action}", s.control("backfill"))
	mux.HandleFunc("GET /api/v1/runs/{id}/tasks", s.runTasks(""))
	mux.HandleFunc("GET /api/v1/backfills/{id}/tasks", s.runTasks("backfill"))
	mux.HandleFunc("GET /api/v1/tasks/{id}", s.task)
	mux.HandleFunc("GET /api/v1/tasks/{id}/logs", s.taskLogs)
	mux.HandleFunc("GET /api/v1/alerts", s.alerts)
	mux.HandleFunc("GET /api/v1/sensors", s.sensors)
	mux.HandleFunc("GET /api/v1/sensors/{name}/ticks", s.sensorTicks)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no endpoint %s %s (docs/api.md lists them)", r.Method, r.URL.Path))
	})
	s.mux = mux
	return http.HandlerFunc(s.serve)
}

// serve checks the token, then routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	open := r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || (read && s.PublicRead)
	if s.Token != "" && !open {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="weir"`)
			writeError(w, http.StatusUnauthorized, errors.New("this request needs the API token: Authorization: Bearer TOKEN"))
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	s.mux.ServeHTTP(w, r)
}

// ready answers 200 when the store and the bucket answer.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	problems := map[string]string{}
	if _, err := s.Store.PoolList(ctx); err != nil {
		problems["store"] = urlredact.Text(err.Error())
	}
	if _, err := s.Bucket.IsAccessible(ctx); err != nil {
		problems["blob"] = urlredact.Text(err.Error())
	} else if ok, _ := s.Bucket.IsAccessible(ctx); !ok {
		problems["blob"] = "the bucket is not accessible"
	}
	if len(problems) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": problems})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// AssetStatus is an asset's partitions by state, as ranges: small however
// many partitions there are.
type AssetStatus struct {
	Asset      string             `json:"asset"`
	Partitions string             `json:"partitions"`
	Fresh      partitions.Summary `json:"fresh"`
	Stale      partitions.Summary `json:"stale"`
	Missing    partitions.Summary `json:"missing"`
	Failed     partitions.Summary `json:"failed"`
	Running    partitions.Summary `json:"running"`
	WhyStale   []StaleRanges      `json:"why_stale"`
	// Late are partitions past a freshness deadline without a promoted
	// version (Server.Alerts).
	Late       []LateRanges `json:"late"`
	Deps       []string     `json:"deps"`
	Dependents []string     `json:"dependents"`
	// Total is how many partitions exist now; Bar covers those of the
	// window asked for (?bar_from, ?bar_to; all by default) in index order
	// in at most ?bar_width spans (default 1,000): the UI's health bar.
	// AsOf is when the state was read (Server.StatusMaxAge).
	AsOf  time.Time `json:"as_of"`
	Total int64     `json:"total"`
	Bar   []BarSpan `json:"bar"`
	// The definition: what `weir assets show` prints.
	Description string   `json:"description"`
	Group       string   `json:"group"`
	Tags        []string `json:"tags"`
	CodeVersion string   `json:"code_version"`
	Pool        string   `json:"pool"`
	Checks      []string `json:"checks"`
	// Mappings are the deps' partition mappings, by dep.
	Mappings map[string]string `json:"mappings"`
	// Schedules name the schedules whose selection includes the asset.
	Schedules []string `json:"schedules"`
}

// StaleRanges are partitions stale for one reason.
type StaleRanges struct {
	Why string `json:"why"`
	partitions.Summary
}

func (s *Server) assets(w http.ResponseWriter, r *http.Request) {
	var win barWindow
	var ok bool
	if win, ok = barWindowOf(w, r); !ok {
		return
	}
	keys := s.Graph.Keys()
	if sel := r.URL.Query().Get("select"); sel != "" {
		var err error
		if keys, err = s.Graph.Select(sel); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
	}
	if key := r.PathValue("asset"); key != "" {
		if _, err := s.Graph.Asset(key); err != nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
		keys = []string{key}
	}
	health, asOf, err := s.health(r.Context(), keys)
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := make([]AssetStatus, 0, len(health))
	for _, h := range health {
		a, _ := s.Graph.Asset(h.Asset)
		j := AssetStatus{Asset: h.Asset, Partitions: h.Def.String(), Fresh: partitions.Summarize(h.Def, h.Fresh), Stale: partitions.Summarize(h.Def, h.Stale),
			Missing: partitions.Summarize(h.Def, h.Missing), Failed: partitions.Summarize(h.Def, h.Failed), Running: partitions.Summarize(h.Def, h.Running),
			WhyStale: []StaleRanges{}, Late: LateOf(s.Alerts, h, asOf), Deps: []string{}, Dependents: s.Graph.Dependents(h.Asset)}
		j.AsOf, j.Total = asOf, h.Def.Len(asOf)
		j.Bar = barOf(h, j.Total, win)
		j.Description, j.Group, j.Tags, j.CodeVersion, j.Pool = a.Description, a.Group, append([]string{}, a.Tags...), a.CodeVersion, a.PoolName()
		j.Checks, j.Mappings, j.Schedules = append([]string{}, a.CheckLabels()...), map[string]string{}, append([]string{}, s.scheduled[h.Asset]...)
		for _, d := range a.Deps {
			j.Mappings[d.Asset] = s.Graph.Mapping(a.Key, d.Asset).String()
		}
		for _, d := range a.Deps {
			j.Deps = append(j.Deps, d.Asset)
		}
		if j.Dependents == nil {
			j.Dependents = []string{}
		}
		for _, why := range h.Why {
			j.WhyStale = append(j.WhyStale, StaleRanges{Why: why.Why, Summary: partitions.Summarize(h.Def, why.Partitions)})
		}
		out = append(out, j)
	}
	if r.PathValue("asset") != "" {
		writeJSON(w, http.StatusOK, out[0])
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"assets": out})
}

// Run is a run as the API lists it.
type Run struct {
	ID     int64  `json:"id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	scheduler.RunRequest
	Tasks map[string]int64 `json:"tasks"`
	Error string           `json:"error,omitempty"`
}

func toRun(r *store.Run) Run {
	j := Run{ID: r.ID, Kind: r.Kind, Status: string(r.State()), RunRequest: scheduler.RequestOf(r), Tasks: map[string]int64{}, Error: r.Error}
	for _, st := range store.TaskStates {
		j.Tasks[string(st)] = r.Tasks[st]
	}
	return j
}

// listRuns lists runs, newest first: ?kind=backfill|materialize (fixed
// to kind when it is set: /api/v1/backfills), ?limit=N (1 to 500,
// default 50), ?before=ID for the next page.
func (s *Server) listRuns(kind string) http.HandlerFunc {
	base := "/api/v1/runs"
	if kind == "backfill" {
		base = "/api/v1/backfills"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kind := kind
		if kind == "" {
			kind = q.Get("kind")
			if kind != "" && kind != "backfill" && kind != "materialize" {
				writeError(w, http.StatusBadRequest, fmt.Errorf("kind %q is not one of backfill, materialize", kind))
				return
			}
		}
		limit, ok := queryInt(w, r, "limit", 50, 1, 500)
		if !ok {
			return
		}
		before, ok := queryInt(w, r, "before", 0, 1, 1<<62)
		if !ok {
			return
		}
		// The store lists the newest; a page before an id reads up to it.
		all, err := s.Store.RunList(r.Context(), store.RunListParams{Kind: kind, Limit: -1})
		if err != nil {
			s.storeError(w, err)
			return
		}
		out := []Run{}
		next := int64(0)
		for _, run := range all {
			if before > 0 && run.ID >= int64(before) {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				break
			}
			out = append(out, toRun(run))
		}
		key := "runs"
		if base == "/api/v1/backfills" {
			key = "backfills"
		}
		resp := map[string]any{key: out}
		if next > 0 {
			link := fmt.Sprintf("%s?limit=%d&before=%d", base, limit, next)
			if q.Get("kind") != "" && base == "/api/v1/runs" {
				link += "&kind=" + kind
			}
			resp["next"] = link
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// getRun reads the run of the {id} path value, of kind when kind is set,
// answering for it when that fails.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request, kind string) (*store.Run, bool) {
	noun := "run"
	if kind != "" {
		noun = kind
	}
	id, ok := s.id(w, r, noun)
	if !ok {
		return nil, false
	}
	run, err := s.Store.RunGet(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && kind != "" && run.Kind != kind) {
		writeError(w, http.StatusNotFound, fmt.Errorf("%s %d does not exist", noun, id))
		return nil, false
	}
	if err != nil {
		s.storeError(w, err)
		return nil, false
	}
	return run, true
}

// run answers a run's progress: tasks and partitions by state, pace, ETA,
// throttle and breaker.
func (s *Server) run(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		run, ok := s.getRun(w, r, kind)
		if !ok {
			return
		}
		p, err := scheduler.RunProgressAt(r.Context(), s.Store, run.ID, s.Clock.Now())
		if err != nil {
			s.storeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	}
}

// ControlRequest is the optional body of a pause, resume, cancel or retry.
type ControlRequest struct {
	// Reason is kept in the run's audit trail.
	Reason string `json:"reason"`
	// Actor names who asked; defaults to "api".
	Actor string `json:"actor"`
}

// control pauses, resumes or cancels a run, or re-queues a backfill's
// failed tasks (retry).
func (s *Server) control(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		run, ok := s.getRun(w, r, kind)
		if !ok {
			return
		}
		id, noun := run.ID, scheduler.RunNoun(run.Kind)
		action := r.PathValue("action")
		actions := []string{"pause", "resume", "cancel"}
		if run.Kind == "backfill" {
			actions = append(actions, "retry")
		}
		if !slices.Contains(actions, action) {
			writeError(w, http.StatusNotFound, fmt.Errorf("no action %q on a %s: %s", action, noun, strings.Join(actions, ", ")))
			return
		}
		var req ControlRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Actor == "" {
			req.Actor = "api"
		}
		ctx, now := r.Context(), s.Clock.Now()
		var err error
		// The run as answered, with what a cancel or a retry changed.
		var out struct {
			Run
			Cancelled map[string]any `json:"cancelled,omitempty"`
			Requeued  map[string]any `json:"requeued,omitempty"`
		}
		switch action {
		case "pause":
			_, err = s.Store.RunSetStatus(ctx, store.RunSetStatusParams{ID: id, To: store.RunPaused, Actor: req.Actor, Reason: req.Reason, At: now})
		case "resume":
			_, err = s.Store.RunSetStatus(ctx, store.RunSetStatusParams{ID: id, To: store.RunRunning, Actor: req.Actor, Reason: req.Reason, At: now})
		case "cancel":
			var res *store.RunCancelResult
			if res, err = s.Store.RunCancel(ctx, store.RunCancelParams{ID: id, Actor: req.Actor, Reason: req.Reason, At: now}); err == nil {
				out.Cancelled = map[string]any{"pending": res.Pending, "interrupted": res.Interrupted, "skipped_elsewhere": len(res.Skipped)}
			}
		case "retry":
			var res *store.RunRetryResult
			if res, err = s.Store.RunRetryFailed(ctx, store.RunRetryFailedParams{ID: id, Actor: req.Actor, At: now}); err == nil {
				out.Requeued = map[string]any{"failed": res.Failed, "skipped": res.Skipped}
			}
		}
		if errors.Is(err, store.ErrRunState) || errors.Is(err, store.ErrNothingToRetry) {
			rule := map[string]string{"pause": "only a running " + noun + " can be paused", "resume": "only a paused or tripped " + noun + " can be resumed",
				"cancel": "only a queued, running, paused or tripped " + noun + " can be cancelled",
				"retry":  "retry re-queues the failed tasks of a backfill that failed or tripped"}[action]
			if errors.Is(err, store.ErrNothingToRetry) {
				rule = "it has no failed tasks to retry"
			}
			writeError(w, http.StatusConflict, fmt.Errorf("%s %d has status %s; %s", noun, id, run.State(), rule))
			return
		}
		if err != nil {
			s.storeError(w, err)
			return
		}
		s.Logger.Info(noun+" "+action, "run", id, "actor", req.Actor, "reason", req.Reason)
		if run, err = s.Store.RunGet(ctx, id); err != nil {
			s.storeError(w, err)
			return
		}
		out.Run = toRun(run)
		writeJSON(w, http.StatusOK, out)
	}
}

// Attempt is one attempt of a task.
type Attempt struct {
	Attempt    int        `json:"attempt"`
	Phase      string     `json:"phase"`
	Worker     string     `json:"worker"`
	State      string     `json:"state"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Error      string     `json:"error,omitempty"`
	// Version is what the attempt wrote (compute) or verified (verify)
	// under; empty for attempts from before weir recorded it.
	Version string `json:"version,omitempty"`
}

func (s *Server) task(w http.ResponseWriter, r *http.Request) {
	t, attempts, ok := s.getTask(w, r)
	if !ok {
		return
	}
	as := []Attempt{}
	for _, a := range attempts {
		as = append(as, AttemptOf(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"task": toTask(t), "attempts": as})
}

// AttemptOf returns an attempt as the API (and weir tasks show -o json)
// shows it.
func AttemptOf(a *store.TaskAttempt) Attempt {
	j := Attempt{Attempt: a.Attempt, Phase: a.Phase, Worker: a.Worker, State: string(a.State), StartedAt: a.StartedAt, Error: a.Error, Version: a.Version}
	if !a.FinishedAt.IsZero() {
		f := a.FinishedAt
		j.FinishedAt = &f
	}
	return j
}

// Task is a task as the API lists it.
type Task struct {
	ID          int64      `json:"id"`
	RunID       int64      `json:"run_id"`
	Asset       string     `json:"asset"`
	Partitions  string     `json:"partitions"`
	State       string     `json:"state"`
	Phase       string     `json:"phase"`
	Attempt     int        `json:"attempt"`
	MaxAttempts int        `json:"max_attempts"`
	Pool        string     `json:"pool"`
	Worker      string     `json:"worker"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	Error       string     `json:"error,omitempty"`
}

func toTask(t *store.Task) Task {
	j := Task{ID: t.ID, RunID: t.RunID, Asset: t.Asset, Partitions: scheduler.TaskPartitions(t), State: string(t.State), Phase: t.Phase,
		Attempt: t.Attempt, MaxAttempts: t.MaxAttempts, Pool: t.Pool, Worker: t.Worker, Error: t.Error}
	if !t.StartedAt.IsZero() {
		at := t.StartedAt
		j.StartedAt = &at
	}
	if !t.FinishedAt.IsZero() {
		at := t.FinishedAt
		j.FinishedAt = &at
	}
	return j
}

// runTasks lists a run's tasks in id order: ?state=pending|running|...,
// ?limit=N (1 to 1000, default 100), ?after=ID for the next page.
func (s *Server) runTasks(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		run, ok := s.getRun(w, r, kind)
		if !ok {
			return
		}
		q := r.URL.Query()
		state := store.TaskState(q.Get("state"))
		if state != "" && !slices.Contains(store.TaskStates, state) {
			writeError(w, http.StatusBadRequest, fmt.Errorf("state %q is not one of %v", state, store.TaskStates))
			return
		}
		limit, ok := queryInt(w, r, "limit", 100, 1, 1000)
		if !ok {
			return
		}
		after, ok := queryInt(w, r, "after", 0, 0, 1<<62)
		if !ok {
			return
		}
		tasks, err := s.Store.TaskList(r.Context(), store.TaskListParams{RunID: run.ID, State: state, AfterID: int64(after), Limit: limit + 1})
		if err != nil {
			s.storeError(w, err)
			return
		}
		out := make([]Task, 0, min(len(tasks), limit))
		for _, t := range tasks[:min(len(tasks), limit)] {
			out = append(out, toTask(t))
		}
		resp := map[string]any{"tasks": out}
		if len(tasks) > limit {
			next := fmt.Sprintf("%s?limit=%d&after=%d", r.URL.Path, limit, out[len(out)-1].ID)
			if state != "" {
				next += "&state=" + string(state)
			}
			resp["next"] = next
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// getTask reads the task of the {id} path value, answering for it when
// that fails.
func (s *Server) getTask(w http.ResponseWriter, r *http.Request) (*store.Task, []*store.TaskAttempt, bool) {
	id, ok := s.id(w, r, "task")
	if !ok {
		return nil, nil, false
	}
	t, attempts, err := s.Store.TaskGet(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("task %d does not exist", id))
		return nil, nil, false
	}
	if err != nil {
		s.storeError(w, err)
		return nil, nil, false
	}
	return t, attempts, true
}

// taskLogs returns an attempt's log lines: ?attempt=N (default the
// latest), ?offset=BYTES to read on from where the last answer ended
// ("next_offset"), for following a running task.
func (s *Server) taskLogs(w http.ResponseWriter, r *http.Request) {
	t, attempts, ok := s.getTask(w, r)
	if !ok {
		return
	}
	id := t.ID
	if len(attempts) == 0 {
		writeError(w, http.StatusNotFound, fmt.Errorf("task %d has not started: no attempts yet", id))
		return
	}
	attempt, ok := queryInt(w, r, "attempt", attempts[len(attempts)-1].Attempt, 1, 1<<30)
	if !ok {
		return
	}
	offset, ok := queryInt(w, r, "offset", 0, 0, 1<<40)
	if !ok {
		return
	}
	found := false
	for _, a := range attempts {
		found = found || a.Attempt == attempt
	}
	if !found {
		writeError(w, http.StatusNotFound, fmt.Errorf("task %d has no attempt %d", id, attempt))
		return
	}
	lines, next, logged, err := scheduler.ReadTaskLog(r.Context(), s.Bucket, t.RunID, id, attempt, int64(offset))
	if err != nil {
		writeError(w, http.StatusBadGateway, errors.New(urlredact.Text(err.Error())))
		return
	}
	if lines == nil {
		lines = []scheduler.LogLine{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"task_id": id, "attempt": attempt, "logged": logged, "lines": lines, "next_offset": next})
}

// id parses the {id} path value.
func (s *Server) id(w http.ResponseWriter, r *http.Request, what string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%s id %q is not a positive integer", what, r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// storeError answers for a store that failed: 503, secrets hidden.
func (s *Server) storeError(w http.ResponseWriter, err error) {
	msg := urlredact.Text(err.Error())
	s.Logger.Error("api: state store", "error", msg)
	writeError(w, http.StatusServiceUnavailable, fmt.Errorf("the state store failed: %s", msg))
}

// queryInt parses the optional integer query parameter name within
// [lo, hi] (def when absent), answering 400 when it is not one.
func queryInt(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%s %q: want an integer from %d to %d", name, v, lo, hi))
		return 0, false
	}
	return n, true
}

// decode reads an optional JSON body into v, refusing unknown fields,
// trailing data and bodies over MaxBody.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the request body is over %d bytes", tooBig.Limit))
		return false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("read the request body: %v", err))
		return false
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			field := typ.Field[strings.LastIndex(typ.Field, ".")+1:]
			err = fmt.Errorf("field %q wants %s, not a JSON %s", field, jsonKind(typ.Type), typ.Value)
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("the request body is not valid JSON for this endpoint: %v", err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, errors.New("the request body has data after its JSON object"))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// redact is an error's text with secrets in URLs hidden.
func redact(err error) string { return urlredact.Text(err.Error()) }

// jsonKind names what a Go type takes in JSON.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "an object"
}
