package weircli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-dev/weir/store"
)

// workerJSON is one worker as `workers list -o json` shows it.
type workerJSON struct {
	ID                  string            `json:"id"`
	Host                string            `json:"host"`
	PID                 int               `json:"pid"`
	Pools               []string          `json:"pools"`
	Concurrency         int               `json:"concurrency"`
	State               store.WorkerState `json:"state"`
	StartedAt           time.Time         `json:"started_at"`
	LastHeartbeatAt     time.Time         `json:"last_heartbeat_at"`
	StoppedAt           *time.Time        `json:"stopped_at"`
	LeaseTimeoutSeconds float64           `json:"lease_timeout_seconds"`
	RunningTasks        int               `json:"running_tasks"`
}

func (a *app) workersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "workers", Short: "List the workers that lease tasks from the store, and the schedule daemons"}
	var all bool
	list := &cobra.Command{
		Use:   "list [--all]",
		Short: "List workers: host, pools, concurrency, last heartbeat, running tasks; lost ones stopped heartbeating",
		Long: `workers list shows each worker that registered with the state store: where it runs,
which pools it serves, when it last heartbeated and how many tasks it runs now. A
worker that has not heartbeated for its lease timeout without saying it stopped is
lost (killed, or its host is gone); its leases expire and other workers take its
tasks. Stopped workers are shown with --all. Schedule daemons (weir serve) are
listed too, named "daemon ...", with concurrency 0.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			ws, err := st.WorkerList(ctx, store.WorkerListParams{Active: !all})
			if err != nil {
				return failedError(err)
			}
			now := a.cfg.Clock.Now()
			out := make([]workerJSON, 0, len(ws))
			for _, w := range ws {
				j := workerJSON{ID: w.ID, Host: w.Host, PID: w.PID, Pools: w.Pools, Concurrency: w.Concurrency, State: w.State(now),
					StartedAt: w.StartedAt.UTC(), LastHeartbeatAt: w.HeartbeatAt.UTC(), LeaseTimeoutSeconds: w.LeaseTimeout.Seconds(), RunningTasks: w.Running}
				if j.Pools == nil {
					j.Pools = []string{}
				}
				if !w.StoppedAt.IsZero() {
					t := w.StoppedAt.UTC()
					j.StoppedAt = &t
				}
				out = append(out, j)
			}
			if a.output == "json" {
				return a.json(out)
			}
			if len(out) == 0 {
				fmt.Fprintln(a.cfg.Stdout, "no workers (start one with "+a.cfg.Name+" worker; --all shows stopped ones)")
				return nil
			}
			w := a.table()
			fmt.Fprintln(w, "WORKER\tSTATE\tHOST\tPID\tPOOLS\tCONCURRENCY\tRUNNING\tSTARTED\tLAST HEARTBEAT")
			for _, j := range out {
				pools := strings.Join(j.Pools, ",")
				if pools == "" {
					pools = "all"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s ago\n", j.ID, j.State, j.Host, j.PID, pools, j.Concurrency, j.RunningTasks,
					fmtTime(j.StartedAt), now.Sub(j.LastHeartbeatAt).Round(time.Second))
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&all, "all", false, "also workers that stopped")
	cmd.AddCommand(list)
	return cmd
}
