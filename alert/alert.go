// Package alert tells people when a pipeline needs them: a run failed, a
// task failed for good, a backfill's breaker tripped or it finished, a
// partition missed its freshness deadline (and later recovered), a schedule
// skipped a tick, a sensor's polls started failing, a worker was lost,
// weir verify found altered files. Events are routed by rules (asset selection, kinds,
// severity) to sinks: a JSON webhook signed with HMAC-SHA256, a Slack
// incoming webhook, or a command reading the event on stdin.
//
// Delivery goes through an outbox in the state store (store.Outbox): an
// event is recorded once per sink under a dedup key, then the daemon that
// leads the "alerts" role delivers it, retrying with backoff and at most
// Config.RatePerSink a second per sink. An alert survives restarts and
// failover, a sink that is down delays nothing but its own alerts, and a
// late asset alerts once when it becomes late and once when it recovers.
// Delivery is at least once: a daemon killed after a sink accepted an
// alert but before the store recorded it sends it again, with the same
// Weir-Event-Id header for the receiver to drop.
package alert

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/weir-dev/weir/lineage"
	"github.com/weir-dev/weir/partitions"
)

// Kind is what happened.
type Kind string

// The kinds of events.
const (
	// RunFailed: a run ended failed.
	RunFailed Kind = "run_failed"
	// TaskFailed: a task failed after its last attempt (not per retry).
	TaskFailed Kind = "task_failed"
	// BreakerTripped: a backfill's circuit breaker stopped it.
	BreakerTripped Kind = "breaker_tripped"
	// BackfillFinished: a backfill ended (succeeded, failed or cancelled).
	BackfillFinished Kind = "backfill_finished"
	// FreshnessMissed: a partition was not promoted by its deadline.
	FreshnessMissed Kind = "freshness_missed"
	// FreshnessRecovered: a partition that missed its deadline was
	// promoted.
	FreshnessRecovered Kind = "freshness_recovered"
	// TickSkipped: a schedule's tick did not fire.
	TickSkipped Kind = "tick_skipped"
	// SensorFailed: a sensor's poll failed (once per streak of failures).
	SensorFailed Kind = "sensor_failed"
	// WorkerLost: a worker stopped heartbeating without saying it stopped.
	WorkerLost Kind = "worker_lost"
	// VerifyMismatch: weir verify found a promoted partition whose files
	// are not what was promoted.
	VerifyMismatch Kind = "verify_mismatch"
	// Test: weir alerts test.
	Test Kind = "test"
)

// Kinds are every kind, in the order docs list them.
var Kinds = []Kind{RunFailed, TaskFailed, BreakerTripped, BackfillFinished, FreshnessMissed, FreshnessRecovered, TickSkipped, SensorFailed, WorkerLost, VerifyMismatch, Test}

// Severity says how urgent an event is.
type Severity string

// The severities, least urgent first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

func (s Severity) rank() int { return slices.Index([]Severity{Info, Warning, Critical}, s) }

// DefaultSeverity is a kind's severity.
func DefaultSeverity(k Kind) Severity {
	switch k {
	case RunFailed, TaskFailed, BreakerTripped, FreshnessMissed, VerifyMismatch:
		return Critical
	case TickSkipped, SensorFailed, WorkerLost:
		return Warning
	}
	return Info
}

// Event is one thing to tell someone.
type Event struct {
	// ID identifies the event: an event recorded twice is delivered once.
	// Receivers see it as the Weir-Event-Id header and "id".
	ID       string   `json:"id"`
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	Asset    string   `json:"asset,omitempty"`
	// Assets are every asset the event is about (a run's), for routing.
	Assets     []string  `json:"-"`
	Partitions string    `json:"partitions,omitempty"`
	RunID      int64     `json:"run_id,omitempty"`
	Message    string    `json:"message"`
	At         time.Time `json:"at"`
}

// Rule routes events to a sink.
type Rule struct {
	// Sink names one of Config.Sinks. Required.
	Sink string
	// Selection keeps events about the selected assets (the CLI's
	// selection syntax: "daily_revenue+", "group:finance"). "" keeps all,
	// events about no asset included.
	Selection string
	// Kinds keeps these kinds. Empty keeps all.
	Kinds []Kind
	// MinSeverity keeps events at least this urgent. Defaults to info.
	MinSeverity Severity
}

