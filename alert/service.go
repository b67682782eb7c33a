package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// LeaderRole is the role whose leader detects and delivers alerts.
const LeaderRole = "alerts"

// Service records events in the outbox and, while it leads, finds the
// events the state store shows (runs that ended, breakers that tripped,
// deadlines missed and met) and delivers what is due.
type Service struct {
	// Store is the state store. Required.
	Store store.Store
	// Graph holds the assets rules select. Required.
	Graph *lineage.Graph
	// Config says what alerts where. Required.
	Config *Config
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// ID names this service as the leader. Defaults to "alerts HOST:PID".
	ID string
	// Every is how often Run detects and delivers. Defaults to
	// Config.Every, or 10s.
	Every time.Duration
	// LeaseTTL is how long leadership lasts unrenewed. Defaults to 30s.
	LeaseTTL time.Duration
	// Jitter returns a number in [0, 1) that spreads retries. Defaults to
	// math/rand.
	Jitter func() float64

	once    sync.Once
	swept   map[int64]bool // runs the last Detect recorded (Run's goroutine)
	mu      sync.Mutex
	nextFor map[string]time.Time // per sink: when the next delivery may start
	lead    store.Leadership
}

// defaults fills in the defaults once: the hooks (Observe, ObserveTicks,
// ObserveSensor) run on other goroutines than Run.
func (s *Service) defaults() error {
	if s.Store == nil || s.Graph == nil || s.Config == nil {
		return errors.New("alert service needs a Store, a Graph and a Config")
	}
	s.once.Do(s.setDefaults)
	return nil
}

func (s *Service) setDefaults() {
	if s.Clock == nil {
		s.Clock = clock.Real{}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.ID == "" {
		s.ID = "alerts " + scheduler.DefaultWorkerID()
	}
	if s.Every <= 0 {
		s.Every = s.Config.Every
	}
	if s.Every <= 0 {
		s.Every = 10 * time.Second
	}
	if s.LeaseTTL <= 0 {
		s.LeaseTTL = 30 * time.Second
	}
	if s.Jitter == nil {
		s.Jitter = rand.Float64
	}
}

// Record routes e by the rules and records it for each sink that takes
// it; an event recorded already is left alone. It returns how many alerts
// are new.
func (s *Service) Record(ctx context.Context, e Event) (int, error) {
	if err := s.defaults(); err != nil {
		return 0, err
	}
	if e.Severity == "" {
		e.Severity = DefaultSeverity(e.Kind)
	}
	if e.At.IsZero() {
		e.At = s.Clock.Now()
	}
	sinks := s.Config.route(s.Graph, e)
	if len(sinks) == 0 {
		return 0, nil
	}
	rows := make([]store.Alert, len(sinks))
	for i, sink := range sinks {
		// Due now, whatever the event's time says (another host's
		// clock may be ahead).
		rows[i] = store.Alert{Sink: sink, DedupKey: e.ID, Kind: string(e.Kind), Severity: string(e.Severity), Asset: e.Asset,
			Partitions: e.Partitions, RunID: e.RunID, Message: e.Message, At: e.At, NextAt: s.Clock.Now()}
	}
	return s.Store.AlertInsertMany(ctx, rows)
}

// Observe is a worker's OnEvent hook: a task that failed for good (not a
// retry) is recorded as TaskFailed at once. (Detect records the failed
// tasks of runs that ended too, for a worker killed before it could.)
func (s *Service) Observe(ev scheduler.Event) {
	if ev.Kind != scheduler.EventFailed {
		return
	}
	msg := ""
	if ev.Err != nil {
		msg = ev.Err.Error()
	}
	s.recordQuietly(taskFailed(ev.RunID, ev.TaskID, ev.Attempt, ev.Asset, ev.Partitions, msg))
}

// taskFailed is the event of a task that failed for good; its id is the
// same whether the worker or the daemon's sweep of ended runs records it.
func taskFailed(runID, taskID int64, attempt int, asset, partitions, why string) Event {
	msg := fmt.Sprintf("%s %s failed after %d attempt(s)", asset, partitions, attempt)
	if why != "" {
		msg += ": " + why
	}
	return Event{ID: fmt.Sprintf("task_failed:%d:%d", taskID, attempt), Kind: TaskFailed, Asset: asset, Partitions: partitions, RunID: runID, Message: msg}
}

// ObserveTicks is a schedule daemon's OnFired hook: ticks that did not
// fire are recorded as TickSkipped, one event per evaluation.
func (s *Service) ObserveTicks(f schedule.Fired) {
	if len(f.Skipped) == 0 {
		return
	}
	first, last := f.Skipped[0], f.Skipped[len(f.Skipped)-1]
	s.recordQuietly(Event{ID: fmt.Sprintf("tick_skipped:%s:%s", f.Schedule, first.UTC().Format(time.RFC3339)), Kind: TickSkipped,
		Message: fmt.Sprintf("schedule %s skipped %d tick(s) %s…%s: %s", f.Schedule, len(f.Skipped),
			first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339), f.Reason), At: f.At})
}

