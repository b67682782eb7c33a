package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// Daemon fires the runs of schedules when their ticks come, recording each
// tick in the state store with the run it fires (or why it did not fire),
// so that any number of restarts fire each tick at most once.
//
// Any number of daemons may share a store: one leads (a lease in the store,
// renewed every third of LeaseTTL) and evaluates; the others wait, and one
// of them takes over once the leader's lease expires. A tick is recorded
// under its (schedule, time) key whoever fires it, so even two daemons that
// both believe they lead fire it once.
type Daemon struct {
	// Store is the state store. Required.
	Store store.Store
	// Graph holds the assets the schedules select. Required.
	Graph *lineage.Graph
	// Schedules are the schedules; Validate is called on each.
	Schedules []*Schedule
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// MaxWait caps how long Run sleeps between evaluations, so a schedule
	// paused or resumed from another process is noticed. Defaults to 1
	// minute.
	MaxWait time.Duration
	// ID names this daemon as the leader. Defaults to "daemon HOST:PID".
	ID string
	// LeaseTTL is how long leadership lasts unrenewed. Defaults to 30s.
	LeaseTTL time.Duration
	// EagerEvery is how often at most Run evaluates after promotions
	// (eager assets): the first promotion after a quiet spell is evaluated
	// at once, the ones that follow it within EagerEvery together, so an
	// upstream backfill starts at most one run per eager asset per
	// EagerEvery. Defaults to 1s.
	EagerEvery time.Duration
	// OnFired, if set, is called by Run with what each evaluation did
	// with each schedule's due ticks (metrics: ticks fired and skipped,
	// how late). It must not block.
	OnFired func(Fired)

	lead store.Leadership
}

// LeaderRole is the role schedule daemons lead (store.LeaderParams).
const LeaderRole = "schedules"

// Fired is what one evaluation did with one schedule's due ticks.
type Fired struct {
	Schedule string
	// At is when the ticks were evaluated: a tick's lateness is At minus
	// the tick.
	At time.Time
	// Run is the run the ticks in Ticks fired; nil if none fired.
	Run   *store.Run
	Ticks []time.Time
	// Skipped are due ticks that did not fire, and Reason why.
	Skipped []time.Time
	Reason  string
}

func (d *Daemon) defaults() error {
	if d.Store == nil || d.Graph == nil {
		return errors.New("schedule daemon needs a Store and a Graph")
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxWait <= 0 {
		d.MaxWait = time.Minute
	}
	if d.ID == "" {
		d.ID = "daemon " + scheduler.DefaultWorkerID()
	}
	if d.LeaseTTL <= 0 {
		d.LeaseTTL = 30 * time.Second
	}
	if d.EagerEvery <= 0 {
		d.EagerEvery = time.Second
	}
	names := map[string]bool{}
	for _, s := range d.Schedules {
		if err := s.Validate(); err != nil {
			return err
		}
		if names[s.Name] {
			return fmt.Errorf("%w: two schedules are named %q", ErrInvalid, s.Name)
		}
		names[s.Name] = true
		if _, err := d.Graph.Select(s.Selection); err != nil {
			return fmt.Errorf("%w %s: selection %q: %v", ErrInvalid, s.Name, s.Selection, err)
		}
	}
	return nil
}

// Run evaluates the schedules until ctx ends: at each tick, at least every
// a third of LeaseTTL (renewing the lease), and when tasks end (promotions,
// for eager assets; at most every EagerEvery).
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.defaults(); err != nil {
		return err
	}
	// Registered beside the workers, so `weir workers list` shows the
	// daemons (concurrency 0: they run no task themselves).
	host, _ := os.Hostname()
	if err := d.Store.WorkerRegister(ctx, store.WorkerRegisterParams{ID: d.ID, Host: host, PID: os.Getpid(), LeaseTimeout: d.LeaseTTL,
		At: d.Clock.Now()}); err != nil {
		return err
	}
	defer func() {
		if err := d.Store.WorkerStop(context.WithoutCancel(ctx), d.ID, d.Clock.Now()); err != nil {
			d.Logger.Error("record the daemon's stop", "error", err)
		}
	}()
	// Stepping down lets a standby lead at once.
	defer d.lead.Release(ctx, d.Store, d.Logger)
	for {
		wake := d.Store.TaskWake()
		last := d.Clock.Now()
		fired, err := d.Evaluate(ctx)
		if err != nil && ctx.Err() == nil {
			d.Logger.Error("evaluate schedules", "error", err)
		}
		if d.OnFired != nil {
			for _, f := range fired {
				d.OnFired(f)
			}
		}
		if _, err := d.Store.TaskHeartbeat(ctx, store.TaskHeartbeatParams{Worker: d.ID, Now: d.Clock.Now(), LeaseFor: d.LeaseTTL}); err != nil && ctx.Err() == nil {
			d.Logger.Error("heartbeat", "error", err)
		}
		now := d.Clock.Now()
		wait := min(d.MaxWait, d.LeaseTTL/3)
		for _, s := range d.Schedules {
			if next := s.Next(now); !next.IsZero() {
				wait = min(wait, next.Sub(now))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.Clock.After(max(wait, 0)):
		case <-wake:
			// The first promotion after a quiet spell at once, a burst's
			// together.
			if rest := last.Add(d.EagerEvery).Sub(d.Clock.Now()); rest > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-d.Clock.After(rest):
				}
			}
		}
	}
}

