// Package sensor starts runs when input arrives outside weir: objects
// under a blob prefix (BlobPrefix, any gocloud.dev/blob backend), rows
// whose cursor column advances in PostgreSQL (connectors/postgres), or any
// Source of your own.
//
// A sensor polls its source every Every (with ±10% jitter), from the
// cursor it keeps in the state store. What arrived is coalesced: the
// partitions it touched become one run of the sensor's selection (as
// ranges), and the cursor advances in that run's transaction, compare and
// set on the cursor the poll started from. So an arrival starts one run,
// whatever restarts, crashes or second daemons; a poll that fails moves
// nothing and is retried at the next evaluation. Every evaluation is a
// tick in the store (weir sensors ticks NAME): what it found, the run it
// started, or its error. The first evaluation only notes where the source
// is: what arrived before a sensor existed does not run.
package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/weir-dev/weir/clock"
	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/plan"
	"github.com/weir-dev/weir/scheduler"
	"github.com/weir-dev/weir/store"
)

// Source finds what arrived after a cursor.
type Source interface {
	// Poll returns the partitions that gained input after cursor ("" at
	// the first poll, whose Keys are ignored) and the cursor to poll from
	// next.
	Poll(ctx context.Context, cursor string) (Poll, error)
	// String describes the source for people, without secrets.
	String() string
}

// Poll is what a poll found.
type Poll struct {
	// Keys are the partition keys that gained input, each once.
	Keys []string
	// Arrivals counts what arrived (objects, rows).
	Arrivals int64
	// Cursor is where the next poll starts.
	Cursor string
}

// Sensor starts runs of Selection for the partitions whose input arrived.
type Sensor struct {
	// Name identifies the sensor and its cursor. Required: letters,
	// digits, '_', '-', '.'.
	Name string
	// Selection is what to materialize (the CLI's selection syntax); the
	// partitions are the keys the source reports, which must be
	// partitions of the selected assets. Required.
	Selection string
	// Every is how often the source is polled. Defaults to 30s.
	Every time.Duration
	// Source finds the new input. Required.
	Source Source
}

// Validate checks the sensor against the graph.
func (s *Sensor) Validate(g *lineage.Graph) error {
	if s.Name == "" || strings.IndexFunc(s.Name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
	}) >= 0 {
		return fmt.Errorf("sensor name %q: use letters, digits, '_', '-' and '.'", s.Name)
	}
	if s.Source == nil {
		return fmt.Errorf("sensor %s: Source is required", s.Name)
	}
	if s.Every < 0 {
		return fmt.Errorf("sensor %s: Every %s must be positive (0 for 30s)", s.Name, s.Every)
	}
	if s.Selection == "" {
		return fmt.Errorf("sensor %s: Selection is required", s.Name)
	}
	if g != nil {
		keys, err := g.Select(s.Selection)
		if err != nil {
			return fmt.Errorf("sensor %s: %w", s.Name, err)
		}
		if def := partitionsOf(g, keys); def == nil {
			return fmt.Errorf("sensor %s: selection %q has no partitioned asset for the keys its source reports", s.Name, s.Selection)
		}
	}
	return nil
}

// Interval is Every, or its default of 30s.
func (s *Sensor) Interval() time.Duration {
	if s.Every <= 0 {
		return 30 * time.Second
	}
	return s.Every
}

// partitionsOf is the definition of the first partitioned selected asset:
// the keys a sensor reports are checked against it.
func partitionsOf(g *lineage.Graph, keys []string) partitions.Definition {
	for _, k := range keys {
		if a, err := g.Asset(k); err == nil && a.Partitions != nil {
			return a.Partitions
		}
	}
	return nil
}

// LeaderRole is the role whose leader evaluates sensors.
const LeaderRole = "sensors"

// Daemon evaluates sensors while it leads the sensors role.
type Daemon struct {
	// Store is the state store. Required.
	Store store.Store
	// Graph holds the selected assets. Required.
	Graph *lineage.Graph
	// Sensors are the sensors; each is validated.
	Sensors []*Sensor
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// ID names this daemon as the leader. Defaults to "sensors HOST:PID".
	ID string
	// LeaseTTL is how long leadership lasts unrenewed. Defaults to 30s.
	LeaseTTL time.Duration
	// Jitter returns a number in [0, 1). Defaults to math/rand.
	Jitter func() float64
	// OnTick, if set, is called with each evaluation's tick and, when it
	// failed, when the sensor started failing (alerts: once per streak).
	// It must not block.
	OnTick func(t store.SensorTick, failingSince time.Time)

	next    map[string]time.Time
	failing map[string]time.Time
	lead    store.Leadership
}

func (d *Daemon) defaults() error {
	if d.Store == nil || d.Graph == nil {
		return errors.New("sensor daemon needs a Store and a Graph")
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.ID == "" {
		d.ID = "sensors " + scheduler.DefaultWorkerID()
	}
	if d.LeaseTTL <= 0 {
		d.LeaseTTL = 30 * time.Second
	}
	if d.Jitter == nil {
		d.Jitter = rand.Float64
	}
	if d.next == nil {
		d.next, d.failing = map[string]time.Time{}, map[string]time.Time{}
	}
	return nil
}

// Run evaluates each sensor when it is due while this daemon leads, until
// ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.defaults(); err != nil {
		return err
	}
	for _, s := range d.Sensors {
		if err := s.Validate(d.Graph); err != nil {
			return err
		}
	}
	defer d.lead.Release(ctx, d.Store, d.Logger)
	for {
		if _, err := d.Evaluate(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Error("sensors", "error", err)
		}
		wait := d.LeaseTTL / 3
		now := d.Clock.Now()
		for _, s := range d.Sensors {
			if n, ok := d.next[s.Name]; ok {
				wait = min(wait, n.Sub(now))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.Clock.After(max(wait, 0)):
		}
	}
}