// ObserveSensor is a sensor daemon's OnTick hook: a failing poll is
// recorded as SensorFailed, once per streak of failures (since).
func (s *Service) ObserveSensor(t store.SensorTick, since time.Time) {
	if t.Error == "" {
		return
	}
	s.recordQuietly(Event{ID: fmt.Sprintf("sensor_failed:%s:%d", t.Sensor, since.UnixNano()), Kind: SensorFailed, At: t.EvaluatedAt,
		Message: fmt.Sprintf("sensor %s cannot poll its source since %s: %s", t.Sensor, since.UTC().Format(time.RFC3339), t.Error)})
}

// recordQuietly records e from a hook that must not fail or block the
// work: an error is logged.
func (s *Service) recordQuietly(e Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Record(ctx, e); err != nil {
		s.Logger.Error("record alert", "event", e.ID, "error", err)
	}
}

const runsCursor = "alerts.runs"

// Detect records the events the store shows since the last call: runs
// that ended failed, backfills that ended, breakers that tripped, workers
// lost, and freshness deadlines missed and met. The first call starts from now: what
// ended before alerts were configured is not alerted.
func (s *Service) Detect(ctx context.Context) (int, error) {
	if err := s.defaults(); err != nil {
		return 0, err
	}
	now := s.Clock.Now()
	n := 0
	record := func(e Event) error {
		k, err := s.Record(ctx, e)
		n += k
		return err
	}
	since, ok, err := s.Store.CursorGet(ctx, runsCursor)
	if err != nil {
		return 0, err
	}
	if ok {
		// A minute of overlap: hosts' clocks differ a little, and the
		// dedup key makes a second sighting harmless.
		runs, err := s.Store.RunList(ctx, store.RunListParams{FinishedSince: time.Unix(0, since).Add(-time.Minute), Limit: -1})
		if err != nil {
			return n, err
		}
		swept := make(map[int64]bool, len(runs))
		for _, r := range runs {
			swept[r.ID] = true
			if s.swept[r.ID] {
				continue // recorded by the previous sweep: the overlap sees it again
			}
			events := runEvents(r)
			if r.Tasks[store.TaskFailed] > 0 {
				// The worker that failed a task records its alert right
				// after; one killed in between did not. The same dedup
				// key makes this a no-op when it did.
				failed, err := s.Store.TaskList(ctx, store.TaskListParams{RunID: r.ID, State: store.TaskFailed, Limit: scheduler.MaxFailures})
				if err != nil {
					return n, err
				}
				for _, t := range failed {
					events = append(events, taskFailed(t.RunID, t.ID, t.Attempt, t.Asset, scheduler.TaskPartitions(t), t.Error))
				}
			}
			for _, e := range events {
				if err := record(e); err != nil {
					return n, err
				}
			}
		}
		s.swept = swept
	}
	if err := s.Store.CursorSet(ctx, runsCursor, now.UnixNano()); err != nil {
		return n, err
	}
	tripped, err := s.Store.RunList(ctx, store.RunListParams{Status: []store.RunStatus{store.RunTripped}, Limit: -1})
	if err != nil {
		return n, err
	}
	for _, r := range tripped {
		h := sha256.Sum256([]byte(r.TripReason))
		if err := record(Event{ID: fmt.Sprintf("breaker_tripped:%d:%s", r.ID, hex.EncodeToString(h[:4])), Kind: BreakerTripped,
			Assets: r.Assets, RunID: r.ID, At: now, Message: fmt.Sprintf("%s %d stopped by its circuit breaker: %s (resume or cancel it)",
				scheduler.RunNoun(r.Kind), r.ID, r.TripReason)}); err != nil {
			return n, err
		}
	}
	workers, err := s.Store.WorkerList(ctx, store.WorkerListParams{Active: true})
	if err != nil {
		return n, err
	}
	for _, w := range workers {
		if w.State(now) != store.WorkerLost {
			continue
		}
		if err := record(Event{ID: fmt.Sprintf("worker_lost:%s:%d", w.ID, w.StartedAt.UnixNano()), Kind: WorkerLost, At: now,
			Message: fmt.Sprintf("worker %s on %s (pid %d) stopped heartbeating at %s holding %d task(s); their leases are reaped and the tasks retried",
				w.ID, w.Host, w.PID, w.HeartbeatAt.UTC().Format(time.RFC3339), w.Running)}); err != nil {
			return n, err
		}
	}
	if len(s.Config.Freshness) == 0 {
		return n, nil
	}
	late, err := s.late(ctx)
	if err != nil {
		return n, err
	}
	for _, f := range s.Config.Freshness {
		var k int
		if f.MaxAge > 0 {
			k, err = s.freshnessByAge(ctx, f, late[f.Asset], now)
		} else if k, err = s.recovered(ctx, f, late[f.Asset], now); err == nil {
			var missed int
			missed, err = s.freshness(ctx, f, now)
			k += missed
		}
		n += k
		if err != nil {
			return n, fmt.Errorf("freshness of %s: %w", f.Asset, err)
		}
	}
	return n, nil
}

