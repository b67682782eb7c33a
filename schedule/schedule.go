// Package schedule fires runs on cron schedules: each schedule names a
// selection of assets, a cron expression (github.com/robfig/cron/v3: five
// fields or a descriptor such as @daily) evaluated in an explicit IANA zone,
// which partitions a tick targets, and what to do with ticks missed while no
// daemon ran. Ticks are durable: a Daemon records each one in the state
// store in the same transaction as the run it creates, so a restart neither
// fires a tick twice nor forgets one.
//
// Wall-clock times that a zone skips or repeats (daylight saving) fire once:
// a tick whose time does not exist that day (02:30 on the spring-forward day
// in America/New_York) fires when the clock jumps over it (03:00 EDT); a
// tick whose time exists twice (01:30 on the fall-back day) fires at its
// first occurrence.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Catchup says what a daemon does with ticks it missed (older than the
// schedule's Late when it finally evaluates them: no daemon ran, or the
// schedule was paused).
type Catchup string

// Catch-up policies.
const (
	// CatchupLatest fires the newest missed tick and records the others
	// as skipped. The default.
	CatchupLatest Catchup = "latest"
	// CatchupAll fires every missed tick, as one run over all their
	// partitions (throttled by the schedule's MaxConcurrent).
	CatchupAll Catchup = "all"
	// CatchupSkip records missed ticks as skipped; the next tick on time
	// fires.
	CatchupSkip Catchup = "skip"
)

// Schedule fires runs of a selection of assets on a cron schedule.
type Schedule struct {
	// Name identifies the schedule in the state store and the CLI:
	// letters, digits, '_', '-' and '.'.
	Name string
	// Selection selects the assets, as `weir materialize --select` does.
	Selection string
	// Cron is five fields (minute hour day-of-month month day-of-week) or
	// a descriptor (@hourly, @daily, @weekly, @monthly, @yearly).
	Cron string
	// Zone is the IANA zone the cron expression is read in. Required: a
	// schedule's "02:00" means nothing without one.
	Zone string
	// Partitions, if set, returns the partitions (compact form) a tick
	// targets. By default a tick targets the partition of the selected
	// time-partitioned assets that closed last at the tick.
	Partitions func(tick time.Time) (string, error)
	// Catchup defaults to CatchupLatest.
	Catchup Catchup
	// Late is how old a tick may be when a daemon first sees it and still
	// count as on time. Defaults to 10 minutes.
	Late time.Duration
	// Priority of the runs; defaults to store.PriorityHigh (10).
	Priority *int
	// Pool, if set, puts every task of the runs in this pool.
	Pool string
	// MaxConcurrent caps the running tasks of each run; 0 means no cap.
	MaxConcurrent int

	sched cron.Schedule
	loc   *time.Location
}

// parser reads five fields and descriptors, as crontab(5) does.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ErrInvalid is wrapped by the errors Validate returns.
var ErrInvalid = errors.New("invalid schedule")

// Validate checks the schedule: its name, cron expression, zone and
// catch-up policy, each error naming the value and what is allowed. The
// schedule is ready to use once it returns nil.
func (s *Schedule) Validate() error {
	if s.Name == "" || strings.IndexFunc(s.Name, func(r rune) bool {
		return !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return fmt.Errorf("%w: name %q: use letters, digits, '_', '-' and '.'", ErrInvalid, s.Name)
	}
	if strings.TrimSpace(s.Selection) == "" {
		return fmt.Errorf("%w %s: no selection (assets to run, as --select takes them)", ErrInvalid, s.Name)
	}
	if strings.HasPrefix(strings.TrimSpace(s.Cron), "@every") || strings.HasPrefix(strings.TrimSpace(s.Cron), "TZ=") ||
		strings.HasPrefix(strings.TrimSpace(s.Cron), "CRON_TZ=") {
		return fmt.Errorf("%w %s: cron %q: give five fields or @hourly, @daily, @weekly, @monthly, @yearly (the zone goes in Zone)", ErrInvalid, s.Name, s.Cron)
	}
	sched, err := parser.Parse(s.Cron)
	if err != nil {
		return fmt.Errorf("%w %s: cron %q: %v; want five fields (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\") or @hourly, @daily, @weekly, @monthly, @yearly",
			ErrInvalid, s.Name, s.Cron, err)
	}
	if s.Zone == "" {
		return fmt.Errorf("%w %s: no zone: give an IANA zone such as \"Europe/Berlin\" or \"UTC\"", ErrInvalid, s.Name)
	}
	loc, err := time.LoadLocation(s.Zone)
	if err != nil || s.Zone == "Local" {
		return fmt.Errorf("%w %s: zone %q is not an IANA zone such as \"Europe/Berlin\" or \"UTC\"", ErrInvalid, s.Name, s.Zone)
	}
	switch s.Catchup {
	case "", CatchupLatest, CatchupAll, CatchupSkip:
	default:
		return fmt.Errorf("%w %s: catch-up %q is not one of latest, all, skip", ErrInvalid, s.Name, s.Catchup)
	}
	if s.Late < 0 || s.MaxConcurrent < 0 {
		return fmt.Errorf("%w %s: late %s and max concurrent %d must not be negative", ErrInvalid, s.Name, s.Late, s.MaxConcurrent)
	}
	s.sched, s.loc = sched, loc
	return nil
}

// CatchupPolicy returns the catch-up policy, defaulted.
func (s *Schedule) CatchupPolicy() Catchup {
	if s.Catchup == "" {
		return CatchupLatest
	}
	return s.Catchup
}

// LateAfter returns Late, defaulted.
func (s *Schedule) LateAfter() time.Duration {
	if s.Late == 0 {
		return 10 * time.Minute
	}
	return s.Late
}

// Location returns the schedule's zone (Validate first).
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first tick strictly after t.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.sched == nil {
		panic("schedule: Next before Validate")
	}
	wall := floating(t.In(s.loc))
	for {
		wall = s.sched.Next(wall)
		if wall.IsZero() {
			return time.Time{} // never again (a 30 February, say)
		}
		if tick := instant(wall, s.loc); tick.After(t) {
			return tick
		}
		// A wall time that came round again (the repeated hour of a
		// fall-back day) at an instant already past.
	}
}

// Ticks returns the ticks in (after, upTo], oldest first.
func (s *Schedule) Ticks(after, upTo time.Time) []time.Time {
	var out []time.Time
	for t := s.Next(after); !t.IsZero() && !t.After(upTo); t = s.Next(t) {
		out = append(out, t)
	}
	return out
}

// floating returns t's wall clock as the same fields in UTC, which has no
// daylight saving: cron matches wall times.
func floating(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant returns the instant at which loc's wall clock first shows wall (a
// floating time): its first occurrence if the zone repeats it, the moment
// the clock jumps over it if the zone skips it.
func instant(wall time.Time, loc *time.Location) time.Time {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
	got := floating(t.In(loc))
	start, end := t.ZoneBounds()
	switch {
	case got.Equal(wall):
		// An earlier occurrence, in the zone period before this one?
		if !start.IsZero() {
			_, off := start.Add(-time.Nanosecond).Zone()
			earlier := wall.Add(-time.Duration(off) * time.Second)
			if earlier.Before(start) && floating(earlier.In(loc)).Equal(wall) {
				return earlier
			}
		}
		return t
	case got.After(wall):
		// The clock jumped over wall: t lies after the jump, which is
		// where its zone period starts.
		return start
	default:
		return end
	}
}