// Evaluate fires the ticks that are due now, per schedule, and records the
// ones it skips. An error with one schedule does not stop the others; the
// errors are joined.
func (d *Daemon) Evaluate(ctx context.Context) ([]Fired, error) {
	if err := d.defaults(); err != nil {
		return nil, err
	}
	d.lead.Role, d.lead.Holder, d.lead.TTL = LeaderRole, d.ID, d.LeaseTTL
	leading, err := d.lead.Acquire(ctx, d.Store, d.Clock.Now(), d.Logger)
	if err != nil || !leading {
		return nil, err
	}
	var out []Fired
	var errs []error
	for _, s := range d.Schedules {
		f, err := d.evaluate(ctx, s, d.Clock.Now())
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %s: %w", s.Name, err))
		}
		if f != nil {
			out = append(out, *f)
		}
	}
	fired, err := d.EvaluateEager(ctx)
	out = append(out, fired...)
	return out, errors.Join(append(errs, err)...)
}

func (d *Daemon) evaluate(ctx context.Context, s *Schedule, now time.Time) (*Fired, error) {
	st, err := d.Store.ScheduleGet(ctx, s.Name, now)
	if err != nil {
		return nil, err
	}
	last, err := d.Store.TickList(ctx, store.TickListParams{Schedule: s.Name, Limit: 1})
	if err != nil {
		return nil, err
	}
	from := st.Since
	if len(last) > 0 && last[0].ScheduledAt.After(from) {
		from = last[0].ScheduledAt
	}
	due := s.Ticks(from, now)
	if len(due) == 0 {
		return nil, nil
	}
	f := &Fired{Schedule: s.Name, At: now}
	var onTime, missed []time.Time
	for _, t := range due {
		if now.Sub(t) > s.LateAfter() {
			missed = append(missed, t)
		} else {
			onTime = append(onTime, t)
		}
	}
	switch {
	case st.Paused:
		f.Skipped, f.Reason = due, "schedule paused"
	case s.CatchupPolicy() == CatchupAll:
		f.Ticks = due
	case s.CatchupPolicy() == CatchupLatest && len(onTime) == 0:
		f.Ticks, f.Skipped = due[len(due)-1:], missed[:len(missed)-1]
		f.Reason = "missed while no daemon ran; catch-up latest fired only the newest"
	default:
		f.Ticks, f.Skipped = onTime, missed
		f.Reason = fmt.Sprintf("missed while no daemon ran; catch-up %s", s.CatchupPolicy())
	}
	// Skipped ticks first: a crash before the run is stored then leaves
	// the ticks to fire as the newest recorded, and they fire next time.
	if err := d.skip(ctx, s, f.Skipped, now, f.Reason); err != nil {
		return f, err
	}
	if len(f.Ticks) == 0 {
		return f, nil
	}
	run, err := d.fire(ctx, s, f.Ticks, now)
	switch {
	case errors.Is(err, store.ErrTickExists):
		d.Logger.Info("tick fired already (another daemon, or before a restart)", "schedule", s.Name, "tick", f.Ticks[len(f.Ticks)-1])
		f.Ticks = nil
		return f, nil
	case errors.Is(err, errNothingToRun):
		f.Skipped, f.Reason, f.Ticks = append(f.Skipped, f.Ticks...), err.Error(), nil
		return f, nil
	case err != nil:
		return f, err
	}
	f.Run = run
	d.Logger.Info("schedule fired", "schedule", s.Name, "run", run.ID, "ticks", len(f.Ticks), "partitions", run.Partitions)
	return f, nil
}

