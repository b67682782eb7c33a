package weircli

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/alert"
	"github.com/weir-dev/weir/api"
	"github.com/weir-dev/weir/store"
)

// alertService returns the alert service over st, nil without
// Config.Alerts.
func (a *app) alertService(st store.Store) *alert.Service {
	if a.cfg.Alerts == nil {
		return nil
	}
	g, err := a.graph()
	if err != nil {
		return nil // every command that runs tasks has refused an invalid graph already
	}
	return &alert.Service{Store: st, Graph: g, Config: a.cfg.Alerts, Clock: a.cfg.Clock, Logger: a.logger()}
}

func (a *app) alertsConfig() (*alert.Config, error) {
	if a.cfg.Alerts == nil {
		return nil, usageError(fmt.Errorf("this binary has no alerts configured (weircli.Config.Alerts)"))
	}
	g, err := a.graph()
	if err != nil {
		return nil, err
	}
	if err := a.cfg.Alerts.Validate(g); err != nil {
		return nil, usageError(fmt.Errorf("alerts: %w", err))
	}
	return a.cfg.Alerts, nil
}

func (a *app) alertsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "alerts", Short: "Alerts: where they go (list), a test message (test), what was sent (history)",
		Long: `weir serve finds what to alert on (runs that failed, tasks that failed for good,
breakers that tripped, backfills that finished, freshness deadlines missed and met,
schedule ticks skipped), records each event once per sink in the state store and
delivers it, retrying with backoff, once per event across restarts and failover.`}
	list := &cobra.Command{
		Use:   "list",
		Short: "The sinks, the rules that route events to them, and the freshness deadlines",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.alertsConfig()
			if err != nil {
				return err
			}
			lines := cfg.Describe()
			if a.output == "json" {
				return a.json(map[string][]string{"alerts": lines})
			}
			for _, l := range lines {
				fmt.Fprintln(a.cfg.Stdout, l)
			}
			return nil
		},
	}
	test := &cobra.Command{
		Use:   "test SINK",
		Short: "Send a test alert to a sink now (not through the outbox) and say whether it arrived",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.alertsConfig()
			if err != nil {
				return err
			}
			sink, ok := cfg.Sinks[args[0]]
			if !ok {
				names := make([]string, 0, len(cfg.Sinks))
				for n := range cfg.Sinks {
					names = append(names, n)
				}
				slices.Sort(names)
				return usageError(fmt.Errorf("no alert sink %q (sinks: %q)", args[0], names))
			}
			now := a.cfg.Clock.Now()
			e := alert.Event{ID: fmt.Sprintf("test:%d", now.UnixNano()), Kind: alert.Test, Severity: alert.Info, At: now,
				Message: "a test alert from " + a.cfg.Name + " alerts test"}
			if err := sink.Send(cmd.Context(), e); err != nil {
				return failedError(fmt.Errorf("alert sink %s (%s): %w", args[0], sink, err))
			}
			fmt.Fprintf(a.cfg.Stdout, "sent a test alert to %s (%s)\n", args[0], sink)
			return nil
		},
	}
	var limit int
	var sink string
	var undelivered bool
	history := &cobra.Command{
		Use:   "history",
		Short: "Alerts recorded, newest first: delivered, or waiting and why",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit == 0 || limit < -1 {
				return usageError(fmt.Errorf("--limit %d must be positive, or -1 for all", limit))
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			list, err := st.AlertList(cmd.Context(), store.AlertListParams{Sink: sink, Undelivered: undelivered, Limit: limit})
			if err != nil {
				return failedError(err)
			}
			if a.output == "json" {
				out := make([]api.Alert, len(list))
				for i, al := range list {
					out[i] = api.AlertOf(al)
				}
				return a.json(out)
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tAT\tSINK\tKIND\tSEVERITY\tSTATE\tMESSAGE")
			for _, al := range list {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", al.ID, al.At.UTC().Format(time.RFC3339), al.Sink, al.Kind, al.Severity, alertState(al), al.Message)
			}
			return tw.Flush()
		},
	}
	history.Flags().IntVar(&limit, "limit", 50, "alerts to show, newest first; -1 for all")
	history.Flags().StringVar(&sink, "sink", "", "only alerts to this sink")
	history.Flags().BoolVar(&undelivered, "undelivered", false, "only alerts not delivered yet")
	cmd.AddCommand(list, test, history)
	return cmd
}

// alertState is "delivered" or "pending" with its attempts and last error.
func alertState(al store.Alert) string {
	if !al.DeliveredAt.IsZero() {
		return "delivered"
	}
	if al.Attempts == 0 {
		return "pending"
	}
	return fmt.Sprintf("pending (%d attempts: %s)", al.Attempts, al.LastError)
}