// Freshness is a deadline on an asset, in one of three forms. On each
// partition of an asset partitioned by time: promoted within Within after
// its time window closes, or by the wall-clock time By in Zone that first
// follows the close ("06:00" in Europe/Berlin: yesterday's partition by
// 06:00 Berlin time this morning, whatever the partitions' own zone). On
// an unpartitioned asset: its current version no older than MaxAge (a
// table refreshed at least every 6 hours).
type Freshness struct {
	// Asset is the asset's key.
	Asset string
	// Within is how long after a partition's window closes it must be
	// promoted. Set Within, By and Zone, or MaxAge.
	Within time.Duration
	// By is a time of day, "15:04", and Zone its IANA time zone.
	By, Zone string
	// MaxAge is how old an unpartitioned asset's current version may
	// get, from its promotion, before it is late.
	MaxAge time.Duration
}

// Deadline returns when a partition whose window ends at end is due.
func (f Freshness) Deadline(end time.Time) time.Time {
	if f.By == "" {
		return end.Add(f.Within)
	}
	loc, err := time.LoadLocation(f.Zone)
	at, perr := time.Parse("15:04", f.By)
	if err != nil || perr != nil {
		return time.Time{} // refused by Validate
	}
	local := end.In(loc)
	d := time.Date(local.Year(), local.Month(), local.Day(), at.Hour(), at.Minute(), 0, 0, loc)
	if d.Before(end) {
		d = time.Date(local.Year(), local.Month(), local.Day()+1, at.Hour(), at.Minute(), 0, 0, loc)
	}
	return d
}

// String says what the deadline is, for people.
func (f Freshness) String() string {
	if f.MaxAge != 0 {
		return "promoted at most " + f.MaxAge.String() + " ago"
	}
	if f.By != "" {
		return "promoted by " + f.By + " " + f.Zone + " after the window closes"
	}
	return "promoted within " + f.Within.String() + " after the window closes"
}

// due returns how many of def's partitions are due at now: deadlines
// rise with the partitions, so the due ones are a prefix.
func (f Freshness) due(tw partitions.Windowed, now time.Time) int64 {
	n := tw.Len(now)
	return int64(sort.Search(int(n), func(i int) bool {
		_, end := tw.Window(int64(i))
		return f.Deadline(end).After(now)
	}))
}

func (f Freshness) validate() error {
	set := 0
	for _, on := range []bool{f.Within != 0, f.By != "", f.MaxAge != 0} {
		if on {
			set++
		}
	}
	switch {
	case set > 1:
		return fmt.Errorf("freshness deadline of %q: set one of Within, By (with Zone) and MaxAge", f.Asset)
	case f.MaxAge < 0:
		return fmt.Errorf("freshness deadline of %q: MaxAge %s must be positive", f.Asset, f.MaxAge)
	case f.MaxAge > 0:
		return nil
	case f.By == "" && f.Within <= 0:
		return fmt.Errorf("freshness deadline of %q: Within %s must be positive (a partition cannot be due before its window closes), or set By and Zone, or MaxAge", f.Asset, f.Within)
	case f.By != "":
		if _, err := time.Parse("15:04", f.By); err != nil {
			return fmt.Errorf("freshness deadline of %q: By %q is not a time of day like 06:00", f.Asset, f.By)
		}
		if f.Zone == "" {
			return fmt.Errorf("freshness deadline of %q: By %s needs a Zone, e.g. Europe/Berlin", f.Asset, f.By)
		}
		if _, err := time.LoadLocation(f.Zone); err != nil {
			return fmt.Errorf("freshness deadline of %q: Zone %q is not an IANA time zone like Europe/Berlin", f.Asset, f.Zone)
		}
	}
	return nil
}