var errNothingToRun = errors.New("nothing to run: the tick's partitions are fresh")

func (d *Daemon) skip(ctx context.Context, s *Schedule, ticks []time.Time, now time.Time, reason string) error {
	if len(ticks) == 0 {
		return nil
	}
	rows := make([]store.Tick, len(ticks))
	for i, t := range ticks {
		rows[i] = store.Tick{Schedule: s.Name, ScheduledAt: t, FiredAt: now, Skipped: reason}
	}
	return d.Store.TickSkip(ctx, rows)
}

// fire plans and stores one run over the partitions of ticks, recording the
// ticks with it.
func (d *Daemon) fire(ctx context.Context, s *Schedule, ticks []time.Time, now time.Time) (*store.Run, error) {
	var parts []string
	for _, t := range ticks {
		p, err := d.Target(s, t)
		if err != nil {
			return nil, err
		}
		if p != "" && !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	pl, err := (&plan.Planner{Graph: d.Graph, Status: d.Store}).Plan(ctx, plan.Request{Selection: s.Selection, Partitions: strings.Join(parts, ",")}, now)
	if err != nil {
		return nil, err
	}
	if pl.TaskCount() == 0 {
		if err := d.skip(ctx, s, ticks, now, errNothingToRun.Error()); err != nil {
			return nil, err
		}
		return nil, errNothingToRun
	}
	g, err := pl.Expand()
	if err != nil {
		return nil, err
	}
	priority := store.PriorityHigh
	if s.Priority != nil {
		priority = *s.Priority
	}
	rows := make([]store.Tick, len(ticks))
	for i, t := range ticks {
		rows[i] = store.Tick{Schedule: s.Name, ScheduledAt: t, FiredAt: now}
	}
	run, _, err := scheduler.Enqueue(ctx, d.Store, g, scheduler.EnqueueOpts{Kind: "schedule", CreatedBy: "schedule " + s.Name,
		Priority: priority, Pool: s.Pool, Throttle: store.Throttle{MaxConcurrent: s.MaxConcurrent}, Now: now, Ticks: rows})
	return run, err
}

// windows is a time-partitioned definition: its partitions close one after
// another.
type windows interface {
	Len(now time.Time) int64
	Key(i int64) string
}

// Target returns the partitions (compact form) the tick t of s targets:
// s.Partitions(t) if set, else the partition of the selected
// time-partitioned assets that closed last at t ("" when none is
// partitioned).
func (d *Daemon) Target(s *Schedule, t time.Time) (string, error) {
	if s.Partitions != nil {
		return s.Partitions(t)
	}
	keys, err := d.Graph.Select(s.Selection)
	if err != nil {
		return "", err
	}
	target, from := "", ""
	for _, k := range keys {
		a, err := d.Graph.Asset(k)
		if err != nil {
			return "", err
		}
		if a.Partitions == nil {
			continue // unpartitioned: runs whatever the tick
		}
		def := a.Partitions
		w, ok := def.(windows)
		if !ok {
			return "", fmt.Errorf("asset %s's partitions (%s) are not time windows: give the schedule a Partitions function", k, def)
		}
		n := w.Len(t)
		if n == 0 {
			return "", fmt.Errorf("at %s no partition of %s (%s) has closed yet", t.UTC().Format(time.RFC3339), k, def)
		}
		key := w.Key(n - 1)
		switch {
		case target == "":
			target, from = key, k
		case key != target:
			return "", fmt.Errorf("the selected assets close different partitions at %s (%s: %s, %s: %s): give the schedule a Partitions function",
				t.UTC().Format(time.RFC3339), from, target, k, key)
		}
	}
	return target, nil
}
