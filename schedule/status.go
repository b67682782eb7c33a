package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/weir-dev/weir/store"
)

// Status is a schedule as `weir schedules list` and the API show it: its
// definition, whether it is paused (kept in the state store), its next
// tick and its last one.
type Status struct {
	Name      string `json:"name"`
	Cron      string `json:"cron"`
	Zone      string `json:"zone"`
	Selection string `json:"selection"`
	Catchup   string `json:"catchup"`
	// State is active or paused.
	State string `json:"state"`
	// Next is the next tick in the schedule's zone and in UTC (RFC 3339),
	// empty when there is none.
	Next     string    `json:"next"`
	NextUTC  string    `json:"next_utc"`
	LastTick *TickInfo `json:"last_tick"`
}

// TickInfo is a recorded tick: when it was due (in the schedule's zone),
// when it fired (UTC), and its run or why it was skipped.
type TickInfo struct {
	ScheduledAt string `json:"scheduled_at"`
	FiredAt     string `json:"fired_at"`
	RunID       int64  `json:"run_id,omitempty"`
	Skipped     string `json:"skipped,omitempty"`
}

// What says the tick's outcome: "run 7" or "skipped: why".
func (t TickInfo) What() string {
	if t.Skipped != "" {
		return "skipped: " + t.Skipped
	}
	return fmt.Sprintf("run %d", t.RunID)
}

func tickInfo(t store.Tick, s *Schedule) TickInfo {
	return TickInfo{ScheduledAt: t.ScheduledAt.In(s.Location()).Format(time.RFC3339), FiredAt: t.FiredAt.UTC().Format(time.RFC3339),
		RunID: t.RunID, Skipped: t.Skipped}
}

// Statuses returns each schedule's status at now.
func Statuses(ctx context.Context, st store.Store, all []*Schedule, now time.Time) ([]Status, error) {
	states, err := st.ScheduleList(ctx)
	if err != nil {
		return nil, err
	}
	paused := map[string]bool{}
	for _, s := range states {
		paused[s.Name] = s.Paused
	}
	rows := make([]Status, 0, len(all))
	for _, s := range all {
		r := Status{Name: s.Name, Cron: s.Cron, Zone: s.Zone, Selection: s.Selection, Catchup: string(s.CatchupPolicy()), State: "active"}
		if paused[s.Name] {
			r.State = "paused"
		}
		if next := s.Next(now); !next.IsZero() {
			r.Next, r.NextUTC = next.In(s.Location()).Format(time.RFC3339), next.UTC().Format(time.RFC3339)
		}
		last, err := Ticks(ctx, st, s, 1)
		if err != nil {
			return nil, err
		}
		if len(last) > 0 {
			r.LastTick = &last[0]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// Ticks returns a schedule's latest limit ticks, newest first.
func Ticks(ctx context.Context, st store.Store, s *Schedule, limit int) ([]TickInfo, error) {
	list, err := st.TickList(ctx, store.TickListParams{Schedule: s.Name, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]TickInfo, len(list))
	for i, t := range list {
		out[i] = tickInfo(t, s)
	}
	return out, nil
}

// Upcoming is a tick to come and the partitions it will target.
type Upcoming struct {
	Tick       string `json:"tick"`
	TickUTC    string `json:"tick_utc"`
	Partitions string `json:"partitions"`
}

// Preview returns the schedule's next count ticks after now and what each
// targets (an error's text when its Partitions function fails).
func (d *Daemon) Preview(s *Schedule, now time.Time, count int) []Upcoming {
	var rows []Upcoming
	t := now
	for range count {
		if t = s.Next(t); t.IsZero() {
			break
		}
		p, err := d.Target(s, t)
		if err != nil {
			p = "error: " + err.Error()
		}
		rows = append(rows, Upcoming{t.In(s.Location()).Format(time.RFC3339), t.UTC().Format(time.RFC3339), p})
	}
	return rows
}
