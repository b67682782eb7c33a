package weircli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/sensor"
	"github.com/weir-dev/weir/store"
)

func (a *app) sensorsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "sensors", Short: "Sensors: what they watch, their cursors, what each evaluation found or why it failed"}
	list := &cobra.Command{
		Use:   "list",
		Short: "Each sensor: its source, selection, interval, cursor and last evaluation",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g, err := a.graph()
			if err != nil {
				return err
			}
			for _, s := range a.cfg.Sensors {
				if err := s.Validate(g); err != nil {
					return usageError(err)
				}
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			out := make([]sensorJSON, 0, len(a.cfg.Sensors))
			for _, s := range a.cfg.Sensors {
				cur, err := st.SensorCursor(cmd.Context(), s.Name)
				if err != nil {
					return failedError(err)
				}
				j := sensorJSON{Name: s.Name, Selection: s.Selection, Source: s.Source.String(), Every: every(s).String(), Cursor: cur, State: "not evaluated yet"}
				ticks, err := st.SensorTickList(cmd.Context(), s.Name, 1)
				if err != nil {
					return failedError(err)
				}
				if len(ticks) > 0 {
					t := sensorTickJSONOf(ticks[0])
					j.Last, j.State = &t, "ok"
					if t.Error != "" {
						j.State = "failing"
					}
				}
				out = append(out, j)
			}
			if a.output == "json" {
				return a.json(out)
			}
			if len(out) == 0 {
				fmt.Fprintln(a.cfg.Stdout, "no sensors (weircli.Config.Sensors)")
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "SENSOR\tSELECTION\tEVERY\tSTATE\tLAST EVALUATED\tSOURCE")
			for _, j := range out {
				last := "-"
				if j.Last != nil {
					last = j.Last.EvaluatedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, j.Selection, j.Every, j.State, last, j.Source)
			}
			return tw.Flush()
		},
	}
	var limit int
	ticks := &cobra.Command{
		Use:   "ticks NAME",
		Short: "A sensor's evaluations, newest first: what arrived, the run it started, or its error",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit == 0 || limit < -1 {
				return usageError(fmt.Errorf("--limit %d must be positive, or -1 for all", limit))
			}
			found := false
			for _, s := range a.cfg.Sensors {
				found = found || s.Name == args[0]
			}
			if !found {
				return usageError(fmt.Errorf("no sensor %q (sensors: %q)", args[0], sensor.Names(a.cfg.Sensors)))
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.SensorTickList(cmd.Context(), args[0], limit)
			if err != nil {
				return failedError(err)
			}
			out := make([]sensorTickJSON, len(list))
			for i, t := range list {
				out[i] = sensorTickJSONOf(t)
			}
			if a.output == "json" {
				return a.json(out)
			}
			tw := a.table()
			fmt.Fprintln(tw, "EVALUATED\tARRIVALS\tPARTITIONS\tRUN\tRESULT")
			for _, t := range out {
				run, result := "-", "nothing new"
				if t.RunID != 0 {
					run, result = fmt.Sprint(t.RunID), "started a run"
				}
				switch {
				case t.Error != "":
					result = "failed: " + t.Error
				case t.CursorFrom == "":
					result = "started watching"
				case t.RunID == 0 && t.Partitions != "":
					result = "already queued or not partitions yet"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", t.EvaluatedAt.Format(time.RFC3339), t.Arrivals, dash(t.Partitions), run, result)
			}
			return tw.Flush()
		},
	}
	ticks.Flags().IntVar(&limit, "limit", 20, "ticks to show, newest first; -1 for all")
	cmd.AddCommand(list, ticks)
	return cmd
}

func every(s *sensor.Sensor) time.Duration {
	if s.Every <= 0 {
		return 30 * time.Second
	}
	return s.Every
}

// sensorJSON is a sensor in -o json output.
type sensorJSON struct {
	Name      string          `json:"name"`
	Selection string          `json:"selection"`
	Source    string          `json:"source"`
	Every     string          `json:"every"`
	Cursor    string          `json:"cursor"`
	State     string          `json:"state"`
	Last      *sensorTickJSON `json:"last_tick,omitempty"`
}

// sensorTickJSON is a sensor tick in -o json output.
type sensorTickJSON struct {
	ID          int64     `json:"id"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	CursorFrom  string    `json:"cursor_from"`
	CursorTo    string    `json:"cursor_to"`
	Arrivals    int64     `json:"arrivals"`
	Partitions  string    `json:"partitions,omitempty"`
	RunID       int64     `json:"run_id,omitempty"`
	Error       string    `json:"error,omitempty"`
}

func sensorTickJSONOf(t store.SensorTick) sensorTickJSON {
	return sensorTickJSON{ID: t.ID, EvaluatedAt: t.EvaluatedAt.UTC(), CursorFrom: t.CursorFrom, CursorTo: t.CursorTo, Arrivals: t.Arrivals,
		Partitions: t.Partitions, RunID: t.RunID, Error: t.Error}
}