// Evaluate takes or renews the lead and, leading, evaluates the sensors
// that are due. It returns their ticks.
func (d *Daemon) Evaluate(ctx context.Context) ([]store.SensorTick, error) {
	if err := d.defaults(); err != nil {
		return nil, err
	}
	d.lead.Role, d.lead.Holder, d.lead.TTL = LeaderRole, d.ID, d.LeaseTTL
	leading, err := d.lead.Acquire(ctx, d.Store, d.Clock.Now(), d.Logger)
	if err != nil || !leading {
		return nil, err
	}
	var ticks []store.SensorTick
	var errs []error
	for _, s := range d.Sensors {
		now := d.Clock.Now()
		if n, ok := d.next[s.Name]; ok && now.Before(n) {
			continue
		}
		// ±10% jitter, so sensors polling one system spread out.
		e := s.Interval()
		d.next[s.Name] = now.Add(e - e/10 + time.Duration(d.Jitter()*float64(e/5)))
		t, err := d.EvaluateOne(ctx, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("sensor %s: %w", s.Name, err))
			continue
		}
		ticks = append(ticks, t)
	}
	return ticks, errors.Join(errs...)
}

// EvaluateOne polls s once and starts the run its new input needs. A
// failing poll is recorded as the tick's error and returned in it, not as
// an error; the error is the store's.
func (d *Daemon) EvaluateOne(ctx context.Context, s *Sensor) (store.SensorTick, error) {
	if err := d.defaults(); err != nil {
		return store.SensorTick{}, err
	}
	now := d.Clock.Now()
	cursor, err := d.Store.SensorCursor(ctx, s.Name)
	if err != nil {
		return store.SensorTick{}, err
	}
	t := store.SensorTick{Sensor: s.Name, EvaluatedAt: now, CursorFrom: cursor, CursorTo: cursor}
	p, perr := s.Source.Poll(ctx, cursor)
	if perr != nil {
		t.Error = perr.Error()
		return d.record(ctx, t)
	}
	t.CursorTo, t.Arrivals = p.Cursor, p.Arrivals
	if cursor == "" {
		return d.record(ctx, t) // the first poll notes where the source is
	}
	keys, _ := d.Graph.Select(s.Selection)
	def := partitionsOf(d.Graph, keys)
	var idx []int64
	var ignored []string
	for _, k := range p.Keys {
		i, err := def.Index(k)
		if err != nil || i >= def.Len(now) {
			ignored = append(ignored, k)
			continue
		}
		idx = append(idx, i)
	}
	if len(ignored) > 0 {
		d.Logger.Warn("sensor input for keys that are not partitions (ignored)", "sensor", s.Name, "keys", ignored, "partitions", def.String())
	}
	if len(idx) == 0 {
		return d.record(ctx, t)
	}
	t.Partitions = partitions.Format(def, partitions.Of(idx...))
	pl, err := (&plan.Planner{Graph: d.Graph, Status: d.Store}).Plan(ctx, plan.Request{Selection: s.Selection, Partitions: t.Partitions, Reprocess: plan.ReprocessAll}, now)
	if err == nil && pl.TaskCount() == 0 {
		return d.record(ctx, t)
	}
	var g *plan.TaskGraph
	if err == nil {
		g, err = pl.Expand()
	}
	if err != nil {
		t.CursorTo, t.Error = cursor, "plan: "+err.Error()
		return d.record(ctx, t)
	}
	run, _, err := scheduler.Enqueue(ctx, d.Store, g, scheduler.EnqueueOpts{Kind: "sensor", CreatedBy: "sensor " + s.Name,
		Priority: store.PriorityHigh, Now: now, Sensor: &t})
	if errors.Is(err, store.ErrSensorMoved) {
		d.Logger.Info("another daemon evaluated the sensor first", "sensor", s.Name)
		return t, nil
	}
	if err != nil {
		return t, err
	}
	t.RunID = run.ID
	d.Logger.Info("sensor started a run", "sensor", s.Name, "run", run.ID, "partitions", t.Partitions, "arrivals", t.Arrivals)
	d.observe(t)
	return t, nil
}

func (d *Daemon) record(ctx context.Context, t store.SensorTick) (store.SensorTick, error) {
	if err := d.Store.SensorTickRecord(ctx, t); err != nil {
		if errors.Is(err, store.ErrSensorMoved) {
			return t, nil
		}
		return t, err
	}
	if t.Error != "" {
		d.Logger.Warn("sensor poll failed", "sensor", t.Sensor, "error", t.Error)
	}
	d.observe(t)
	return t, nil
}

func (d *Daemon) observe(t store.SensorTick) {
	since := time.Time{}
	if t.Error != "" {
		if _, ok := d.failing[t.Sensor]; !ok {
			d.failing[t.Sensor] = t.EvaluatedAt
		}
		since = d.failing[t.Sensor]
	} else {
		delete(d.failing, t.Sensor)
	}
	if d.OnTick != nil {
		d.OnTick(t, since)
	}
}

// Named returns the sensor of ss called name, nil if none is.
func Named(ss []*Sensor, name string) *Sensor {
	for _, s := range ss {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Names returns the sensors' names, sorted.
func Names(ss []*Sensor) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	slices.Sort(out)
	return out
}