// Config is what a binary alerts on and where.
type Config struct {
	// Sinks are where alerts go, by name.
	Sinks map[string]Sink
	// Rules route events to sinks; an event goes to every sink one of
	// them matches, once.
	Rules []Rule
	// Freshness are the deadlines the daemon watches.
	Freshness []Freshness
	// RatePerSink caps deliveries per second to each sink. Defaults to 1.
	RatePerSink float64
	// Every is how often the daemon looks for events and delivers.
	// Defaults to 10s.
	Every time.Duration
}

// Validate checks the configuration against the asset graph: sinks that
// exist and can be reached in principle (an http(s) URL, a command),
// kinds and severities that exist, selections that parse, deadlines on
// time-window assets, after their partitions close.
func (c *Config) Validate(g *lineage.Graph) error {
	var errs []error
	names := make([]string, 0, len(c.Sinks))
	for name, s := range c.Sinks {
		names = append(names, name)
		if name == "" || strings.ContainsAny(name, " \t\n") {
			errs = append(errs, fmt.Errorf("alert sink name %q must be a non-empty word", name))
		}
		if s == nil {
			errs = append(errs, fmt.Errorf("alert sink %q is nil", name))
			continue
		}
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("alert sink %q: %w", name, err))
		}
	}
	slices.Sort(names)
	for i, r := range c.Rules {
		if _, ok := c.Sinks[r.Sink]; !ok {
			errs = append(errs, fmt.Errorf("alert rule %d: sink %q is not one of the sinks %q", i+1, r.Sink, names))
		}
		for _, k := range r.Kinds {
			if !slices.Contains(Kinds, k) {
				errs = append(errs, fmt.Errorf("alert rule %d: kind %q is not one of %q", i+1, k, Kinds))
			}
		}
		if r.MinSeverity != "" && r.MinSeverity.rank() < 0 {
			errs = append(errs, fmt.Errorf("alert rule %d: severity %q is not one of info, warning, critical", i+1, r.MinSeverity))
		}
		if r.Selection != "" && g != nil {
			if _, err := g.Select(r.Selection); err != nil {
				errs = append(errs, fmt.Errorf("alert rule %d: %w", i+1, err))
			}
		}
	}
	if c.RatePerSink < 0 || c.RatePerSink != c.RatePerSink {
		errs = append(errs, fmt.Errorf("alert RatePerSink %v must be a positive number of deliveries a second (0 for 1)", c.RatePerSink))
	}
	for _, f := range c.Freshness {
		if err := f.validate(); err != nil {
			errs = append(errs, err)
		}
		if g == nil {
			continue
		}
		a, err := g.Asset(f.Asset)
		if err != nil {
			errs = append(errs, fmt.Errorf("freshness deadline: %w", err))
			continue
		}
		_, windowed := a.PartitionsDef().(partitions.Windowed)
		switch {
		case f.MaxAge != 0 && !partitions.IsUnpartitioned(a.PartitionsDef()):
			errs = append(errs, fmt.Errorf("freshness deadline of %q: MaxAge is for unpartitioned assets; give a partitioned one Within or By", f.Asset))
		case f.MaxAge == 0 && !windowed:
			errs = append(errs, fmt.Errorf("freshness deadline of %q: its partitions are not time windows, so they have no time to be due by (MaxAge suits an unpartitioned asset)", f.Asset))
		}
	}
	return errors.Join(errs...)
}

// route returns the sinks that take e, sorted, each once.
func (c *Config) route(g *lineage.Graph, e Event) []string {
	var out []string
	for _, r := range c.Rules {
		if slices.Contains(out, r.Sink) {
			continue
		}
		if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, e.Kind) {
			continue
		}
		if min := r.MinSeverity; min != "" && e.Severity.rank() < min.rank() {
			continue
		}
		if r.Selection != "" {
			sel, err := g.Select(r.Selection)
			if err != nil || !slices.ContainsFunc(e.assets(), func(a string) bool { return slices.Contains(sel, a) }) {
				continue
			}
		}
		out = append(out, r.Sink)
	}
	slices.Sort(out)
	return out
}

func (e Event) assets() []string {
	if e.Asset != "" && !slices.Contains(e.Assets, e.Asset) {
		return append(slices.Clone(e.Assets), e.Asset)
	}
	return e.Assets
}
