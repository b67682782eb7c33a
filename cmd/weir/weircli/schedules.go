package weircli

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
			rows, err := schedule.Statuses(cmd.Context(), st, all, a.cfg.Clock.Now())
			if err != nil {
				return failedError(err)
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
					lastTick, lastWhat = r.LastTick.ScheduledAt, r.LastTick.What()
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
			rows := d.Preview(s, a.cfg.Clock.Now(), count)
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
			rows, err := schedule.Ticks(cmd.Context(), st, s, limit)
			if err != nil {
				return failedError(err)
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
				fmt.Fprintf(w, "%s\t%s\t%s\n", r.ScheduledAt, r.FiredAt, r.What())
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
