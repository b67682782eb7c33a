package weircli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/schedule"
	"github.com/weir-dev/weir/store"
)

// schedules validates the configured schedules against the assets.
func (a *app) schedules() ([]*schedule.Schedule, *schedule.Daemon, error) {
	g, err := a.graph()
	if err != nil {
		return nil, nil, err
	}
	d := &schedule.Daemon{Graph: g, Schedules: a.cfg.Schedules}
	for _, s := range a.cfg.Schedules {
		if err := s.Validate(); err != nil {
			return nil, nil, usageError(err)
		}
		if _, err := g.Select(s.Selection); err != nil {
			return nil, nil, usageError(fmt.Errorf("schedule %s: %w", s.Name, err))
		}
	}
	return a.cfg.Schedules, d, nil
}

// scheduleNamed finds a configured schedule, or says which there are.
func (a *app) scheduleNamed(name string) (*schedule.Schedule, *schedule.Daemon, error) {
	all, d, err := a.schedules()
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, s := range all {
		if s.Name == name {
			return s, d, nil
		}
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return nil, nil, usageError(fmt.Errorf("unknown schedule %q: this binary declares no schedules", name))
	}
	return nil, nil, usageError(fmt.Errorf("unknown schedule %q (schedules: %s)", name, strings.Join(names, ", ")))
}

// scheduleAndStore finds a configured schedule and opens the store (the
// caller closes it).
func (a *app) scheduleAndStore(ctx context.Context, name string) (*schedule.Schedule, store.Store, error) {
	s, _, err := a.scheduleNamed(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s, st, nil
}

func (a *app) schedulesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "schedules", Short: "Cron schedules: when they fire next, what they fired, pause and resume"}
	list := &cobra.Command{
		Use:   "list",
		Short: "Each schedule with its next tick (in its zone and UTC), its last tick and its state",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, _, err := a.schedules()
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			states, err := st.ScheduleList(cmd.Context())
			if err != nil {
				return failedError(err)
			}
			paused := map[string]bool{}
			for _, s := range states {
				paused[s.Name] = s.Paused
			}
			now := a.cfg.Clock.Now()
			rows := make([]scheduleJSON, 0, len(all))
			for _, s := range all {
				r := scheduleJSON{Name: s.Name, Cron: s.Cron, Zone: s.Zone, Selection: s.Selection, Catchup: string(s.CatchupPolicy()), State: "active"}
				if paused[s.Name] {
					r.State = "paused"
				}
				if next := s.Next(now); !next.IsZero() {
					r.Next, r.NextUTC = next.In(s.Location()).Format(time.RFC3339), next.UTC().Format(time.RFC3339)
				}
				last, err := st.TickList(cmd.Context(), store.TickListParams{Schedule: s.Name, Limit: 1})
				if err != nil {
					return failedError(err)
				}
				if len(last) > 0 {
					r.LastTick = &tickJSON{}
					*r.LastTick = newTickJSON(last[0], s)
				}
				rows = append(rows, r)
			}
			if a.output == "json" {
				return a.json(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.cfg.Stdout, "no schedules: declare them in weircli.Config.Schedules")
				return nil
			}
			w := a.table()
			fmt.Fprintln(w, "NAME\tCRON\tZONE\tSTATE\tNEXT (ZONE)\tNEXT (UTC)\tLAST TICK\tLAST")
			for _, r := range rows {
				lastTick, lastWhat := "-", "-"
				if r.LastTick != nil {
					lastTick, lastWhat = r.LastTick.ScheduledAt, r.LastTick.what()
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Cron, r.Zone, r.State, dash(r.Next), dash(r.NextUTC), lastTick, lastWhat)
			}
			return w.Flush()
		},
	}
	var count int
	preview := &cobra.Command{
		Use:   "preview NAME [--count N]",
		Short: "The next ticks of a schedule, in its zone and UTC, and the partitions each targets",
		Args:  exactArgs(1, "one schedule name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 || count > 1000 {
				return usageError(fmt.Errorf("--count %d must be from 1 to 1000", count))
			}
			s, d, err := a.scheduleNamed(args[0])
			if err != nil {
				return err
			}
			type row struct {
				Tick       string `json:"tick"`
				TickUTC    string `json:"tick_utc"`
				Partitions string `json:"partitions"`
			}
			var rows []row
			t := a.cfg.Clock.Now()
			for range count {
				if t = s.Next(t); t.IsZero() {
					break
				}
				p, err := d.Target(s, t)
				if err != nil {
					p = "error: " + err.Error()
				}
				rows = append(rows, row{t.In(s.Location()).Format(time.RFC3339), t.UTC().Format(time.RFC3339), p})
			}
			if a.output == "json" {
				return a.json(rows)
			}
			w := a.table()
			fmt.Fprintf(w, "TICK (%s)\tTICK (UTC)\tPARTITIONS\n", s.Zone)
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\n", r.Tick, r.TickUTC, dash(r.Partitions))
			}
			return w.Flush()
		},
	}
	preview.Flags().IntVar(&count, "count", 10, "how many ticks")
	var limit int
	ticks := &cobra.Command{
		Use:   "ticks NAME [--limit N]",
		Short: "A schedule's tick history, newest first: when each fired and its run, or why it was skipped",
		Args:  exactArgs(1, "one schedule name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usageError(fmt.Errorf("--limit %d must be at least 1", limit))
			}
			s, st, err := a.scheduleAndStore(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.TickList(cmd.Context(), store.TickListParams{Schedule: s.Name, Limit: limit})
			if err != nil {
				return failedError(err)
			}
			rows := make([]tickJSON, len(list))
			for i, t := range list {
				rows[i] = newTickJSON(t, s)
			}
			if a.output == "json" {
				return a.json(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.cfg.Stdout, "schedule %s has no ticks yet (weir serve fires them)\n", s.Name)
				return nil
			}
			w := a.table()
			fmt.Fprintf(w, "SCHEDULED (%s)\tFIRED (UTC)\tOUTCOME\n", s.Zone)
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\n", r.ScheduledAt, r.FiredAt, r.what())
			}
			return w.Flush()
		},
	}
	ticks.Flags().IntVar(&limit, "limit", 20, "how many ticks, newest first")
	setPaused := func(use, short string, paused bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Args:  exactArgs(1, "one schedule name"),
			RunE: func(cmd *cobra.Command, args []string) error {
				s, st, err := a.scheduleAndStore(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				defer st.Close()
				if err := st.ScheduleSetPaused(cmd.Context(), s.Name, paused, a.cfg.Clock.Now()); err != nil {
					return failedError(err)
				}
				state := map[bool]string{true: "paused: its ticks are recorded as skipped until it is resumed", false: "resumed: its next tick fires"}[paused]
				fmt.Fprintf(a.cfg.Stdout, "schedule %s %s\n", s.Name, state)
				return nil
			},
		}
	}
	cmd.AddCommand(list, preview, ticks,
		setPaused("pause", "Pause a schedule (kept in the store): its ticks are skipped until resumed", true),
		setPaused("resume", "Resume a paused schedule: the next tick fires", false))
	return cmd
}