// runEvents are the events of a run that ended.
func runEvents(r *store.Run) []Event {
	noun := scheduler.RunNoun(r.Kind)
	counts := fmt.Sprintf("%d succeeded, %d failed, %d skipped, %d cancelled of %d tasks",
		r.Tasks[store.TaskSucceeded], r.Tasks[store.TaskFailed], r.Tasks[store.TaskSkipped], r.Tasks[store.TaskCancelled], r.TaskCount())
	var out []Event
	if r.Status == store.RunFailed {
		msg := fmt.Sprintf("%s %d (%s) failed: %s", noun, r.ID, r.Selection, counts)
		if r.Error != "" {
			msg += "; " + r.Error
		}
		out = append(out, Event{ID: fmt.Sprintf("run_failed:%d", r.ID), Kind: RunFailed, Assets: r.Assets, RunID: r.ID, At: r.FinishedAt, Message: msg})
	}
	if r.Kind == "backfill" {
		sev := Info
		if r.Status != store.RunSucceeded {
			sev = Warning
		}
		out = append(out, Event{ID: fmt.Sprintf("backfill_finished:%d", r.ID), Kind: BackfillFinished, Severity: sev, Assets: r.Assets,
			RunID: r.ID, At: r.FinishedAt, Message: fmt.Sprintf("backfill %d (%s) %s: %s", r.ID, r.Selection, r.Status, counts)})
	}
	return out
}

// maxFreshnessChecks bounds the partitions one detection checks per
// deadline, after a long time without a leader.
const maxFreshnessChecks = 1000

// freshness records the partitions of f.Asset that became due since the
// last call and are not promoted (recovered records the late ones
// promoted since). Each partition is looked up when it becomes due and,
// while late, on each call; the asset's other partitions are never read.
func (s *Service) freshness(ctx context.Context, f Freshness, now time.Time) (int, error) {
	a, err := s.Graph.Asset(f.Asset)
	if err != nil {
		return 0, err
	}
	def := a.PartitionsDef()
	tw, ok := def.(partitions.Windowed)
	if !ok {
		return 0, fmt.Errorf("its partitions are not time windows")
	}
	due := f.due(tw, now)
	cursor := "alerts.freshness." + f.Asset
	from, ok, err := s.Store.CursorGet(ctx, cursor)
	if err != nil {
		return 0, err
	}
	if !ok {
		from = max(due-1, 0) // the newest due partition only
	}
	from = max(from, due-maxFreshnessChecks)
	var keys []string
	for i := from; i < due; i++ {
		keys = append(keys, def.Key(i))
	}
	n := 0
	if len(keys) > 0 {
		current, err := s.Store.PartitionCurrentList(ctx, f.Asset, keys)
		if err != nil {
			return 0, err
		}
		promoted := map[string]bool{}
		for _, c := range current {
			promoted[c.PartitionKey] = true
		}
		for i, k := range keys {
			if promoted[k] {
				continue
			}
			_, end := tw.Window(from + int64(i))
			deadline := f.Deadline(end)
			got, err := s.Record(ctx, Event{ID: "freshness_missed:" + f.Asset + ":" + k, Kind: FreshnessMissed, Asset: f.Asset, Partitions: k, At: deadline,
				Message: fmt.Sprintf("%s %s was not promoted by %s (%s); %s late", f.Asset, k,
					deadline.Format(time.RFC3339), f, now.Sub(deadline).Round(time.Second))})
			n += got
			if err != nil {
				return n, err
			}
		}
	}
	return n, s.Store.CursorSet(ctx, cursor, due)
}

