package weircli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/sensor"
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
			out := make([]api.Sensor, 0, len(a.cfg.Sensors))
			for _, s := range a.cfg.Sensors {
				j, err := api.SensorOf(cmd.Context(), st, s)
				if err != nil {
					return failedError(err)
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
			if sensor.Named(a.cfg.Sensors, args[0]) == nil {
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
			out := make([]api.SensorTick, len(list))
			for i, t := range list {
				out[i] = api.SensorTickOf(t)
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