// scheduleJSON is a schedule as `schedules list` shows it.
type scheduleJSON struct {
	Name      string    `json:"name"`
	Cron      string    `json:"cron"`
	Zone      string    `json:"zone"`
	Selection string    `json:"selection"`
	Catchup   string    `json:"catchup"`
	State     string    `json:"state"`
	Next      string    `json:"next"`
	NextUTC   string    `json:"next_utc"`
	LastTick  *tickJSON `json:"last_tick"`
}

// tickJSON is a tick as the CLI shows it.
type tickJSON struct {
	ScheduledAt string `json:"scheduled_at"`
	FiredAt     string `json:"fired_at"`
	RunID       int64  `json:"run_id,omitempty"`
	Skipped     string `json:"skipped,omitempty"`
}

func newTickJSON(t store.Tick, s *schedule.Schedule) tickJSON {
	return tickJSON{ScheduledAt: t.ScheduledAt.In(s.Location()).Format(time.RFC3339), FiredAt: t.FiredAt.UTC().Format(time.RFC3339),
		RunID: t.RunID, Skipped: t.Skipped}
}

func (t tickJSON) what() string {
	if t.Skipped != "" {
		return "skipped: " + t.Skipped
	}
	return fmt.Sprintf("run %d", t.RunID)
}

// validateSchedules reports the configured schedules' problems.
func (a *app) validateSchedules() []string {
	var problems []string
	var names []string
	for _, s := range a.cfg.Schedules {
		if err := s.Validate(); err != nil {
			problems = append(problems, "schedule "+strings.TrimPrefix(err.Error(), schedule.ErrInvalid.Error()+" "))
			continue
		}
		if slices.Contains(names, s.Name) {
			problems = append(problems, fmt.Sprintf("two schedules are named %q", s.Name))
		}
		names = append(names, s.Name)
	}
	return problems
}