// late returns, per asset, what was alerted as late and not yet as
// recovered (from the latest 1,000 alerts of each kind): the events' ids
// after "freshness_missed:", "ASSET:KEY" (or "ASSET:KEY@VERSION" for
// MaxAge, the version that was too old).
func (s *Service) late(ctx context.Context) (map[string][]string, error) {
	missed, err := s.Store.AlertList(ctx, store.AlertListParams{Kind: string(FreshnessMissed), Limit: 1000})
	if err != nil {
		return nil, err
	}
	back, err := s.Store.AlertList(ctx, store.AlertListParams{Kind: string(FreshnessRecovered), Limit: 1000})
	if err != nil {
		return nil, err
	}
	// An event is one row per sink: each once.
	seen := map[string]bool{}
	for _, b := range back {
		seen[strings.TrimPrefix(b.DedupKey, string(FreshnessRecovered)+":")] = true
	}
	out := map[string][]string{}
	for _, m := range missed {
		k := strings.TrimPrefix(m.DedupKey, string(FreshnessMissed)+":")
		if !seen[k] {
			seen[k] = true
			out[m.Asset] = append(out[m.Asset], k)
		}
	}
	return out, nil
}

// recovered records the partitions of f.Asset found late that have been
// promoted since.
func (s *Service) recovered(ctx context.Context, f Freshness, late []string, now time.Time) (int, error) {
	keys := make([]string, 0, len(late))
	for _, id := range late {
		if k, ok := strings.CutPrefix(id, f.Asset+":"); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	current, err := s.Store.PartitionCurrentList(ctx, f.Asset, keys)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range current {
		k, err := s.Record(ctx, Event{ID: "freshness_recovered:" + f.Asset + ":" + c.PartitionKey, Kind: FreshnessRecovered, Asset: f.Asset,
			Partitions: c.PartitionKey, At: now, Message: fmt.Sprintf("%s %s is promoted now (version %s), after missing its deadline", f.Asset, c.PartitionKey, c.Version)})
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// freshnessByAge records a MaxAge deadline on an unpartitioned asset
// missed, once per current version that grew too old (or, for an asset
// never promoted, once MaxAge after the daemon first looked), and each
// such miss recovered once a younger version is current. late are the
// misses not yet recovered.
func (s *Service) freshnessByAge(ctx context.Context, f Freshness, late []string, now time.Time) (int, error) {
	key := partitions.UnpartitionedKey
	current, err := s.Store.PartitionCurrentList(ctx, f.Asset, []string{key})
	if err != nil {
		return 0, err
	}
	version, promoted := "", time.Time{}
	if len(current) == 1 {
		version = current[0].Version
		if promoted, err = s.Store.PartitionPromotedAt(ctx, f.Asset, key); err != nil {
			return 0, err
		}
	}
	id := f.Asset + ":" + key + "@" + version
	if version != "" && now.Sub(promoted) <= f.MaxAge {
		// Young: every miss not yet recovered is.
		n := 0
		for _, l := range late {
			k, err := s.Record(ctx, Event{ID: string(FreshnessRecovered) + ":" + l, Kind: FreshnessRecovered, Asset: f.Asset, Partitions: key, At: now,
				Message: fmt.Sprintf("%s is fresh again: version %s was promoted at %s (%s)", f.Asset, version, promoted.UTC().Format(time.RFC3339), f)})
			n += k
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	if slices.Contains(late, id) {
		return 0, nil // alerted already
	}
	var due time.Time
	var msg string
	if version == "" {
		cursor := "alerts.freshness." + f.Asset
		first, ok, err := s.Store.CursorGet(ctx, cursor)
		if err != nil {
			return 0, err
		}
		if !ok {
			first = now.Unix()
			if err := s.Store.CursorSet(ctx, cursor, first); err != nil {
				return 0, err
			}
		}
		due = time.Unix(first, 0).Add(f.MaxAge)
		msg = fmt.Sprintf("%s has never been promoted, %s after the alert daemon first looked at %s", f.Asset, f.MaxAge, time.Unix(first, 0).UTC().Format(time.RFC3339))
	} else {
		due = promoted.Add(f.MaxAge)
		msg = fmt.Sprintf("%s is stale: its current version %s was promoted at %s (%s); %s late", f.Asset, version,
			promoted.UTC().Format(time.RFC3339), f, now.Sub(due).Round(time.Second))
	}
	if !now.After(due) {
		return 0, nil
	}
	return s.Record(ctx, Event{ID: string(FreshnessMissed) + ":" + id, Kind: FreshnessMissed, Asset: f.Asset, Partitions: key, At: due, Message: msg})
}

// Deliver sends the alerts that are due, at most Config.RatePerSink a
// second per sink; a failed delivery is retried with exponential backoff
// (5 s doubling to 1 h, with jitter). It returns how many were delivered.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	if err := s.defaults(); err != nil {
		return 0, err
	}
	now := s.Clock.Now()
	due, err := s.Store.AlertDueList(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	rate := s.Config.RatePerSink
	if rate <= 0 {
		rate = 1
	}
	spacing := time.Duration(float64(time.Second) / rate)
	s.mu.Lock()
	if s.nextFor == nil {
		s.nextFor = map[string]time.Time{}
	}
	s.mu.Unlock()
	n := 0
	for _, a := range due {
		sink, ok := s.Config.Sinks[a.Sink]
		if !ok {
			err := s.Store.AlertRetry(ctx, store.AlertRetryParams{ID: a.ID, NextAt: now.Add(time.Hour), Error: fmt.Sprintf("sink %q is not configured in this binary", a.Sink)})
			if err != nil {
				return n, err
			}
			continue
		}
		s.mu.Lock()
		next := s.nextFor[a.Sink]
		if now.Before(next) {
			s.mu.Unlock()
			continue // this sink's budget is spent: its alerts wait for the next call
		}
		s.nextFor[a.Sink] = now.Add(spacing)
		s.mu.Unlock()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := sink.Send(sctx, eventOf(a))
		cancel()
		if err == nil {
			if err := s.Store.AlertDelivered(ctx, a.ID, s.Clock.Now()); err != nil {
				return n, err
			}
			n++
			continue
		}
		backoff := min(time.Hour, 5*time.Second<<min(a.Attempts, 10))
		backoff = backoff/2 + time.Duration(s.Jitter()*float64(backoff/2))
		s.Logger.Warn("alert delivery failed; will retry", "sink", a.Sink, "alert", a.DedupKey, "attempt", a.Attempts+1, "retry_in", backoff, "error", err)
		if err := s.Store.AlertRetry(ctx, store.AlertRetryParams{ID: a.ID, NextAt: now.Add(backoff), Error: err.Error()}); err != nil {
			return n, err
		}
	}
	return n, nil
}

func eventOf(a store.Alert) Event {
	return Event{ID: a.DedupKey, Kind: Kind(a.Kind), Severity: Severity(a.Severity), Asset: a.Asset, Partitions: a.Partitions,
		RunID: a.RunID, Message: a.Message, At: a.At}
}

// Run detects and delivers every Every while it leads the alerts role,
// until ctx ends. Several services may share a store: one leads.
func (s *Service) Run(ctx context.Context) error {
	if err := s.defaults(); err != nil {
		return err
	}
	defer s.lead.Release(ctx, s.Store, s.Logger)
	for {
		if err := s.Step(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("alerts", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.Clock.After(s.Every):
		}
	}
}

// Step is one round of Run: take or renew the lead, then detect and
// deliver if leading.
func (s *Service) Step(ctx context.Context) error {
	if err := s.defaults(); err != nil {
		return err
	}
	s.lead.Role, s.lead.Holder, s.lead.TTL = LeaderRole, s.ID, s.LeaseTTL
	leading, err := s.lead.Acquire(ctx, s.Store, s.Clock.Now(), s.Logger)
	if err != nil || !leading {
		return err
	}
	_, derr := s.Detect(ctx)
	_, err = s.Deliver(ctx)
	return errors.Join(derr, err)
}

// Describe lists the sinks, rules and deadlines for people.
func (c *Config) Describe() []string {
	var out []string
	names := make([]string, 0, len(c.Sinks))
	for n := range c.Sinks {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out = append(out, fmt.Sprintf("sink %s: %s", n, c.Sinks[n]))
	}
	for _, r := range c.Rules {
		kinds := "all kinds"
		if len(r.Kinds) > 0 {
			ks := make([]string, len(r.Kinds))
			for i, k := range r.Kinds {
				ks[i] = string(k)
			}
			kinds = strings.Join(ks, ",")
		}
		sel, sev := r.Selection, r.MinSeverity
		if sel == "" {
			sel = "*"
		}
		if sev == "" {
			sev = Info
		}
		out = append(out, fmt.Sprintf("rule: %s of %s, %s and up -> %s", kinds, sel, sev, r.Sink))
	}
	for _, f := range c.Freshness {
		of := "each partition of " + f.Asset
		if f.MaxAge > 0 {
			of = f.Asset
		}
		out = append(out, fmt.Sprintf("freshness: %s %s", of, f))
	}
	return out
}
